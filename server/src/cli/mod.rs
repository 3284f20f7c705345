//! The command-line faces of the library: argument types and what each subcommand prints.

pub mod check;
pub mod control;
pub mod privileges;
pub mod serve;
