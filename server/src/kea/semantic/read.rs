//! Reading typed values out of a grammar-checked tree: the grammar already guaranteed each
//! key's JSON type, so these only pick values out.

use std::net::Ipv4Addr;

use crate::kea::diag::Span;
use crate::kea::json::{Node, Value};

pub fn string(map: &Node, key: &str) -> Option<String> {
    map.get(key).and_then(Node::as_str).map(str::to_string)
}

/// An integer that fits u32 (Kea stores lifetimes and timers as uint32).
pub fn uint(map: &Node, key: &str) -> Option<u32> {
    map.get(key)
        .and_then(Node::as_int)
        .and_then(|n| u32::try_from(n).ok())
}

pub fn boolean(map: &Node, key: &str) -> Option<bool> {
    map.get(key).and_then(Node::as_bool)
}

pub fn float(map: &Node, key: &str) -> Option<f64> {
    match map.get(key).map(|n| &n.value) {
        Some(Value::Float(f)) => Some(*f),
        Some(Value::Int(i)) => Some(*i as f64),
        _ => None,
    }
}

/// The classes a scope or pool evaluates after subnet selection: `require-client-classes`,
/// which Kea 3.0 renamed `evaluate-additional-classes` (keeping the old key, deprecated).
pub fn required_classes(map: &Node) -> Vec<String> {
    let mut names = strings(map, "require-client-classes");
    names.extend(strings(map, "evaluate-additional-classes"));
    names
}

pub fn strings(map: &Node, key: &str) -> Vec<String> {
    map.get(key)
        .and_then(Node::items)
        .map(|items| {
            items
                .iter()
                .filter_map(Node::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

pub fn ipv4(map: &Node, key: &str) -> Option<Ipv4Addr> {
    map.get(key)
        .and_then(Node::as_str)
        .and_then(|s| s.trim().parse().ok())
}

/// The span of `key` itself: where Kea's parser created a map or list element.
pub fn key_span<'a>(map: &'a Node, key: &str) -> &'a Span {
    map.entries()
        .and_then(|entries| entries.iter().find(|e| e.key == key))
        .map(|e| &e.key_span)
        .unwrap_or(&map.span)
}
