//! A fake Kubewarden host for the integration tests and the fuzz targets
//! (`fuzz/src/lib.rs` includes this file): Services, ConfigMaps,
//! ServiceAccounts and Secret names per namespace, namespaces whose every
//! lookup fails, and a log of every call in order.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use dangling_references_policy::object_lookup::{ConfigMapData, ObjectSource};
use dangling_references_policy::service_lookup::{ServiceInfo, ServiceSource};
use dangling_references_policy::{Host, evaluate};

/// An in-memory cluster that records the host calls made against it.
#[derive(Default, Debug)]
pub struct FakeHost {
    pub services: BTreeMap<String, Vec<ServiceInfo>>,
    pub config_maps: BTreeMap<(String, String), ConfigMapData>,
    pub accounts: BTreeSet<(String, String)>,
    pub secrets: BTreeSet<(String, String)>,
    /// Every lookup in these namespaces fails with the error given.
    pub failing: BTreeMap<String, String>,
    /// Every lookup fails with this error.
    pub fail_all: Option<String>,
    calls: RefCell<Vec<Call>>,
}

/// One host call and whether the host answered it with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `list Service ns`, `get ConfigMap ns/name`, `get ServiceAccount ns/name`, `list Secret ns`.
    pub what: String,
    pub failed: bool,
}

impl FakeHost {
    pub fn new() -> Self {
        Self::default()
    }

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

    pub fn add_service(&mut self, namespace: &str, service: ServiceInfo) {
        self.services
            .entry(namespace.into())
            .or_default()
            .push(service);
    }

    pub fn config_map(mut self, namespace: &str, name: &str, data: &[(&str, &str)]) -> Self {
        self.add_config_map(
            namespace,
            name,
            data.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        );
        self
    }

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

    pub fn account(mut self, namespace: &str, name: &str) -> Self {
        self.accounts.insert((namespace.into(), name.into()));
        self
    }

    pub fn secret(mut self, namespace: &str, name: &str) -> Self {
        self.secrets.insert((namespace.into(), name.into()));
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

    /// The calls made so far, as text.
    pub fn call_log(&self) -> Vec<String> {
        self.calls.borrow().iter().map(|c| c.what.clone()).collect()
    }

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
    fn services_in(&self, namespace: &str) -> Result<Vec<ServiceInfo>, String> {
        self.record(format!("list Service {namespace}"), namespace)?;
        Ok(self.services.get(namespace).cloned().unwrap_or_default())
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
}
