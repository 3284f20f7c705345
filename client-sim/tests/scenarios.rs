//! Every scenario in scenarios/ runs here as a test named after its file, through the same
//! one line a user's repository writes: its expectations must hold, and its transcript
//! (deterministic: seeded ids and faults, virtual time) is snapshotted, so any change in
//! what a firmware does or a server answers shows up as a diff.

bootsim::scenario_tests!("../scenarios/*.toml");
