//! Shared by the integration tests (and, by path, by the fuzz targets).
//! The fake host is `dangling_references_policy::test_support`.

pub mod kubelet;
