//! Every message the policy returns is worded here, one submodule per
//! check: the checks return typed findings and never format text.

pub mod kubeconfig;
pub mod services;
pub mod workload;
