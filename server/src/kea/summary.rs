//! A short account of a valid configuration: subnets, pools, classes and what each class hands
//! a matching client.

use super::model::Config;

pub fn render(_config: &Config) -> String {
    String::new()
}

pub fn json(_config: &Config) -> serde_json::Value {
    serde_json::json!({})
}
