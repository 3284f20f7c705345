//! A short account of a valid configuration: subnets, pools, classes and what each class hands
//! a matching client (to be written).

use super::model::Config;

pub fn render(_config: &Config) -> String {
    String::new()
}
