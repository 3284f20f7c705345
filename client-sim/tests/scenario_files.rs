//! Scenario files that are wrong say where: TOML's line and column, for a value of the
//! wrong type as for a value of the right type that means nothing (a firmware, a MAC, a
//! stage, a Kea version, a keyboard input).

use bootsim::scenario::Scenario;

fn load_error(text: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, text).unwrap();
    let err = Scenario::load(&file).unwrap_err().to_string();
    (err, file.display().to_string())
}

#[test]
fn a_broken_scenario_file_names_its_line() {
    let (err, file) = load_error("name = \"x\"\n[server]\nconfig = 3\n");
    assert!(
        err.starts_with(&format!("{file}: TOML parse error at line 3, column 10")),
        "{err}"
    );
}

const HEAD: &str = "name = \"x\"\n[server]\nconfig = \"k.conf\"\n";

#[test]
fn a_value_that_means_nothing_names_its_line_and_column() {
    let cases = [
        (
            "[[client]]\nfirmware = \"uefi-x65\"\n[expect]\n",
            "line 5, column 12",
            "unknown variant `uefi-x65`",
        ),
        (
            "[[client]]\nfirmware = \"bios\"\nmac = \"52:54:00:zz:00:01\"\n[expect]\n",
            "line 6, column 7",
            "`52:54:00:zz:00:01` is not a MAC address",
        ),
        (
            "[[client]]\nfirmware = \"bios\"\ninput = [\"item:a\", \"knob:x\"]\n[expect]\n",
            "line 6, column 9",
            "knob:x",
        ),
        (
            "[[client]]\nfirmware = \"bios\"\n[expect]\nstage = \"PXE DCHP\"\n",
            "line 7, column 9",
            "unknown stage 'PXE DCHP'",
        ),
        (
            "[[client]]\nfirmware = \"bios\"\n[expect]\noutcome = \"boot\"\n",
            "line 7, column 11",
            "unknown variant `boot`",
        ),
        (
            "[[client]]\nfirmware = \"bios\"\n[expect]\nleased_range = \"10.0.0.1 .. 10.0.0.9\"\n",
            "line 7, column 16",
            "bad range",
        ),
        (
            "[link]\nclient = \"fast\"\n[[client]]\nfirmware = \"bios\"\n[expect]\n",
            "line 5, column 10",
            "\"fast\": not a rate",
        ),
        (
            "[link]\nserver = \"1gbit\"\nswitch_buffer = \"-1\"\n[[client]]\nfirmware = \"bios\"\n[expect]\n",
            "line 6, column 17",
            "not a size",
        ),
        (
            "[link]\nlatency = \"soon\"\n[[client]]\nfirmware = \"bios\"\n[expect]\n",
            "line 5, column 11",
            "not a duration",
        ),
        (
            "[link]\nclients = \"1gbit\"\n[[client]]\nfirmware = \"bios\"\n[expect]\n",
            "line 5, column 1",
            "unknown field `clients`",
        ),
    ];
    for (tail, place, says) in cases {
        let (err, file) = load_error(&format!("{HEAD}{tail}"));
        assert!(
            err.starts_with(&format!("{file}: TOML parse error at {place}")),
            "{err}"
        );
        assert!(err.contains(says), "{err}");
    }
    let (err, file) = load_error(
        "name = \"x\"\n[server]\nconfig = \"k.conf\"\nkea_version = \"2.3\"\n[[client]]\nfirmware = \"bios\"\n[expect]\n",
    );
    assert!(
        err.starts_with(&format!("{file}: TOML parse error at line 4, column 15")),
        "{err}"
    );
    assert!(err.contains("unknown Kea version '2.3'"), "{err}");
}
