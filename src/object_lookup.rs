//! Asks the host for the objects a Pod template names: ConfigMaps (their
//! data), ServiceAccounts (existence) and Secrets (names only, never
//! content).
//!
//! `get_resource` is a live GET (cached 5 s by the host) and has no typed
//! "not found": a missing object is a host error whose text is exactly
//! `Cannot find v1/<Kind> named '<name>' inside of namespace 'Some("<ns>")'`
//! (policy-evaluator's wording). That exact text, and nothing looser, is
//! read as "missing"; every other error means "cannot look". Secrets are
//! listed instead, with a field mask that keeps only `metadata.name`, so
//! that no Secret content ever reaches the policy.

use serde_json::Value;

use crate::host_call::{
    self, GetResourceRequest, ListAllResourcesRequest, ListResourcesByNamespaceRequest,
};
use crate::json_fields::{list, nested, parse_object, string};
use crate::json_pull::Reader;
use crate::json_tree::Map;
use crate::quote::clip;
use crate::service_lookup::pull_name;

/// What the checks read of a ConfigMap. Sorted vectors rather than maps:
/// they are built once and searched, and every map type instantiated
/// grows the wasm that ships to every cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMapData {
    /// `data`, sorted by key: what `configMapKeyRef` and `envFrom` read.
    pub data: Vec<(String, String)>,
    /// The keys of `binaryData`, sorted: a volume's `items` may name them too.
    pub binary_keys: Vec<String>,
}

impl ConfigMapData {
    /// A ConfigMap holding `data` (in any order) and no binary data.
    /// A key given twice keeps its first value.
    pub fn from_data(data: impl IntoIterator<Item = (String, String)>) -> ConfigMapData {
        let mut sorted = ConfigMapData::default();
        for (key, value) in data {
            sorted.insert(key, value);
        }
        sorted
    }

    /// Adds `key` at its sorted place unless it is already there. Keys
    /// usually arrive sorted (serde_json's map is a B-tree), so this is an
    /// append; an insertion rather than a sort keeps one sort routine less
    /// in the wasm that ships to every cluster.
    fn insert(&mut self, key: String, value: String) {
        if let Err(at) = slot(&self.data, &key) {
            self.data.insert(at, (key, value));
        }
    }

    /// The `data` entry for `key`, as stored.
    pub fn entry(&self, key: &str) -> Option<(&str, &str)> {
        slot(&self.data, key)
            .ok()
            .map(|i| (self.data[i].0.as_str(), self.data[i].1.as_str()))
    }

    /// The `data` value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entry(key).map(|(_, v)| v)
    }

    /// Whether a volume can project `key` (from `data` or `binaryData`).
    pub fn has_volume_key(&self, key: &str) -> bool {
        self.get(key).is_some() || self.binary_keys.iter().any(|k| k == key)
    }

    /// Every key of `data` and `binaryData`, sorted.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self
            .data
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(self.binary_keys.iter().map(String::as_str))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// Where `key` is (`Ok`) or would go (`Err`) in `pairs`, sorted by key:
/// the search of every sorted vector this crate keeps in place of a map.
pub fn slot<T>(pairs: &[(String, T)], key: &str) -> Result<usize, usize> {
    pairs.binary_search_by(|(k, _)| k.as_str().cmp(key))
}

/// Source of the objects a workload names; faked in tests.
#[cfg_attr(test, mockall::automock)]
pub trait ObjectSource {
    /// The ConfigMap `name` of `namespace`; `Ok(None)` when it does not exist.
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMapData>, String>;
    /// Whether ServiceAccount `name` exists in `namespace`.
    fn service_account_exists(&self, namespace: &str, name: &str) -> Result<bool, String>;
    /// The names of the Secrets of `namespace`, sorted (empty when the
    /// namespace does not exist).
    fn secret_names(&self, namespace: &str) -> Result<Vec<String>, String>;
    /// The names of the `api_version`/`kind` objects of `namespace` (of
    /// the whole cluster when `namespace` is empty: a cluster-scoped
    /// kind), sorted; empty when the namespace does not exist.
    fn object_names(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
    ) -> Result<Vec<String>, String>;
}

/// Field masks of the ConfigMap GET: its data, never its managed fields.
pub const CONFIG_MAP_FIELD_MASKS: &[&str] = &["binaryData", "data", "metadata.name"];
/// Field masks of the ServiceAccount GET: its name is all that matters.
pub const SERVICE_ACCOUNT_FIELD_MASKS: &[&str] = &["metadata.name"];
/// Field masks of the Secret listing: names only, never content.
pub const SECRET_FIELD_MASKS: &[&str] = &["metadata.name"];

/// The host request for one namespaced `v1` object, exactly as sent.
pub fn get_request<'a>(kind: &'a str, namespace: &'a str, name: &'a str) -> GetResourceRequest<'a> {
    GetResourceRequest {
        api_version: "v1",
        kind,
        name,
        namespace: Some(namespace),
        disable_cache: false,
        field_masks: Some(match kind {
            "ConfigMap" => CONFIG_MAP_FIELD_MASKS,
            _ => SERVICE_ACCOUNT_FIELD_MASKS,
        }),
    }
}

/// The host request listing the Secret names of `namespace`, exactly as sent.
pub fn list_secrets_request(namespace: &str) -> ListResourcesByNamespaceRequest<'_> {
    ListResourcesByNamespaceRequest {
        api_version: "v1",
        kind: "Secret",
        namespace,
        label_selector: None,
        field_selector: None,
        field_masks: Some(SECRET_FIELD_MASKS),
    }
}

/// Field masks of every listing by name (the reference graph's kinds):
/// names only, so no content crosses the host boundary.
pub const NAME_FIELD_MASKS: &[&str] = &["metadata.name"];

/// The host request listing the names of `kind` in `namespace`, exactly as sent.
pub fn list_names_request<'a>(
    api_version: &'a str,
    kind: &'a str,
    namespace: &'a str,
) -> ListResourcesByNamespaceRequest<'a> {
    ListResourcesByNamespaceRequest {
        api_version,
        kind,
        namespace,
        label_selector: None,
        field_selector: None,
        field_masks: Some(NAME_FIELD_MASKS),
    }
}

/// The host request listing the names of cluster-scoped `kind`, exactly as sent.
pub fn list_all_names_request<'a>(
    api_version: &'a str,
    kind: &'a str,
) -> ListAllResourcesRequest<'a> {
    ListAllResourcesRequest {
        api_version,
        kind,
        label_selector: None,
        field_selector: None,
        field_masks: Some(NAME_FIELD_MASKS),
    }
}

/// Whether a host error is the host's "not found" for this very object.
pub fn is_not_found(error: &str, kind: &str, namespace: &str, name: &str) -> bool {
    error.contains(&format!(
        "Cannot find v1/{kind} named '{name}' inside of namespace 'Some(\"{namespace}\")'"
    ))
}

/// Reads objects through the Kubewarden host (policy-server or kwctl),
/// over the transport it holds.
pub struct HostObjects<'t>(pub &'t dyn host_call::Transport);

impl HostObjects<'_> {
    /// GETs `kind/name`; `Ok(None)` when the host says it does not exist.
    fn get(&self, kind: &str, namespace: &str, name: &str) -> Result<Option<Vec<u8>>, String> {
        match host_call::kubernetes(self.0, "get_resource", &get_request(kind, namespace, name)) {
            Ok(answer) => Ok(Some(answer)),
            // The not-found text is on the error's first line, which is kept.
            Err(e) if is_not_found(&e, kind, namespace, name) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl ObjectSource for HostObjects<'_> {
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMapData>, String> {
        self.get("ConfigMap", namespace, name)?
            .map(|answer| parse_config_map(&answer))
            .transpose()
    }

    fn service_account_exists(&self, namespace: &str, name: &str) -> Result<bool, String> {
        Ok(self.get("ServiceAccount", namespace, name)?.is_some())
    }

    fn secret_names(&self, namespace: &str) -> Result<Vec<String>, String> {
        let answer = host_call::kubernetes(
            self.0,
            "list_resources_by_namespace",
            &list_secrets_request(namespace),
        )?;
        parse_names(&answer)
    }

    fn object_names(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
    ) -> Result<Vec<String>, String> {
        let answer = match namespace {
            "" => host_call::kubernetes(
                self.0,
                "list_resources_all",
                &list_all_names_request(api_version, kind),
            )?,
            namespace => host_call::kubernetes(
                self.0,
                "list_resources_by_namespace",
                &list_names_request(api_version, kind, namespace),
            )?,
        };
        parse_names(&answer)
    }
}

/// Reads a ConfigMap answer (masked or not) into what the checks need;
/// `data` values must be strings, as the API guarantees.
pub fn parse_config_map(answer: &[u8]) -> Result<ConfigMapData, String> {
    pull_config_map(answer).map_or_else(|| config_map_via_serde_json(answer), Ok)
}

/// [`parse_config_map`] with serde_json alone: what the pull reader
/// leaves to it, and the reference the `answers` fuzz target holds the
/// pull reader to.
pub fn config_map_via_serde_json(answer: &[u8]) -> Result<ConfigMapData, String> {
    let error = |e: String| format!("cannot read the ConfigMap returned by the host: {e}");
    let mut object = parse_object(answer).map_err(error)?;
    let mut take = |key: &str| match object.remove(key) {
        None | Some(Value::Null) => Ok(serde_json::Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(error(format!("{key} is not an object"))),
    };
    let (data, binary_data) = (take("data")?, take("binaryData")?);
    let mut config_map = ConfigMapData::default();
    for (key, value) in data {
        match value {
            Value::String(value) => config_map.insert(key, value),
            _ => return Err(error(format!("data.{} is not a string", clip(&key)))),
        }
    }
    // Sorted whatever map order serde_json was built with.
    config_map.binary_keys = binary_data.into_iter().map(|(k, _)| k).collect();
    config_map.binary_keys.sort_unstable();
    Ok(config_map)
}

/// [`parse_config_map`] on the pull reader, for the usual answer whose
/// `data` and `binaryData` keys come sorted and once each (the API server
/// writes maps in key order); `None` for everything else, which the
/// serde_json path reads.
fn pull_config_map(answer: &[u8]) -> Option<ConfigMapData> {
    /// The members of an object, keys strictly increasing, each value read
    /// by `value`; `null` is none.
    fn sorted<T>(
        r: &mut Reader<'_>,
        value: fn(&mut Reader<'_>) -> Option<T>,
    ) -> Option<Vec<(String, T)>> {
        let mut members: Vec<(String, T)> = Vec::new();
        r.nullable(|r| {
            r.object(|r, key| {
                if members.last().is_some_and(|(last, _)| last.as_str() >= key) {
                    return None;
                }
                members.push((key.to_string(), value(r)?));
                Some(())
            })
        })?;
        Some(members)
    }
    Reader::document(answer, |r| {
        let mut config_map = ConfigMapData::default();
        r.object(|r, key| {
            match key {
                "data" => config_map.data = sorted(r, |r| r.string().map(String::from))?,
                "binaryData" => {
                    config_map.binary_keys = sorted(r, |r| r.skip())?
                        .into_iter()
                        .map(|(key, ())| key)
                        .collect();
                }
                _ => r.skip()?,
            }
            Some(())
        })?;
        Some(config_map)
    })
}

/// Reads the names of a `<Kind>List` answer, sorted; every other field is ignored.
pub fn parse_names(answer: &[u8]) -> Result<Vec<String>, String> {
    match pull_names(answer) {
        Some(mut names) => {
            names.sort_unstable();
            Ok(names)
        }
        None => names_via_serde_json(answer),
    }
}

/// [`parse_names`] with serde_json alone: what the pull reader leaves to
/// it, and the reference the `answers` fuzz target holds the pull reader
/// to.
pub fn names_via_serde_json(answer: &[u8]) -> Result<Vec<String>, String> {
    let read = || -> Result<Vec<String>, String> {
        list(&Map::from(&parse_object(answer)?), "items", |item| {
            Ok(nested(item, "metadata", |m| {
                Ok(string(m, "name")?.unwrap_or_default())
            })?
            .unwrap_or_default())
        })
    };
    let mut names =
        read().map_err(|e| format!("cannot read the list returned by the host: {e}"))?;
    names.sort_unstable();
    Ok(names)
}

/// The names of a `<Kind>List` on the pull reader, in document order.
fn pull_names(answer: &[u8]) -> Option<Vec<String>> {
    Reader::document(answer, |r| {
        let mut names = Vec::new();
        r.object(|r, key| {
            match key {
                "items" => {
                    names = r
                        .nullable(|r| {
                            let mut items = Vec::new();
                            r.array(|r| {
                                let mut name = None;
                                r.object(|r, key| {
                                    match key {
                                        "metadata" => name = r.nullable(pull_name)?.flatten(),
                                        _ => r.skip()?,
                                    }
                                    Some(())
                                })?;
                                items.push(name.unwrap_or_default());
                                Some(())
                            })?;
                            Some(items)
                        })?
                        .unwrap_or_default();
                }
                _ => r.skip()?,
            }
            Some(())
        })?;
        Some(names)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[test]
    fn requests_match_replay_sessions() {
        assert_eq!(
            serde_json::to_value(get_request("ConfigMap", "shop", "app-config")).unwrap(),
            json!({"api_version": "v1", "kind": "ConfigMap", "name": "app-config",
                   "namespace": "shop", "disable_cache": false,
                   "field_masks": ["binaryData", "data", "metadata.name"]})
        );
        assert_eq!(
            serde_json::to_value(list_secrets_request("shop")).unwrap(),
            json!({"api_version": "v1", "kind": "Secret", "namespace": "shop",
                   "label_selector": null, "field_selector": null,
                   "field_masks": ["metadata.name"]})
        );
    }

    #[rstest]
    #[case::the_hosts_wording(
        r#"Host error: Callback evaluation failure: Cannot find v1/ConfigMap named 'app-config' inside of namespace 'Some("shop")'"#,
        true
    )]
    #[case::another_name(
        r#"Cannot find v1/ConfigMap named 'other' inside of namespace 'Some("shop")'"#,
        false
    )]
    #[case::another_namespace(
        r#"Cannot find v1/ConfigMap named 'app-config' inside of namespace 'Some("dev")'"#,
        false
    )]
    #[case::forbidden(
        r#"Callback evaluation failure: configmaps "app-config" is forbidden"#,
        false
    )]
    #[case::client_down(
        "Callback evaluation failure: kube::Client was not initialized properly",
        false
    )]
    fn not_found_is_the_exact_wording(#[case] error: &str, #[case] missing: bool) {
        assert_eq!(
            is_not_found(error, "ConfigMap", "shop", "app-config"),
            missing
        );
    }

    #[test]
    fn config_maps_and_names_as_the_host_sends_them() {
        let cm = parse_config_map(
            br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},
                 "data":{"a":"1"},"binaryData":{"b":"AAE="}}"#,
        )
        .unwrap();
        assert!(cm.get("a") == Some("1") && cm.has_volume_key("b") && !cm.has_volume_key("c"));
        assert_eq!(cm.keys(), vec!["a", "b"]);
        assert!(parse_config_map(br#"{"data":{"a":1}}"#).is_err());
        let names = parse_names(
            br#"{"kind":"SecretList","items":[{"metadata":{"name":"tls"}},{"metadata":{"name":"db"}}]}"#,
        )
        .unwrap();
        assert_eq!(names.into_iter().collect::<Vec<_>>(), vec!["db", "tls"]);
        assert!(parse_config_map(br#""x""#).is_err() && parse_names(b"{").is_err());
    }

    /// Answers the pull reader takes (first rows) or leaves to serde_json;
    /// both paths give the same ConfigMap, names, or error.
    #[rstest]
    #[case::sorted(
        r#"{"metadata":{"name":"c"},"data":{"a":"1","b":"x\ny"},"binaryData":{"k":"AAE="}}"#,
        true
    )]
    #[case::nulls(r#"{"data":null,"binaryData":{"k":null}}"#, true)]
    #[case::repeated_data(r#"{"data":{"a":"1"},"data":{"b":"2"}}"#, true)]
    #[case::unsorted(r#"{"data":{"b":"1","a":"2"}}"#, false)]
    #[case::repeated_key(r#"{"data":{"a":"1","a":"2"}}"#, false)]
    #[case::not_a_string(r#"{"data":{"a":1}}"#, false)]
    #[case::data_not_an_object(r#"{"data":[]}"#, false)]
    fn config_maps_read_alike(#[case] answer: &str, #[case] pulled: bool) {
        assert_eq!(pull_config_map(answer.as_bytes()).is_some(), pulled);
        assert_eq!(
            parse_config_map(answer.as_bytes()),
            config_map_via_serde_json(answer.as_bytes())
        );
    }

    #[rstest]
    #[case::list(
        r#"{"kind":"SecretList","items":[{"metadata":{"name":"tls"}},{"metadata":{"name":"db"}}]}"#,
        true
    )]
    #[case::repeated(
        r#"{"items":[{"metadata":{"name":"a"},"metadata":null}],"items":[{}]}"#,
        true
    )]
    #[case::name_not_a_string(r#"{"items":[{"metadata":{"name":1}}]}"#, false)]
    #[case::exponent(r#"{"items":[],"x":1e5}"#, false)]
    fn names_read_alike(#[case] answer: &str, #[case] pulled: bool) {
        assert_eq!(pull_names(answer.as_bytes()).is_some(), pulled);
        assert_eq!(
            parse_names(answer.as_bytes()),
            names_via_serde_json(answer.as_bytes())
        );
    }
}
