//! A short account of a valid configuration (to be written).
