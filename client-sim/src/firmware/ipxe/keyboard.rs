//! The scripted keyboard: what a person at the console would type, in order, so scripts with
//! `choose`, `prompt` and `read` run without anyone there. Each input is consumed by the
//! first command that waits for one; when none is left, iPXE's own timeouts decide (or the
//! script waits forever, as a real machine with nobody at it would).
//!
//! Key names follow iPXE's keys (include/ipxe/keys.h: `CR`, `ESC`, `CTRL_B`...) and
//! `parse_key` (src/core/parseopt.c: one character is itself, anything else a number).

use std::collections::VecDeque;

/// One thing typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `item:LABEL` / `--choose LABEL`: the menu item `choose` picks, by its label.
    Item(String),
    /// `key:KEY` / `--keys KEY`: a named key (`enter`, `esc`, `ctrl-b`, `0x02`, one
    /// character) for `prompt` and menus, or a line of text for `read`.
    Key(String),
}

impl Input {
    /// Reads `item:LABEL` or `key:KEY` (the scenario file's form).
    pub fn parse(text: &str) -> Result<Input, String> {
        match text.split_once(':') {
            Some(("item", label)) if !label.is_empty() => Ok(Input::Item(label.into())),
            Some(("key", key)) if !key.is_empty() => Ok(Input::Key(key.into())),
            _ => Err(format!(
                "input `{text}`: expected `item:LABEL` (a menu item) or `key:KEY` (a key or text)"
            )),
        }
    }

    /// The form [`Input::parse`] reads.
    pub fn text(&self) -> String {
        match self {
            Input::Item(l) => format!("item:{l}"),
            Input::Key(k) => format!("key:{k}"),
        }
    }
}

/// iPXE's key codes for the keys scripts wait for (include/ipxe/keys.h).
pub mod code {
    pub const CTRL_B: u32 = 0x02;
    pub const CTRL_C: u32 = 0x03;
    pub const LF: u32 = 0x0a;
    pub const CR: u32 = 0x0d;
    pub const ESC: u32 = 0x1b;
}

/// The code of a named key: `enter`, `esc`, `ctrl-X`, `space`, `tab`, `backspace`, a number
/// (`0x02`, as `prompt --key` takes it) or a single character. None: not one key (text).
pub fn key_code(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    let named = match lower.as_str() {
        "enter" | "return" | "cr" => Some(code::CR),
        "esc" | "escape" => Some(code::ESC),
        "space" => Some(0x20),
        "tab" => Some(0x09),
        "backspace" => Some(0x08),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    if let Some(letter) = lower.strip_prefix("ctrl-") {
        let mut chars = letter.chars();
        return match (chars.next(), chars.next()) {
            (Some(c @ 'a'..='z'), None) => Some(c as u32 - 'a' as u32 + 1),
            _ => None,
        };
    }
    parse_key(name)
}

impl std::str::FromStr for Input {
    type Err = String;

    fn from_str(text: &str) -> Result<Input, String> {
        Input::parse(text)
    }
}

/// iPXE's `parse_key` (src/core/parseopt.c): a single character is its own code, anything
/// else is an integer (`0x02`, `2`). Used for `prompt --key` and `item --key`.
pub fn parse_key(text: &str) -> Option<u32> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.clone().next()) {
        return Some(c as u32);
    }
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The inputs not yet consumed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyboard {
    queue: VecDeque<Input>,
}

impl Keyboard {
    pub fn new(inputs: impl IntoIterator<Item = Input>) -> Keyboard {
        Keyboard {
            queue: inputs.into_iter().collect(),
        }
    }

    pub fn pop(&mut self) -> Option<Input> {
        self.queue.pop_front()
    }

    pub fn peek(&self) -> Option<&Input> {
        self.queue.front()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_ipxe_codes() {
        assert_eq!(key_code("enter"), Some(code::CR));
        assert_eq!(key_code("ctrl-b"), Some(code::CTRL_B));
        assert_eq!(key_code("Ctrl-C"), Some(code::CTRL_C));
        assert_eq!(key_code("0x02"), Some(code::CTRL_B));
        assert_eq!(key_code("s"), Some(u32::from(b's')));
        assert_eq!(key_code("hello"), None);
        assert_eq!(Input::parse("item:linux"), Ok(Input::Item("linux".into())));
        assert_eq!(Input::parse("key:a:b"), Ok(Input::Key("a:b".into())));
        assert!(Input::parse("linux").is_err());
    }
}
