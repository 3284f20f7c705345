//! JSON written as Kea writes it on its control channel (src/lib/cc/data.cc, `Element::str`
//! through `toJSON`): maps with their keys sorted (Kea keeps them in a std::map) as
//! `{ "a": 1, "b": 2 }`, lists as `[ 1, 2 ]`, empty ones as `{  }` and `[  ]`, strings with
//! data.cc's escapes. Scripts that compare Kea's answers as text keep working.

use std::fmt::Write;

use serde_json::Value;

/// `value` in Kea's layout.
pub fn to_kea_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push_str("[ ");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push_str(" ]");
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{ ");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_value(out, &map[key]);
            }
            out.push_str(" }");
        }
    }
}

/// StringElement::toJSON's escapes: `"` `\` `/`-free, control characters as \b \f \n \r \t,
/// other bytes below 0x20 as \u00XX.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout_matches_keas() {
        let v =
            json!({"result": 0, "arguments": {"b": [1, 2], "a": {}, "c": []}, "text": "a\"b\n"});
        assert_eq!(
            to_kea_string(&v),
            r#"{ "arguments": { "a": {  }, "b": [ 1, 2 ], "c": [  ] }, "result": 0, "text": "a\"b\n" }"#
        );
    }
}
