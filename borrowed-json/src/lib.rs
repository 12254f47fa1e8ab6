//! The JSON reader of dangling-references-policy: a pull reader
//! ([`json_pull`]) for the `validate` payload and the host's answers, and a
//! tree that borrows its strings from the text ([`json_tree`]) for the
//! objects under review. Both read as serde_json reads, and step aside to
//! serde_json for whatever they do not vouch for.
//!
//! A crate of its own so that it can be built for speed while the rest of
//! `policy.wasm` is built for size: reading the request is most of an
//! evaluation's time, in a few KB of code (the workspace's
//! `[profile.release.package.borrowed-json]`).

pub mod json_pull;
pub mod json_tree;
