//! A fake host for unit tests: Services, ConfigMaps, ServiceAccounts and
//! Secret names per namespace, a log of every call in order, and
//! namespaces whose lookups fail.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use crate::object_lookup::{ConfigMapData, ObjectSource};
use crate::service_lookup::{ServiceInfo, ServiceSource};

/// An in-memory cluster that records the host calls made against it.
#[derive(Default)]
pub struct FakeCluster {
    services: BTreeMap<String, Vec<ServiceInfo>>,
    config_maps: BTreeMap<(String, String), ConfigMapData>,
    accounts: BTreeSet<(String, String)>,
    secrets: BTreeSet<(String, String)>,
    /// Every lookup fails with this error.
    error: Option<String>,
    calls: RefCell<Vec<String>>,
}

impl FakeCluster {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn service(mut self, namespace: &str, name: &str, ports: &[i32]) -> Self {
        self.services
            .entry(namespace.into())
            .or_default()
            .push(ServiceInfo {
                name: name.into(),
                ports: ports.to_vec(),
                ..Default::default()
            });
        self
    }

    pub fn config_map(mut self, namespace: &str, name: &str, data: &[(&str, &str)]) -> Self {
        let data =
            ConfigMapData::from_data(data.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.config_maps
            .insert((namespace.into(), name.into()), data);
        self
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

    pub fn account(mut self, namespace: &str, name: &str) -> Self {
        self.accounts.insert((namespace.into(), name.into()));
        self
    }

    pub fn secret(mut self, namespace: &str, name: &str) -> Self {
        self.secrets.insert((namespace.into(), name.into()));
        self
    }

    /// Every lookup fails with `error`.
    pub fn failing(mut self, error: &str) -> Self {
        self.error = Some(error.into());
        self
    }

    /// The calls made so far: `get ConfigMap ns/name`, `list Service ns`...
    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: String) -> Result<(), String> {
        self.calls.borrow_mut().push(call);
        self.error.clone().map_or(Ok(()), Err)
    }
}

impl ServiceSource for FakeCluster {
    fn services_in(&self, namespace: &str) -> Result<Vec<ServiceInfo>, String> {
        self.record(format!("list Service {namespace}"))?;
        Ok(self.services.get(namespace).cloned().unwrap_or_default())
    }
}

impl ObjectSource for FakeCluster {
    fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMapData>, String> {
        self.record(format!("get ConfigMap {namespace}/{name}"))?;
        Ok(self
            .config_maps
            .get(&(namespace.to_string(), name.to_string()))
            .cloned())
    }

    fn service_account_exists(&self, namespace: &str, name: &str) -> Result<bool, String> {
        self.record(format!("get ServiceAccount {namespace}/{name}"))?;
        Ok(self
            .accounts
            .contains(&(namespace.to_string(), name.to_string())))
    }

    fn secret_names(&self, namespace: &str) -> Result<Vec<String>, String> {
        self.record(format!("list Secret {namespace}"))?;
        Ok(self
            .secrets
            .iter()
            .filter(|(ns, _)| ns == namespace)
            .map(|(_, name)| name.clone())
            .collect())
    }
}
