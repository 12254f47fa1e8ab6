//! Asks the host which Services exist: one `list_resources_by_namespace`
//! call per namespace, with field masks so that only the fields the check
//! reads cross the host boundary.
//!
//! The request is the SDK's own `ListResourcesByNamespaceRequest`, sent
//! through the same waPC call as the SDK's `list_resources_by_namespace`;
//! the answer is read into a view of the four fields the check uses rather
//! than k8s-openapi's `Service`, whose deserializer costs more time (a
//! namespace may hold hundreds of Services) and wasm size than the check.

use serde_json::{Map, Value};

use crate::host_call::{self, ListResourcesByNamespaceRequest};
use crate::json_fields::{int32, list, nested, parse_object, string};

/// What the check needs to know about one Service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceInfo {
    pub name: String,
    /// `clusterIP: None`: DNS resolves to the pods, any port works.
    pub headless: bool,
    /// `type: ExternalName`: a CNAME, any port works.
    pub external_name: bool,
    pub ports: Vec<i32>,
    /// The ports that have a name: the only ones with SRV records.
    pub named_ports: Vec<NamedPort>,
}

/// A named Service port: `_<name>._<protocol>.<svc>.<ns>.svc.<zone>` is
/// its SRV record (Kubernetes DNS spec 2.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NamedPort {
    pub name: String,
    /// Lower case (`tcp`, `udp`, `sctp`); the API's default is TCP.
    pub protocol: String,
}

impl ServiceInfo {
    /// Whether the Service has an SRV record for `_<name>._<protocol>`
    /// (both lower case). An ExternalName Service is a CNAME: whatever the
    /// target serves, so it is given the benefit of the doubt.
    pub fn has_srv(&self, name: &str, protocol: &str) -> bool {
        self.external_name
            || self
                .named_ports
                .iter()
                .any(|p| p.name == name && p.protocol == protocol)
    }

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

/// A [`ServiceSource`] that asks the one it wraps at most once per
/// namespace, so that a check that needs a namespace's Services twice
/// (the judge, then a second reading of a name) still makes one host call.
pub struct OncePerNamespace<'s> {
    inner: &'s dyn ServiceSource,
    /// What each namespace asked so far answered (a handful per request).
    answers: std::cell::RefCell<Vec<(String, Listing)>>,
}

/// The host's answer to a Service listing.
type Listing = Result<Vec<ServiceInfo>, String>;

impl<'s> OncePerNamespace<'s> {
    /// Wraps `inner`.
    pub fn new(inner: &'s dyn ServiceSource) -> Self {
        OncePerNamespace {
            inner,
            answers: std::cell::RefCell::new(Vec::new()),
        }
    }
}

impl ServiceSource for OncePerNamespace<'_> {
    fn services_in(&self, namespace: &str) -> Result<Vec<ServiceInfo>, String> {
        if let Some((_, answer)) = self.answers.borrow().iter().find(|(ns, _)| ns == namespace) {
            return answer.clone();
        }
        let answer = self.inner.services_in(namespace);
        self.answers
            .borrow_mut()
            .push((namespace.to_string(), answer.clone()));
        answer
    }
}

/// The fields of a Service the check reads, in the order the host
/// receives them. One fixed set for every call: policy-server keeps one
/// watch cache per kind, namespace and mask set.
pub const SERVICE_FIELD_MASKS: &[&str] = &[
    "metadata.name",
    "spec.clusterIP",
    "spec.ports.name",
    "spec.ports.port",
    "spec.ports.protocol",
    "spec.type",
];

/// The host request for the Services of `namespace`, exactly as sent.
pub fn list_services_request(namespace: &str) -> ListResourcesByNamespaceRequest<'_> {
    ListResourcesByNamespaceRequest {
        api_version: "v1",
        kind: "Service",
        namespace,
        label_selector: None,
        field_selector: None,
        field_masks: Some(SERVICE_FIELD_MASKS),
    }
}

/// Lists Services through the Kubewarden host (policy-server or kwctl),
/// over the transport it holds.
pub struct HostServices<'t>(pub &'t dyn host_call::Transport);

impl ServiceSource for HostServices<'_> {
    fn services_in(&self, namespace: &str) -> Result<Vec<ServiceInfo>, String> {
        let answer = host_call::kubernetes(
            self.0,
            "list_resources_by_namespace",
            &list_services_request(namespace),
        )?;
        parse_service_list(&answer)
    }
}

/// Reads a `ServiceList` answer (masked or not) into what the check needs.
pub fn parse_service_list(answer: &[u8]) -> Result<Vec<ServiceInfo>, String> {
    let read = || list(&parse_object(answer)?, "items", read_service);
    read().map_err(|e| format!("cannot read the ServiceList returned by the host: {e}"))
}

fn read_service(service: &Map<String, Value>) -> Result<ServiceInfo, String> {
    let name = nested(service, "metadata", |m| {
        Ok(string(m, "name")?.unwrap_or_default())
    })?;
    let spec = nested(service, "spec", read_spec)?.unwrap_or_default();
    Ok(ServiceInfo {
        name: name.unwrap_or_default(),
        ..spec
    })
}

/// A Service's `spec`: everything [`ServiceInfo`] holds but the name.
fn read_spec(spec: &Map<String, Value>) -> Result<ServiceInfo, String> {
    let text = |key: &str| string(spec, key).map(Option::unwrap_or_default);
    let (cluster_ip, type_) = (text("clusterIP")?, text("type")?);
    let ports = list(spec, "ports", |p| {
        let port = int32(p, "port")?.ok_or("port is missing")?;
        let name = string(p, "name")?.filter(|n| !n.is_empty());
        let protocol = string(p, "protocol")?;
        Ok((port, name, protocol))
    })?;
    Ok(ServiceInfo {
        name: String::new(),
        headless: cluster_ip == "None",
        external_name: type_ == "ExternalName",
        ports: ports.iter().map(|(port, _, _)| *port).collect(),
        named_ports: ports
            .into_iter()
            .filter_map(|(_, name, protocol)| {
                Some(NamedPort {
                    name: name?.to_ascii_lowercase(),
                    protocol: protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                })
            })
            .collect(),
    })
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
                "field_masks": ["metadata.name", "spec.clusterIP", "spec.ports.name",
                                "spec.ports.port", "spec.ports.protocol", "spec.type"]
            })
        );
    }

    #[test]
    fn service_list_as_the_host_sends_it() {
        let answer = br#"{"apiVersion":"v1","kind":"ServiceList","metadata":{"resourceVersion":"7"},"items":[
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"data-storage-service","namespace":"k"},
             "spec":{"type":"NodePort","clusterIP":"10.96.0.7","ports":[{"port":8081,"protocol":"TCP","name":"HTTP"},{"port":9181,"name":"dns","protocol":"UDP"}]}},
            {"metadata":{"name":"redis-headless"},"spec":{"clusterIP":"None"}},
            {"metadata":{"name":"legacy"},"spec":{"type":"ExternalName","externalName":"db.example.com"}},
            {"metadata":{"name":"bare"}}]}"#;
        let services = parse_service_list(answer).unwrap();
        assert_eq!(services[0].ports, vec![8081, 9181]);
        assert!(services[0].accepts_port(8081) && !services[0].accepts_port(8080));
        assert!(services[1].headless && services[2].external_name);
        assert!(services[0].has_srv("http", "tcp") && services[0].has_srv("dns", "udp"));
        assert!(!services[0].has_srv("dns", "tcp") && !services[1].has_srv("http", "tcp"));
        assert_eq!(
            services[3],
            ServiceInfo {
                name: "bare".into(),
                ..Default::default()
            }
        );
    }

    #[rstest::rstest]
    #[case::not_json(b"not json", "expected ident at line 1 column 2")]
    #[case::not_an_object(b"[]", "it is not a JSON object")]
    #[case::items_not_a_list(br#"{"items":{}}"#, "items is not a list")]
    #[case::spec_not_an_object(br#"{"items":[{"spec":[]}]}"#, "items[0].spec is not an object")]
    #[case::cluster_ip(
        br#"{"items":[{},{"spec":{"clusterIP":["None"]}}]}"#,
        "items[1].spec.clusterIP is not a string"
    )]
    #[case::type_(
        br#"{"items":[{"spec":{"type":1}}]}"#,
        "items[0].spec.type is not a string"
    )]
    #[case::port_text(
        br#"{"items":[{"spec":{"ports":[{"port":"x"}]}}]}"#,
        "items[0].spec.ports[0].port is not a 32-bit integer"
    )]
    #[case::port_missing(
        br#"{"items":[{"spec":{"ports":[{"name":"http"}]}}]}"#,
        "items[0].spec.ports[0].port is missing"
    )]
    #[case::name(
        br#"{"items":[{"metadata":{"name":7}}]}"#,
        "items[0].metadata.name is not a string"
    )]
    fn unreadable_answers_are_errors(#[case] answer: &[u8], #[case] error: &str) {
        assert_eq!(
            parse_service_list(answer),
            Err(format!(
                "cannot read the ServiceList returned by the host: {error}"
            ))
        );
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
