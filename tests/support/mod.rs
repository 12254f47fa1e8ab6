//! Shared by the integration tests (and, by path, by the fuzz targets).

pub mod fake_host;
pub mod kubelet;
