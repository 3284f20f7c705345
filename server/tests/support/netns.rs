//! Network namespaces and veth pairs for tests (to be written).
