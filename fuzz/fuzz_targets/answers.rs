//! The host's answers read by the pull reader (`json_pull`) against the
//! same bytes read by serde_json alone, on arbitrary bytes (seeds: Service
//! lists, ConfigMaps and name lists as hosts send them, in
//! fuzz/corpus/answers). Invariant: each reader gives exactly what its
//! serde_json path gives, the same value or the same error text.

#![no_main]

use dangling_references_policy::object_lookup::{
    config_map_via_serde_json, names_via_serde_json, parse_config_map, parse_names,
};
use dangling_references_policy::service_lookup::{parse_service_list, service_list_via_serde_json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    assert_eq!(parse_service_list(data), service_list_via_serde_json(data));
    assert_eq!(parse_config_map(data), config_map_via_serde_json(data));
    assert_eq!(parse_names(data), names_via_serde_json(data));
});
