//! The one fake Kubewarden host of the crate's unit tests, its integration
//! tests (`tests/`) and the fuzz targets (`fuzz/`): Services, ConfigMaps,
//! ServiceAccounts and Secret names per namespace, lookups that fail (in
//! some namespaces or everywhere), and a log of every call in order.
//!
//! Compiled for the unit tests and with the `test-support` feature (which
//! the integration tests and the fuzz targets enable); never part of
//! `policy.wasm`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::object_lookup::{ConfigMapData, ObjectSource};
use crate::service_lookup::{ServiceInfo, ServiceSource, Services};
use crate::{Host, evaluate};

/// An in-memory cluster that records the host calls made against it.
#[derive(Default, Debug)]
pub struct FakeHost {
    /// Services by namespace.
    pub services: BTreeMap<String, Vec<ServiceInfo>>,
    /// ConfigMaps by (namespace, name).
    pub config_maps: BTreeMap<(String, String), ConfigMapData>,
    /// ServiceAccounts, as (namespace, name).
    pub accounts: BTreeSet<(String, String)>,
    /// Secret names, as (namespace, name).
    pub secrets: BTreeSet<(String, String)>,
    /// Other objects listed by name, as (kind, namespace, name); the
    /// namespace is empty for cluster-scoped kinds.
    pub named: BTreeSet<(String, String, String)>,
    /// Every lookup in these namespaces fails with the error given.
    pub failing: BTreeMap<String, String>,
    /// Every lookup fails with this error.
    pub fail_all: Option<String>,
    calls: RefCell<Vec<Call>>,
}

/// One host call and whether the host answered it with an error.
///
/// A call equals (`==`) the text of what it asked (`what`), whether it
/// failed or not, so that a log compares with a list of texts:
/// `assert_eq!(host.calls(), ["get ConfigMap shop/app"])` asserts which
/// calls were made, in which order; compare `failed` separately, or whole
/// [`Call`]s.
#[derive(Clone, PartialEq, Eq)]
pub struct Call {
    /// `list Service ns`, `get ConfigMap ns/name`, `get ServiceAccount ns/name`,
    /// `list Secret ns`, `list PersistentVolumeClaim ns`, `list ClusterRole`.
    pub what: String,
    /// Whether the host answered with an error.
    pub failed: bool,
}

impl PartialEq<&str> for Call {
    fn eq(&self, what: &&str) -> bool {
        self.what == *what
    }
}

/// `"get ConfigMap shop/app"`, with ` (failed)` after a failed call.
impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.what)?;
        if self.failed {
            f.write_str(" (failed)")?;
        }
        Ok(())
    }
}

impl FakeHost {
    /// An empty cluster whose lookups all succeed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds Service `name` in `namespace` with these ports.
    pub fn service(mut self, namespace: &str, name: &str, ports: &[i32]) -> Self {
        self.add_service(
            namespace,
            ServiceInfo {
                name: name.into(),
                ports: ports.to_vec(),
                ..Default::default()
            },
        );
        self
    }

    /// Adds `service` in `namespace`.
    pub fn add_service(&mut self, namespace: &str, service: ServiceInfo) {
        self.services
            .entry(namespace.into())
            .or_default()
            .push(service);
    }

    /// Adds (or replaces) ConfigMap `name` with this `data`.
    pub fn config_map(mut self, namespace: &str, name: &str, data: &[(&str, &str)]) -> Self {
        self.add_config_map(
            namespace,
            name,
            data.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        self
    }

    /// Adds (or replaces) ConfigMap `name` with this `data`.
    pub fn add_config_map(
        &mut self,
        namespace: &str,
        name: &str,
        data: impl IntoIterator<Item = (String, String)>,
    ) {
        self.config_maps.insert(
            (namespace.into(), name.into()),
            ConfigMapData::from_data(data),
        );
    }

    /// Adds `keys` to the `binaryData` of ConfigMap `name` (created empty
    /// when it is not there yet).
    pub fn binary_data(mut self, namespace: &str, name: &str, keys: &[&str]) -> Self {
        let data = self
            .config_maps
            .entry((namespace.into(), name.into()))
            .or_default();
        data.binary_keys.extend(keys.iter().map(|k| k.to_string()));
        data.binary_keys.sort_unstable();
        data.binary_keys.dedup();
        self
    }

    /// Adds ServiceAccount `name` in `namespace`.
    pub fn account(mut self, namespace: &str, name: &str) -> Self {
        self.accounts.insert((namespace.into(), name.into()));
        self
    }

    /// Adds a Secret named `name` in `namespace`.
    pub fn secret(mut self, namespace: &str, name: &str) -> Self {
        self.secrets.insert((namespace.into(), name.into()));
        self
    }

    /// Adds an object of `kind` named `name` in `namespace` (`""` for a
    /// cluster-scoped kind), listed by name (PVCs, workloads, Roles,
    /// ClusterRoles; ServiceAccounts added with [`FakeHost::account`]
    /// are listed too).
    pub fn object(mut self, kind: &str, namespace: &str, name: &str) -> Self {
        self.named
            .insert((kind.into(), namespace.into(), name.into()));
        self
    }

    /// Every lookup in `namespace` fails with `error`.
    pub fn failing_in(mut self, namespace: &str, error: &str) -> Self {
        self.failing.insert(namespace.into(), error.into());
        self
    }

    /// Every lookup fails with `error`.
    pub fn failing(mut self, error: &str) -> Self {
        self.fail_all = Some(error.into());
        self
    }

    /// The calls made so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// Forgets the calls made so far.
    pub fn clear_calls(&self) {
        self.calls.borrow_mut().clear();
    }

    /// `validate`'s response to `payload`, as JSON, with this host
    /// answering the policy's host calls; the call log holds only this
    /// evaluation's calls afterwards.
    pub fn respond(&self, payload: &[u8]) -> serde_json::Value {
        self.clear_calls();
        let response = evaluate(
            payload,
            &Host {
                services: self,
                objects: self,
            },
        );
        serde_json::to_value(&response).expect("responses serialize")
    }

    fn record(&self, what: String, namespace: &str) -> Result<(), String> {
        let error = self
            .fail_all
            .clone()
            .or_else(|| self.failing.get(namespace).cloned());
        self.calls.borrow_mut().push(Call {
            what,
            failed: error.is_some(),
        });
        error.map_or(Ok(()), Err)
    }
}

impl ServiceSource for FakeHost {
    fn services_in(&self, namespace: &str) -> Result<Services, String> {
        self.record(format!("list Service {namespace}"), namespace)?;
        Ok(self
            .services
            .get(namespace)
            .map_or_else(|| Services::from([]), |s| s.as_slice().into()))
    }
}

impl ObjectSource for FakeHost {
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMapData>, String> {
        self.record(format!("get ConfigMap {namespace}/{name}"), namespace)?;
        Ok(self
            .config_maps
            .get(&(namespace.to_string(), name.to_string()))
            .cloned())
    }

    fn service_account_exists(&self, namespace: &str, name: &str) -> Result<bool, String> {
        self.record(format!("get ServiceAccount {namespace}/{name}"), namespace)?;
        Ok(self
            .accounts
            .contains(&(namespace.to_string(), name.to_string())))
    }

    fn secret_names(&self, namespace: &str) -> Result<Vec<String>, String> {
        self.record(format!("list Secret {namespace}"), namespace)?;
        Ok(self
            .secrets
            .iter()
            .filter(|(ns, _)| ns == namespace)
            .map(|(_, name)| name.clone())
            .collect())
    }

    fn object_names(
        &self,
        _api_version: &str,
        kind: &str,
        ns: &str,
    ) -> Result<Vec<String>, String> {
        match ns {
            "" => self.record(format!("list {kind}"), "")?,
            ns => self.record(format!("list {kind} {ns}"), ns)?,
        }
        let mut names: Vec<String> = self
            .named
            .iter()
            .filter(|(k, n, _)| k == kind && n == ns)
            .map(|(_, _, name)| name.clone())
            .collect();
        if kind == "ServiceAccount" {
            names.extend(
                self.accounts
                    .iter()
                    .filter(|(n, _)| n == ns)
                    .map(|(_, name)| name.clone()),
            );
        }
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }
}
