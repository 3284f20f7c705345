//! The evaluator's trace mode and the explanations read from it: per-term values, and the
//! reasons a class test is false for one packet (an absent option, bytes compared with text
//! and the fix, a substring outside its value, a member() not yet assigned, an evaluation
//! error).

use netbootd::kea::expr::explain::{explain, render};
use netbootd::kea::expr::{
    self, evaluate, evaluate_traced, ClassLookup, ClassSet, OptionLookup, Packet, Term,
};
use netbootd::kea::options::Registry;
use netbootd::kea::KeaVersion;
use netbootd::wire::dhcp::Message;

struct Std(Registry);

impl OptionLookup for Std {
    fn option_code(&self, name: &str) -> Option<u16> {
        self.0.by_name("dhcp4", name).map(|d| d.code)
    }
}

struct Any;

impl ClassLookup for Any {
    fn is_defined(&self, _: &str) -> bool {
        true
    }
}

fn parse(text: &str) -> expr::Expr {
    expr::parse(
        text,
        KeaVersion::V2_2,
        &Std(Registry::new(KeaVersion::V2_2)),
        &Any,
    )
    .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn discover(options: &[(u8, &[u8])]) -> Message {
    let mut m = Message::default();
    m.options.push(53, &[1]);
    for (code, data) in options {
        m.options.push(*code, data);
    }
    m.options.end();
    m
}

fn uefi() -> Message {
    discover(&[(60, b"PXEClient:Arch:00007:UNDI:003016"), (93, &[0, 7])])
}

fn reasons(text: &str, msg: &Message) -> (Result<bool, String>, Vec<String>) {
    let e = parse(text);
    let pkt = Packet::broadcast(msg, "eth1", 300);
    let x = explain(&e, &pkt, &ClassSet::default());
    (x.result, x.reasons)
}

#[test]
fn trace_mode_records_every_term_and_agrees_with_evaluate() {
    let e = parse("substring(option[60].hex,0,9) == 'PXEClient' and option[93].hex == 0x0007");
    let msg = uefi();
    let pkt = Packet::broadcast(&msg, "eth1", 300);
    let (result, root) = evaluate_traced(&e, &pkt, &ClassSet::default());
    assert_eq!(result, evaluate(&e, &pkt, &ClassSet::default()));
    assert_eq!(result, Ok(true));
    assert_eq!(root.value.as_deref(), Ok(&b"true"[..]));
    assert_eq!(root.children.len(), 2);
    let left = &root.children[0];
    let substring = &left.children[0];
    assert!(matches!(substring.term, Term::Str(_)));
    assert_eq!(substring.value.as_deref(), Ok(&b"PXEClient"[..]));
    assert_eq!(
        substring.children[0].value.as_deref(),
        Ok(&b"PXEClient:Arch:00007:UNDI:003016"[..])
    );
    assert_eq!(
        root.children[1].children[0].value.as_deref(),
        Ok(&[0, 7][..])
    );
}

#[test]
fn hex_option_compared_with_text_is_never_true_and_the_fix_is_given() {
    let (result, why) = reasons("option[93].hex == '00:07'", &uefi());
    assert_eq!(result, Ok(false));
    assert_eq!(
        why,
        [
            "`option[93].hex` is 2 byte(s) (0x0007) and '00:07' is a 5-character string: bytes \
          never equal that text, so this is never true; write `option[93].hex == 0x0007`"
        ]
    );
    let (_, why) = reasons("option[client-system].hex == '7'", &uefi());
    assert!(
        why[0].ends_with("write `option[93].hex == 0x0007`"),
        "{why:?}"
    );
}

#[test]
fn an_option_the_firmware_does_not_send_is_named() {
    let (result, why) = reasons("substring(option[77].hex,0,4) == 'iPXE'", &uefi());
    assert_eq!(result, Ok(false));
    assert_eq!(
        why,
        ["option 77 is absent from this packet, so `option[77].hex` is ''"]
    );
    let (_, why) = reasons("option[77].exists and option[93].hex == 0x0007", &uefi());
    assert_eq!(why, ["option 77 is absent from this packet"]);
}

#[test]
fn a_substring_outside_its_value_is_explained() {
    let (result, why) = reasons("substring(option[93].hex,4,2) == 0x0007", &uefi());
    assert_eq!(result, Ok(false));
    assert_eq!(
        why[0],
        "`substring(option[93].hex, 4, 2)` is '': position 4 (length 2) lies outside the \
         2-byte value 0x0007"
    );
}

#[test]
fn a_prefix_compared_whole_suggests_substring() {
    let (_, why) = reasons(
        "option[vendor-class-identifier].text == 'PXEClient'",
        &uefi(),
    );
    assert_eq!(
        why,
        [
            "`option[60].text` is 'PXEClient:Arch:00007:UNDI:003016', which only begins with \
          'PXEClient'; to compare the start, write `substring(option[60].text, 0, 9) == \
          'PXEClient'`"
        ]
    );
}

#[test]
fn member_and_errors_are_reported() {
    let e = parse("member('ipxe') or not option[93].exists");
    let msg = uefi();
    let pkt = Packet::broadcast(&msg, "eth1", 300);
    let x = explain(&e, &pkt, &ClassSet::default());
    assert_eq!(x.false_members, ["ipxe"]);
    assert_eq!(
        x.reasons,
        [
            "class 'ipxe' is not assigned when this test runs",
            "`option[93].exists` is true, so `not option[93].exists` is false",
        ]
    );
    let (result, why) = reasons("uint16totext(option[60].hex) == '7'", &uefi());
    assert_eq!(result, Err("Can not convert to valid uint16.".into()));
    assert!(
        why[0].contains("fails: Can not convert to valid uint16."),
        "{why:?}"
    );
    assert_eq!(
        render(&parse("not (option[77].exists or pkt4.mac == 0x01)")),
        "not (option[77].exists or pkt4.mac == 0x01)"
    );
}

#[test]
fn a_hex_literal_of_another_length_or_a_mac_written_as_text_is_never_true() {
    let (result, why) = reasons("option[93].hex == 0x07", &uefi());
    assert_eq!(result, Ok(false));
    assert_eq!(
        why,
        [
            "`option[93].hex` is 2 byte(s) (0x0007) and 0x07 is 1 byte(s): values of different \
          lengths never compare equal, so this is never true; write `option[93].hex == 0x0007`"
        ]
    );
    let (_, why) = reasons("pkt4.mac == '52:54:00:12:34:56'", &uefi());
    assert!(
        why[0].ends_with("write `pkt4.mac == 0x525400123456`"),
        "{why:?}"
    );
}
