//! Every scenario file of this repository is a test named after it, with a snapshot of its
//! transcript in tests/snapshots/.

bootsim::scenario_tests!("scenarios/*.toml");
