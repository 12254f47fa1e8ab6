//! Asks the host which Services exist: one `list_resources_by_namespace`
//! call per namespace, with field masks so that only the fields the check
//! reads cross the host boundary.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Service;
use kubewarden_policy_sdk::host_capabilities::kubernetes::{
    ListResourcesByNamespaceRequest, list_resources_by_namespace,
};

/// What the check needs to know about one Service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceInfo {
    pub name: String,
    /// `clusterIP: None`: DNS resolves to the pods, any port works.
    pub headless: bool,
    /// `type: ExternalName`: a CNAME, any port works.
    pub external_name: bool,
    pub ports: Vec<i32>,
}

impl ServiceInfo {
    /// Whether a client can connect to `port` through this Service.
    pub fn accepts_port(&self, port: u16) -> bool {
        self.headless || self.external_name || self.ports.contains(&i32::from(port))
    }
}

/// Source of the Services of a namespace; mocked in unit tests.
#[cfg_attr(test, mockall::automock)]
pub trait ServiceSource {
    /// The Services of `namespace` (empty when the namespace does not exist).
    fn services_in(&self, namespace: &str) -> Result<Vec<ServiceInfo>, String>;
}

/// The fields of a Service the check reads.
pub const SERVICE_FIELD_MASKS: &[&str] = &[
    "metadata.name",
    "spec.clusterIP",
    "spec.ports.port",
    "spec.type",
];

/// The host request for the Services of `namespace`, exactly as sent.
pub fn list_services_request(namespace: &str) -> ListResourcesByNamespaceRequest {
    ListResourcesByNamespaceRequest {
        api_version: "v1".to_string(),
        kind: "Service".to_string(),
        namespace: namespace.to_string(),
        label_selector: None,
        field_selector: None,
        field_masks: Some(
            SERVICE_FIELD_MASKS
                .iter()
                .map(|f| f.to_string())
                .collect::<BTreeSet<_>>(),
        ),
    }
}

/// Lists Services through the Kubewarden host (policy-server or kwctl).
pub struct HostServices;

impl ServiceSource for HostServices {
    fn services_in(&self, namespace: &str) -> Result<Vec<ServiceInfo>, String> {
        let list = list_resources_by_namespace::<Service>(&list_services_request(namespace))
            .map_err(|e| e.to_string())?;
        Ok(list.items.into_iter().map(service_info).collect())
    }
}

fn service_info(service: Service) -> ServiceInfo {
    let spec = service.spec.unwrap_or_default();
    ServiceInfo {
        name: service.metadata.name.unwrap_or_default(),
        headless: spec.cluster_ip.as_deref() == Some("None"),
        external_name: spec.type_.as_deref() == Some("ExternalName"),
        ports: spec
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.port)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_matches_replay_sessions() {
        let json = serde_json::to_value(list_services_request("kubernaut-system")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "api_version": "v1", "kind": "Service", "namespace": "kubernaut-system",
                "label_selector": null, "field_selector": null,
                "field_masks": ["metadata.name", "spec.clusterIP", "spec.ports.port", "spec.type"]
            })
        );
    }

    #[test]
    fn service_info_from_a_masked_list_item() {
        let service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "data-storage-service"},
            "spec": {"type": "NodePort", "clusterIP": "10.96.0.7", "ports": [{"port": 8081}, {"port": 9181}]}
        }))
        .unwrap();
        let info = service_info(service);
        assert_eq!(info.ports, vec![8081, 9181]);
        assert!(info.accepts_port(8081) && !info.accepts_port(8080));
    }

    #[test]
    fn headless_and_external_name_accept_any_port() {
        let headless = ServiceInfo {
            headless: true,
            ..Default::default()
        };
        let external = ServiceInfo {
            external_name: true,
            ..Default::default()
        };
        assert!(headless.accepts_port(1) && external.accepts_port(65535));
    }
}
