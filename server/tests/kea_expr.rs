//! Kea's classification language: the parser against real `kea-dhcp4 -t` on every expression
//! of fixtures/kea/expr/expressions.txt (same verdict, same error text), and evaluation cases
//! taken from Kea's src/lib/eval/tests/evaluate_unittest.cc and token_unittest.cc.

mod support;

use std::path::Path;

use netbootd::kea::check::check_file;
use netbootd::kea::expr::{
    self, classify, evaluate, ClassDef, ClassLookup, ClassSet, OptionLookup, Packet,
};
use netbootd::kea::options::Registry;
use netbootd::kea::system::LocalSystem;
use netbootd::kea::KeaVersion;
use netbootd::wire::dhcp::Message;

fn expressions() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/kea/expr/expressions.txt");
    std::fs::read_to_string(path)
        .expect("expressions.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn parser_agrees_with_kea_2_2_on_every_expression() {
    if !support::require_tool("kea-dhcp4") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut differences = Vec::new();
    let mut refused = 0;
    for (i, e) in expressions().iter().enumerate() {
        let config = serde_json::json!({"Dhcp4": {"client-classes": [
            {"name": "prior"}, {"name": "c", "test": e}
        ]}});
        let path = dir.path().join(format!("e{i}.json"));
        std::fs::write(&path, config.to_string()).unwrap();
        let kea = support::kea_check(&path);
        let ours = check_file(&path, KeaVersion::V2_2, &LocalSystem).unwrap();
        let our_error = ours.error.as_ref().map(|d| d.to_string());
        refused += usize::from(!kea.valid);
        if kea.valid != ours.is_valid() || kea.error != our_error {
            differences.push(format!("{e}\n  kea: {:?}\n  our: {our_error:?}", kea.error));
        }
    }
    assert!(refused >= 15, "only {refused} refused expressions");
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

struct Std(Registry);

impl OptionLookup for Std {
    fn option_code(&self, name: &str) -> Option<u16> {
        self.0.by_name("dhcp4", name).map(|d| d.code)
    }
}

struct Defined(&'static [&'static str]);

impl ClassLookup for Defined {
    fn is_defined(&self, class: &str) -> bool {
        expr::is_builtin_class(class) || self.0.contains(&class)
    }
}

fn parse(text: &str) -> expr::Expr {
    expr::parse(
        text,
        KeaVersion::V2_2,
        &Std(Registry::new(KeaVersion::V2_2)),
        &Defined(&[]),
    )
    .unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn discover(options: &[(u8, &[u8])]) -> Message {
    let mut m = Message {
        xid: 0x1234_5678,
        ..Message::default()
    };
    m.chaddr[..6].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    m.options.push(53, &[1]);
    for (code, data) in options {
        m.options.push(*code, data);
    }
    m.options.end();
    m
}

fn eval(text: &str, msg: &Message) -> Result<bool, expr::EvalError> {
    let pkt = Packet::broadcast(msg, "eth1", 300);
    evaluate(&parse(text), &pkt, &ClassSet::default())
}

/// The guide's two classes (kea-dhcp4.conf lines 31-41) against the three clients of a mixed
/// network: EDK2's PXE DISCOVER (93 = 0x0007, no 77), iPXE's (77 = "iPXE"), a BIOS one.
#[test]
fn the_guides_classes_pick_the_right_boot_file() {
    let ipxe_test = "option[user-class].exists and substring(option[user-class].hex,0,4) == 'iPXE' and option[client-system].hex == 0x0007";
    let pxe_test = "not option[user-class].exists and option[client-system].hex == 0x0007";
    let uefi = discover(&[(60, b"PXEClient:Arch:00007:UNDI:003016"), (93, &[0, 7])]);
    let ipxe = discover(&[
        (60, b"PXEClient:Arch:00007:UNDI:003010"),
        (77, b"iPXE"),
        (93, &[0, 7]),
    ]);
    let bios = discover(&[(60, b"PXEClient:Arch:00000:UNDI:002001"), (93, &[0, 0])]);
    assert_eq!(eval(ipxe_test, &uefi), Ok(false));
    assert_eq!(eval(pxe_test, &uefi), Ok(true));
    assert_eq!(eval(ipxe_test, &ipxe), Ok(true));
    assert_eq!(eval(pxe_test, &ipxe), Ok(false));
    assert_eq!(eval(ipxe_test, &bios), Ok(false));
    assert_eq!(eval(pxe_test, &bios), Ok(false));

    let (a, b) = (parse(ipxe_test), parse(pxe_test));
    let defs = [
        ClassDef {
            name: "iPXE script",
            test: Some(&a),
            only_if_required: false,
        },
        ClassDef {
            name: "PXE UEFI",
            test: Some(&b),
            only_if_required: false,
        },
    ];
    let classes = |m: &Message| {
        classify(&defs, &Packet::broadcast(m, "eth1", 300), false)
            .iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        classes(&uefi),
        [
            "ALL",
            "VENDOR_CLASS_PXEClient:Arch:00007:UNDI:003016",
            "PXE UEFI",
            "UNKNOWN"
        ]
    );
    assert_eq!(
        classes(&ipxe),
        [
            "ALL",
            "VENDOR_CLASS_PXEClient:Arch:00007:UNDI:003010",
            "iPXE script",
            "UNKNOWN"
        ]
    );
    assert_eq!(
        classes(&bios),
        [
            "ALL",
            "VENDOR_CLASS_PXEClient:Arch:00000:UNDI:002001",
            "UNKNOWN"
        ]
    );
}

/// evaluate_unittest.cc / token_unittest.cc: values and errors as Kea computes them.
#[test]
fn kea_evaluation_semantics() {
    let m = discover(&[
        (60, b"PXEClient:Arch:00007"),
        (93, &[0, 7]),
        (82, &[1, 3, b'a', b'b', b'c', 2, 1, b'x']),
    ]);
    for (text, want) in [
        ("option[93].hex == 0x0007", true),
        ("option[93].hex == 0x07", false),
        ("option[93].hex == 7", false),
        ("option[93].hex == 0x00000007", false),
        ("option[77].hex == ''", true),
        ("option[60].text == 'PXEClient:Arch:00007'", true),
        ("substring(option[60].hex,0,9) == 'PXEClient'", true),
        ("substring(option[60].hex,-5,all) == '00007'", true),
        ("substring(option[60].hex,100,2) == ''", true),
        ("split(option[60].hex,':',3) == '00007'", true),
        ("relay4[1].hex == 'abc'", true),
        ("relay4[2].exists and not relay4[3].exists", true),
        ("pkt4.mac == 0x525400123456", true),
        ("pkt4.hlen == 6", true),
        ("pkt4.msgtype == 1", true),
        ("pkt4.transid == 0x12345678", true),
        ("pkt.iface == 'eth1'", true),
        ("pkt.len == 300", true),
        ("pkt.src == 0.0.0.0", true),
        ("hexstring(pkt4.mac, ':') == '52:54:00:12:34:56'", true),
        ("uint16totext(option[93].hex) == '7'", true),
        ("addrtotext(pkt4.giaddr) == '0.0.0.0'", true),
        (
            "ifelse(option[77].exists, 'ipxe', 'firmware') == 'firmware'",
            true,
        ),
        ("concat('PXE', 'Client') + ':' == 'PXEClient:'", true),
        ("member('ALL')", false),
    ] {
        assert_eq!(eval(text, &m), Ok(want), "{text}");
    }
    // TokenInt8ToText of a 2-byte value, TokenIpAddressToText of 3 bytes: EvalTypeError.
    assert_eq!(
        eval("int8totext(option[93].hex) == '7'", &m)
            .unwrap_err()
            .to_string(),
        "Can not convert to valid int8."
    );
    assert!(eval("addrtotext(0x010203) == ''", &m).is_err());
}

#[test]
fn releases_differ_in_their_tokens() {
    let std = Std(Registry::new(KeaVersion::V3_0));
    let none = Defined(&[]);
    // lcase/ucase: lexer.ll at Kea-2.6.0; sand/sor/sifelse/match: Kea-3.0.0.
    assert!(expr::parse("lcase('A') == 'a'", KeaVersion::V2_4, &std, &none).is_err());
    assert!(expr::parse("lcase('A') == 'a'", KeaVersion::V2_6, &std, &none).is_ok());
    assert!(expr::parse("'a' == 'a' sand 'b' == 'b'", KeaVersion::V2_6, &std, &none).is_err());
    assert!(expr::parse("'a' == 'a' sand 'b' == 'b'", KeaVersion::V3_0, &std, &none).is_ok());
    let e = expr::parse("member('later')", KeaVersion::V3_0, &std, &none).unwrap_err();
    assert_eq!(
        e.to_string(),
        "<string>:1.8-14: Not defined client class 'later'"
    );
}
