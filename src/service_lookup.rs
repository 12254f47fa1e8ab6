//! Asks the host which Services exist: one `list_resources_by_namespace`
//! call per namespace, with field masks so that only the fields the check
//! reads cross the host boundary.
//!
//! The request is the SDK's own `ListResourcesByNamespaceRequest`, sent
//! through the same waPC call as the SDK's `list_resources_by_namespace`;
//! the answer is read into a view of the four fields the check uses rather
//! than k8s-openapi's `Service`, whose deserializer costs more time (a
//! namespace may hold hundreds of Services) and wasm size than the check.

use crate::host_call::{self, ListResourcesByNamespaceRequest};
use crate::json_fields::{int32, list, nested, parse_object, string};
use crate::json_pull::Reader;
use crate::json_tree::Map;

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

/// The Services of one namespace, shared: a listing is read once and
/// handed to every check that asks for it.
pub type Services = std::rc::Rc<[ServiceInfo]>;

/// Source of the Services of a namespace; mocked in unit tests.
#[cfg_attr(test, mockall::automock)]
pub trait ServiceSource {
    /// The Services of `namespace` (empty when the namespace does not exist).
    fn services_in(&self, namespace: &str) -> Result<Services, String>;
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
type Listing = Result<Services, String>;

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
    fn services_in(&self, namespace: &str) -> Result<Services, String> {
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
    fn services_in(&self, namespace: &str) -> Result<Services, String> {
        let answer = host_call::kubernetes(
            self.0,
            "list_resources_by_namespace",
            &list_services_request(namespace),
        )?;
        parse_service_list(&answer).map(Services::from)
    }
}

/// Reads a `ServiceList` answer (masked or not) into what the check needs.
/// The pull reader takes the plain answers hosts send; whatever it leaves
/// is read with serde_json, which words the errors.
pub fn parse_service_list(answer: &[u8]) -> Result<Vec<ServiceInfo>, String> {
    pull_service_list(answer).map_or_else(|| service_list_via_serde_json(answer), Ok)
}

/// [`parse_service_list`] with serde_json alone: what the pull reader
/// leaves to it, and the reference the `answers` fuzz target holds the
/// pull reader to.
pub fn service_list_via_serde_json(answer: &[u8]) -> Result<Vec<ServiceInfo>, String> {
    let read = || list(&Map::from(&parse_object(answer)?), "items", read_service);
    read().map_err(|e| format!("cannot read the ServiceList returned by the host: {e}"))
}

fn read_service(service: &Map) -> Result<ServiceInfo, String> {
    let name = nested(service, "metadata", |m| {
        Ok(string(m, "name")?.unwrap_or_default())
    })?;
    let spec = nested(service, "spec", read_spec)?.unwrap_or_default();
    Ok(ServiceInfo {
        name: name.unwrap_or_default(),
        ..spec
    })
}

/// One item of `spec.ports`: `port`, `name`, `protocol`.
type Port = (i32, Option<String>, Option<String>);

/// A Service's `spec`: everything [`ServiceInfo`] holds but the name.
fn read_spec(spec: &Map) -> Result<ServiceInfo, String> {
    let text = |key: &str| string(spec, key).map(Option::unwrap_or_default);
    let (cluster_ip, type_) = (text("clusterIP")?, text("type")?);
    let ports = list(spec, "ports", |p| {
        let port = int32(p, "port")?.ok_or("port is missing")?;
        let name = string(p, "name")?;
        let protocol = string(p, "protocol")?;
        Ok((port, name, protocol))
    })?;
    Ok(spec_info(&cluster_ip, &type_, ports))
}

fn spec_info(cluster_ip: &str, type_: &str, ports: Vec<Port>) -> ServiceInfo {
    ServiceInfo {
        name: String::new(),
        headless: cluster_ip == "None",
        external_name: type_ == "ExternalName",
        ports: ports.iter().map(|(port, _, _)| *port).collect(),
        named_ports: ports
            .iter()
            .filter_map(|(_, name, protocol)| named_port(name.as_deref(), protocol.as_deref()))
            .collect(),
    }
}

/// The SRV record names of a port: none without a name (or an empty one);
/// the protocol defaults to TCP, as in the API.
fn named_port(name: Option<&str>, protocol: Option<&str>) -> Option<NamedPort> {
    Some(NamedPort {
        name: name.filter(|n| !n.is_empty())?.to_ascii_lowercase(),
        protocol: protocol.unwrap_or("TCP").to_ascii_lowercase(),
    })
}

/// [`parse_service_list`] on the pull reader: `None` for what it leaves
/// to serde_json. Each repeated key starts its field anew, so that the
/// last one wins, as in serde_json's map.
fn pull_service_list(answer: &[u8]) -> Option<Vec<ServiceInfo>> {
    Reader::document(answer, |r| {
        let mut services = Vec::new();
        r.object(|r, key| match key {
            "items" => {
                services = r
                    .nullable(|r| {
                        let mut items = Vec::new();
                        r.array(|r| pull_service(r).map(|s| items.push(s)))?;
                        Some(items)
                    })?
                    .unwrap_or_default();
                Some(())
            }
            _ => r.skip(),
        })?;
        Some(services)
    })
}

fn pull_service(r: &mut Reader<'_>) -> Option<ServiceInfo> {
    let (mut name, mut spec) = (None, None);
    r.object(|r, key| {
        match key {
            "metadata" => name = r.nullable(pull_name)?.flatten(),
            "spec" => spec = r.nullable(pull_spec)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(ServiceInfo {
        name: name.unwrap_or_default(),
        ..spec.unwrap_or_default()
    })
}

/// `metadata.name` of an object, on the pull reader.
pub(crate) fn pull_name(r: &mut Reader<'_>) -> Option<Option<String>> {
    let mut name = None;
    r.object(|r, key| {
        match key {
            "name" => name = r.nullable(|r| r.string().map(String::from))?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(name)
}

fn pull_spec(r: &mut Reader<'_>) -> Option<ServiceInfo> {
    let mut spec = ServiceInfo::default();
    r.object(|r, key| {
        match key {
            "clusterIP" => spec.headless = r.nullable(Reader::string)?.as_deref() == Some("None"),
            "type" => {
                spec.external_name = r.nullable(Reader::string)?.as_deref() == Some("ExternalName");
            }
            "ports" => {
                (spec.ports, spec.named_ports) = (Vec::new(), Vec::new());
                r.nullable(|r| {
                    r.array(|r| {
                        let (port, named) = pull_port(r)?;
                        spec.ports.push(port);
                        spec.named_ports.extend(named);
                        Some(())
                    })
                })?;
            }
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some(spec)
}

fn pull_port(r: &mut Reader<'_>) -> Option<(i32, Option<NamedPort>)> {
    let (mut port, mut name, mut protocol) = (None, None, None);
    r.object(|r, key| {
        match key {
            "port" => port = r.nullable(|r| i32::try_from(r.integer()?).ok())?,
            "name" => name = r.nullable(Reader::string)?,
            "protocol" => protocol = r.nullable(Reader::string)?,
            _ => r.skip()?,
        }
        Some(())
    })?;
    Some((port?, named_port(name.as_deref(), protocol.as_deref())))
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

    /// Answers the pull reader takes (first rows) or leaves to serde_json;
    /// both paths give the same services or the same error.
    #[rstest::rstest]
    #[case::masked(
        r#"{"items":[{"metadata":{"name":"a"},"spec":{"ports":[{"port":80,"name":"Web"}]}}]}"#,
        true
    )]
    #[case::repeated_keys(r#"{"items":[{"metadata":{"name":"a"},"metadata":{},"spec":{"type":"ExternalName","type":null}}],"items":[{"metadata":{"name":"b"}}]}"#, true)]
    #[case::escapes(
        r#"{"items":[{"metadata":{"name":"\u0061\n"},"spec":{"clusterIP":"No\u006ee"}}]}"#,
        true
    )]
    #[case::nulls(
        r#"{"items":[{"metadata":null,"spec":null},{"spec":{"ports":null}}],"kind":null}"#,
        true
    )]
    #[case::other_fields(r#"{"apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"status":{"loadBalancer":{}},"spec":{"ports":[{"port":1,"targetPort":"http","nodePort":30001}]}}]}"#, true)]
    #[case::float_elsewhere(r#"{"items":[{"metadata":{"name":"a","generation":1.5}}]}"#, false)]
    #[case::wrong_type_then_right(r#"{"items":[{"metadata":{"name":7,"name":"a"}}]}"#, false)]
    #[case::port_missing(r#"{"items":[{"spec":{"ports":[{"port":null}]}}]}"#, false)]
    #[case::port_out_of_range(r#"{"items":[{"spec":{"ports":[{"port":2147483648}]}}]}"#, false)]
    #[case::item_not_an_object(r#"{"items":[null]}"#, false)]
    #[case::not_json(r#"{"items":[}"#, false)]
    fn the_pull_reader_agrees_with_serde_json(#[case] answer: &str, #[case] pulled: bool) {
        assert_eq!(pull_service_list(answer.as_bytes()).is_some(), pulled);
        assert_eq!(
            parse_service_list(answer.as_bytes()),
            service_list_via_serde_json(answer.as_bytes())
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
