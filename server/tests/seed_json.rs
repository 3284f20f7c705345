//! The guide's kea-dhcp4.conf read by our JSON dialect: the four warnings real Kea 2.2 prints,
//! plus the fifth comma (65.39), which Kea never reaches because it stops at 62.9 first.
use netbootd::kea::json;

#[test]
fn seed_config_warns_where_kea_does() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/seed/kea-dhcp4.conf"
    );
    let doc = json::read_file(std::path::Path::new(path)).unwrap();
    assert!(doc.error.is_none(), "{:?}", doc.error);
    let at: Vec<String> = doc
        .warnings
        .iter()
        .map(|w| {
            let s = w.span.as_ref().unwrap();
            format!("{}.{}", s.start.line, s.start.col)
        })
        .collect();
    assert_eq!(at, ["35.43", "42.10", "54.18", "55.14", "65.39"]);
    let root = doc.root.unwrap();
    let loggers = root.get("Dhcp4").unwrap().get("loggers").unwrap();
    let key = &loggers.items().unwrap()[0].entries().unwrap()[1];
    assert_eq!(key.key, "output-options");
    assert_eq!(
        (
            key.key_span.start.line,
            key.key_span.start.col,
            key.key_span.end.col
        ),
        (62, 9, 24)
    );
}
