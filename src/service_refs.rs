//! Finds the in-cluster Service names in free text (YAML, JSON, INI,
//! properties, URLs, broker lists, JDBC URLs...) in one left-to-right pass:
//! every byte is looked at a bounded number of times, so the cost is linear
//! in the size of the text.

use std::borrow::Cow;

use wildmatch::WildMatch;

use crate::settings::is_dns1123_label;

/// How a reference was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Form {
    /// `<svc>.<ns>.svc[.<clusterDomain>]`, possibly behind pod or SRV labels.
    Qualified,
    /// `scheme://<svc>`: the ConfigMap's own namespace.
    Short,
    /// `scheme://<svc>.<ns>`: could also be an external domain.
    ShortWithNamespace,
}

/// The port a reference connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Port {
    /// Written after the host.
    Explicit(u16),
    /// Implied by the URL scheme (http 80, https 443).
    SchemeDefault(u16),
    /// Not written, or a placeholder: not checked.
    Unknown,
}

impl Port {
    /// The number to check, if any.
    pub fn number(self) -> Option<u16> {
        match self {
            Port::Explicit(p) | Port::SchemeDefault(p) => Some(p),
            Port::Unknown => None,
        }
    }
}

/// Which DNS record a name asks cluster DNS for (Kubernetes DNS-Based
/// Service Discovery spec, sections 2.3 and 2.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Record<'t> {
    /// `<svc>.<ns>.svc.<zone>` (and every short form): the Service's own
    /// A/AAAA record, or the CNAME of an ExternalName Service.
    Service,
    /// `<hostname>.<svc>.<ns>.svc.<zone>`: one Pod's record, which only a
    /// headless Service (`clusterIP: None`) publishes.
    PodHostname(Cow<'t, str>),
    /// `_<port>._<proto>.<svc>.<ns>.svc.<zone>`: the SRV record of a named
    /// port; `port_name` and `protocol` without their `_`, in lower case.
    Srv {
        port_name: Cow<'t, str>,
        protocol: Cow<'t, str>,
    },
}

/// The DNS zone a qualified name was written under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Zone<'t> {
    /// `.svc` alone (the resolver's search path completes it), or
    /// `.svc.<d>` for a domain `d` that the cluster's DNS serves.
    Cluster,
    /// `.svc.<d>` for a domain that looks like a cluster domain (such as
    /// `cluster.local`) but is not one the settings name: the query leaves
    /// cluster DNS and gets NXDOMAIN. Holds `d` in lower case.
    Foreign(Cow<'t, str>),
}

/// One Service named in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef<'t> {
    /// The text as written: `scheme://host:port` for URLs (user and
    /// password, if any, shown as `***@`), else `host[:port]`.
    pub written: Cow<'t, str>,
    pub service: Cow<'t, str>,
    pub namespace: Cow<'t, str>,
    pub port: Port,
    pub form: Form,
    /// The record asked for; always [`Record::Service`] for short forms.
    pub record: Record<'t>,
    /// The zone; always [`Zone::Cluster`] for short forms.
    pub zone: Zone<'t>,
}

/// What to look for.
pub struct ScanOptions<'a> {
    /// `.svc.<d>` in lower case for the cluster domain and every
    /// additional domain the cluster's DNS serves (`.svc.cluster.local`),
    /// built once per request rather than once per scanned value.
    pub qualified_suffixes: &'a [String],
    /// Namespace of short `scheme://<svc>` names.
    pub default_namespace: &'a str,
    /// Whether short names inside URLs count.
    pub short_names: bool,
    /// Hosts never reported.
    pub ignored_hosts: &'a [WildMatch],
}

/// RFC 1035's limit on a DNS name; anything longer is not a host name.
const MAX_DNS_NAME: usize = 253;

/// Schemes whose short host names are network services worth checking; a
/// `hf://org/model` or `file://x` URL has no host to resolve.
const NETWORK_SCHEMES: &[&str] = &[
    "http",
    "https",
    "ws",
    "wss",
    "grpc",
    "grpcs",
    "h2c",
    "tcp",
    "udp",
    "tls",
    "redis",
    "rediss",
    "amqp",
    "amqps",
    "mqtt",
    "mqtts",
    "nats",
    "kafka",
    "mongodb",
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "sqlserver",
    "clickhouse",
    "memcached",
    "ldap",
    "ldaps",
    "thrift",
    "dns",
];

/// Top-level domains that make `scheme://<a>.<tld>` an external host, not a
/// `<svc>.<ns>` short name (names a namespace is unlikely to have).
const COMMON_TLDS: &[&str] = &[
    "com",
    "net",
    "org",
    "io",
    "ai",
    "co",
    "info",
    "biz",
    "edu",
    "gov",
    "mil",
    "int",
    "me",
    "sh",
    "xyz",
    "us",
    "uk",
    "de",
    "eu",
    "fr",
    "nl",
    "ru",
    "cn",
    "jp",
    "in",
    "br",
    "au",
    "ca",
    "ch",
    "es",
    "it",
    "se",
    "pl",
    "be",
    "at",
    "dk",
    "fi",
    "cz",
    "tv",
    "cc",
    "ly",
    "gg",
    "internal",
    "local",
    "localhost",
    "example",
    "test",
    "invalid",
    "arpa",
];

/// Bytes of host names (`[A-Za-z0-9._-]`), as a table: the scanner asks
/// this once per byte of a ConfigMap.
const HOST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'.' || c == b'-' || c == b'_';
        b += 1;
    }
    table
};

fn is_host_byte(b: u8) -> bool {
    HOST_BYTES[b as usize]
}

fn is_placeholder_byte(b: u8) -> bool {
    matches!(b, b'$' | b'{' | b'}' | b'%' | b'(' | b')')
}

/// Bytes that end the authority of a URL, as a table (see [`HOST_BYTES`]).
const AUTHORITY_ENDS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_whitespace()
            || !c.is_ascii()
            || matches!(
                c,
                b'/' | b'?'
                    | b'#'
                    | b'"'
                    | b'\''
                    | b'`'
                    | b','
                    | b';'
                    | b'<'
                    | b'>'
                    | b'\\'
                    | b'|'
                    | b'^'
            );
        b += 1;
    }
    table
};

/// Where the authority of a URL ends.
fn ends_authority(b: u8) -> bool {
    AUTHORITY_ENDS[b as usize]
}

fn is_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    // Real schemes are short; a long run before `://` would only make
    // messages quoting the URL long.
    (1..=32).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// Every Service reference in `text`, in order of appearance.
pub fn scan<'t>(text: &'t str, options: &ScanOptions) -> Vec<ServiceRef<'t>> {
    let b = text.as_bytes();
    let n = b.len();
    let mut refs = Vec::new();
    // Only two places can start a reference: the `://` of a URL and the dot
    // of a `.svc` label. memchr jumps between `:` and `.` several bytes at a
    // time; every byte before `done` has been dealt with, so no byte is
    // looked at more than a few times.
    let mut done = 0;
    for hit in memchr::memchr2_iter(b':', b'.', b) {
        if hit < done {
            continue;
        }
        if b[hit] == b':' {
            if !b[hit..].starts_with(b"://") {
                continue;
            }
            let start = run_start(b, hit, done);
            if !is_scheme(&text[start..hit]) {
                continue;
            }
            done = scan_url(text, start, hit, options, &mut refs);
            continue;
        }
        let svc_label = b
            .get(hit + 1..hit + 4)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"svc"))
            && b.get(hit + 4)
                .is_none_or(|&c| c == b'.' || !is_host_byte(c));
        if !svc_label {
            continue;
        }
        // Walk back only now, once per name: the run before a `.svc` label.
        let start = run_start(b, hit, done);
        let mut end = hit + 4;
        while end < n && is_host_byte(b[end]) {
            end += 1;
        }
        done = end;
        let placeholder_before = start > 0 && is_placeholder_byte(b[start - 1]);
        let placeholder_after = end < n && is_placeholder_byte(b[end]);
        if placeholder_before || placeholder_after {
            continue;
        }
        let (port, port_end) = port_after(text, end, n);
        let written = Cow::Borrowed(&text[start..port_end]);
        if let Some(r) = classify(&text[start..end], None, port, written, options) {
            refs.push(r);
        }
        done = port_end;
    }
    refs
}

/// Start of the run of host-name bytes that ends at `end`, never before `floor`.
fn run_start(b: &[u8], end: usize, floor: usize) -> usize {
    let mut start = end;
    while start > floor && is_host_byte(b[start - 1]) {
        start -= 1;
    }
    start
}

/// Reads the URL whose scheme is `text[start..colon]`; returns where its
/// authority ends.
fn scan_url<'t>(
    text: &'t str,
    start: usize,
    colon: usize,
    options: &ScanOptions,
    refs: &mut Vec<ServiceRef<'t>>,
) -> usize {
    let b = text.as_bytes();
    let scheme = &text[start..colon];
    let authority_start = colon + 3;
    let mut j = authority_start;
    while j < b.len() && !ends_authority(b[j]) {
        j += 1;
    }
    // `user:password@host:port`: the host follows the last `@`.
    let authority = &text[authority_start..j];
    let host_start = authority_start + authority.rfind('@').map_or(0, |at| at + 1);
    let (host, port, host_port_end) = split_host_port(text, host_start, j);
    if !host.bytes().any(is_placeholder_byte) {
        let port = match port {
            Port::Unknown if host_port_end == j || b[host_port_end] != b':' => {
                scheme_default_port(scheme)
            }
            p => p,
        };
        // Credentials in a URL must not end up in messages, warnings, logs.
        let written = if host_start > authority_start {
            Cow::Owned(format!(
                "{scheme}://***@{}",
                &text[host_start..host_port_end]
            ))
        } else {
            Cow::Borrowed(&text[start..host_port_end])
        };
        if let Some(r) = classify(host, Some(scheme), port, written, options) {
            refs.push(r);
        }
    }
    j
}

/// Splits `text[from..to]` into host and port; returns where host[:port] ends.
fn split_host_port(text: &str, from: usize, to: usize) -> (&str, Port, usize) {
    let b = text.as_bytes();
    if from < to && b[from] == b'[' {
        // An IPv6 literal is never a Service.
        return ("[", Port::Unknown, to);
    }
    let mut k = from;
    while k < to && b[k] != b':' {
        k += 1;
    }
    let host = &text[from..k];
    if k == to {
        return (host, Port::Unknown, k);
    }
    let (port, end) = port_after(text, k, to);
    (host, port, end.max(k))
}

/// Parses `:<digits>` at `at`; a placeholder port (`:${PORT}`) is Unknown.
fn port_after(text: &str, at: usize, limit: usize) -> (Port, usize) {
    let b = text.as_bytes();
    if at >= limit || b[at] != b':' {
        return (Port::Unknown, at);
    }
    let mut k = at + 1;
    while k < limit && b[k].is_ascii_digit() && k - at <= 5 {
        k += 1;
    }
    let digits = &text[at + 1..k];
    // A sentence may end right after the port ("...:5432."), a name may not.
    let trailing_host_byte = k < limit
        && (b[k].is_ascii_alphanumeric()
            || matches!(b[k], b'_' | b'-')
            || is_placeholder_byte(b[k]));
    match digits.parse::<u16>() {
        Ok(p) if p > 0 && !trailing_host_byte => (Port::Explicit(p), k),
        _ => (Port::Unknown, at),
    }
}

fn scheme_default_port(scheme: &str) -> Port {
    match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => Port::SchemeDefault(80),
        "https" | "wss" => Port::SchemeDefault(443),
        _ => Port::Unknown,
    }
}

/// Decides whether `host` names an in-cluster Service. Allocates only for
/// a reference (and only when it is not already lower-case).
fn classify<'t>(
    host: &'t str,
    scheme: Option<&str>,
    port: Port,
    written: Cow<'t, str>,
    options: &ScanOptions,
) -> Option<ServiceRef<'t>> {
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.len() > MAX_DNS_NAME {
        return None;
    }
    let (service, namespace, form) = match options
        .qualified_suffixes
        .iter()
        .find_map(|suffix| qualified_parts(host, suffix))
    {
        Some((service, namespace)) => (service, lower(namespace), Form::Qualified),
        None => {
            let scheme = scheme?;
            if !options.short_names
                || !NETWORK_SCHEMES
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(scheme))
            {
                return None;
            }
            match host.split_once('.') {
                None if !host.eq_ignore_ascii_case("localhost") => (
                    host,
                    Cow::Owned(options.default_namespace.to_string()),
                    Form::Short,
                ),
                Some((service, namespace))
                    if !namespace.contains('.')
                        && !COMMON_TLDS
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(namespace)) =>
                {
                    (service, lower(namespace), Form::ShortWithNamespace)
                }
                _ => return None,
            }
        }
    };
    let service = lower(service);
    if !is_dns1035_label(&service) || !is_dns1123_label(&namespace) {
        return None;
    }
    if !options.ignored_hosts.is_empty() {
        let host = lower(host);
        if options.ignored_hosts.iter().any(|p| p.matches(&host)) {
            return None;
        }
    }
    Some(ServiceRef {
        written,
        service,
        namespace,
        port,
        form,
        record: Record::Service,
        zone: Zone::Cluster,
    })
}

/// `[<pod or SRV labels>.]<service>.<namespace>.svc[.<clusterDomain>]`,
/// case-insensitive: the service and namespace labels as written.
/// `qualified_suffix` is `.svc.<clusterDomain>` in lower case.
fn qualified_parts<'h>(host: &'h str, qualified_suffix: &str) -> Option<(&'h str, &'h str)> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let rest = strip_suffix_ignore_case(host, qualified_suffix)
        .or_else(|| strip_suffix_ignore_case(host, ".svc"))?;
    let mut labels = rest.rsplitn(3, '.');
    let namespace = labels.next()?;
    let service = labels.next()?;
    Some((service, namespace))
}

fn strip_suffix_ignore_case<'h>(text: &'h str, suffix: &str) -> Option<&'h str> {
    let cut = text.len().checked_sub(suffix.len())?;
    (text.is_char_boundary(cut) && text[cut..].eq_ignore_ascii_case(suffix)).then(|| &text[..cut])
}

/// DNS names are case-insensitive; Service names are stored in lower case.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// A Service name: a DNS-1123 label that starts with a letter.
fn is_dns1035_label(label: &str) -> bool {
    is_dns1123_label(label) && label.as_bytes()[0].is_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn scan_with(text: &str, short_names: bool, ignored: &[&str]) -> Vec<(String, String, Port)> {
        let ignored: Vec<WildMatch> = ignored.iter().map(|p| WildMatch::new(p)).collect();
        let options = ScanOptions {
            qualified_suffixes: &[".svc.cluster.local".to_string()],
            default_namespace: "home",
            short_names,
            ignored_hosts: &ignored,
        };
        scan(text, &options)
            .into_iter()
            .map(|r| (r.service.into_owned(), r.namespace.into_owned(), r.port))
            .collect()
    }

    fn refs(text: &str) -> Vec<(String, String, Port)> {
        scan_with(text, false, &[])
    }

    fn one(service: &str, namespace: &str, port: Port) -> Vec<(String, String, Port)> {
        vec![(service.into(), namespace.into(), port)]
    }

    use Port::{Explicit, SchemeDefault, Unknown};

    #[rstest]
    #[case::seed_url(
        "data_storage_url: http://datastorage.kubernaut-system.svc.cluster.local:8080",
        one("datastorage", "kubernaut-system", Explicit(8080))
    )]
    #[case::https_default_port(
        "url: https://api.prod.svc.cluster.local/readyz",
        one("api", "prod", SchemeDefault(443))
    )]
    #[case::http_default_port("\"http://api.prod.svc\"", one("api", "prod", SchemeDefault(80)))]
    #[case::svc_only("host=redis.cache.svc:6379", one("redis", "cache", Explicit(6379)))]
    #[case::trailing_dot(
        "redis.cache.svc.cluster.local.:6379",
        one("redis", "cache", Explicit(6379))
    )]
    #[case::upper_case(
        "HTTP://Redis.Cache.SVC.Cluster.Local",
        one("redis", "cache", SchemeDefault(80))
    )]
    #[case::bare_no_port("postgres_host: pg.db.svc.cluster.local", one("pg", "db", Unknown))]
    #[case::port_as_separate_token(
        "sentinel monitor m redis-0.redis-headless.kv.svc.cluster.local 6379 2",
        one("redis-headless", "kv", Unknown)
    )]
    #[case::statefulset_pod(
        "pod-0.web.apps.svc.cluster.local:80",
        one("web", "apps", Explicit(80))
    )]
    #[case::srv_name("_grpc._tcp.api.prod.svc.cluster.local", one("api", "prod", Unknown))]
    #[case::userinfo(
        "amqp://user:pa55@rabbit.mq.svc:5672/vhost",
        one("rabbit", "mq", Explicit(5672))
    )]
    #[case::jdbc(
        "jdbc:postgresql://pg.db.svc.cluster.local:5432/app?ssl=true",
        one("pg", "db", Explicit(5432))
    )]
    #[case::json_value(
        r#"{"url":"http://a.b.svc.cluster.local:81"}"#,
        one("a", "b", Explicit(81))
    )]
    #[case::other_cluster_domain("http://a.b.svc.corp.example:80", vec![])]
    #[case::external("https://grafana.net http://example.com:8080", vec![])]
    #[case::no_namespace("http://a.svc:80", vec![])]
    #[case::service_starts_with_digit("1a.b.svc", vec![])]
    #[case::env_placeholder_namespace("http://datastorage.${NAMESPACE}.svc.cluster.local:8080", vec![])]
    #[case::doc_template("http://{service}.{namespace}.svc.cluster.local:{port}", vec![])]
    #[case::helm_template("{{ .Release.Name }}redis.db.svc.cluster.local", vec![])]
    #[case::helm_template_in_url("http://{{ include \"x\" . }}.db.svc:80", vec![])]
    #[case::kubelet_placeholder("$(SVC).db.svc.cluster.local", vec![])]
    #[case::printf_placeholder("%s.db.svc.cluster.local", vec![])]
    #[case::shell_default("${HOST:-redis.db.svc}", vec![])]
    #[case::placeholder_domain("redis.db.svc.${DOMAIN}", vec![])]
    #[case::placeholder_port("http://a.b.svc:${PORT}/x", one("a", "b", Unknown))]
    #[case::ipv6("http://[::1]:8080", vec![])]
    #[case::bind_address("0.0.0.0:4317", vec![])]
    #[case::metric_name("vllm:num_requests_running", vec![])]
    #[case::two_refs("a: http://x.n1.svc:1, b: y.n2.svc.cluster.local:2", vec![("x".into(), "n1".into(), Explicit(1)), ("y".into(), "n2".into(), Explicit(2))])]
    #[case::broker_list("kafka-0.kafka.mq.svc:9092,kafka-1.kafka.mq.svc:9092", vec![("kafka".into(), "mq".into(), Explicit(9092)), ("kafka".into(), "mq".into(), Explicit(9092))])]
    #[case::short_ignored_by_default("http://prometheus:9090", vec![])]
    #[case::word_svc_in_prose("the svc.yaml file", vec![])]
    #[case::too_long_scheme(&format!("{}://a.b.svc:80", "x".repeat(40)), one("a", "b", Explicit(80)))]
    #[case::too_long_for_dns(&format!("{}b.ns.svc", "a.".repeat(125)), vec![])]
    #[case::longest_dns_name(&format!("{}b.ns.svc", "a.".repeat(122)), one("b", "ns", Unknown))]
    #[case::non_ascii_around("→http://a.b.svc:80←", one("a", "b", Explicit(80)))]
    fn qualified_names(#[case] text: &str, #[case] expected: Vec<(String, String, Port)>) {
        assert_eq!(refs(text), expected, "{text}");
    }

    #[rstest]
    #[case::same_namespace("http://prometheus:9090", one("prometheus", "home", Explicit(9090)))]
    #[case::other_namespace(
        "http://kubernaut-service.e2e-test:8080/alerts",
        one("kubernaut-service", "e2e-test", Explicit(8080))
    )]
    #[case::default_port("http://grafana/", one("grafana", "home", SchemeDefault(80)))]
    #[case::localhost("http://localhost:8080", vec![])]
    #[case::ip("http://192.168.1.169:8080", vec![])]
    #[case::external_tld("https://grafana.net", vec![])]
    #[case::three_labels("http://metadata.google.internal/x", vec![])]
    #[case::non_network_scheme("hf://ggml-org/gpt-oss-20b-GGUF", vec![])]
    #[case::no_scheme("prometheus:9090", vec![])]
    #[case::ini_interpolation("%(protocol)s://%(domain)s:%(http_port)s/grafana", vec![])]
    #[case::env_interpolation("http://${env:MY_POD_IP}:4317", vec![])]
    fn short_names(#[case] text: &str, #[case] expected: Vec<(String, String, Port)>) {
        assert_eq!(scan_with(text, true, &[]), expected, "{text}");
    }

    #[test]
    fn ignored_hosts_are_globs_over_the_host() {
        let text = "http://a.legacy.svc.cluster.local:1 http://b.prod.svc:2";
        let found = scan_with(text, false, &["*.legacy.svc.cluster.local"]);
        assert_eq!(found, one("b", "prod", Explicit(2)));
    }

    #[test]
    fn written_is_the_url_as_written() {
        let options = ScanOptions {
            qualified_suffixes: &[".svc.cluster.local".to_string()],
            default_namespace: "home",
            short_names: false,
            ignored_hosts: &[],
        };
        let text = "url: \"http://user:s3cret@api.prod.svc.cluster.local:8080/path?q=1\" and db.x.svc:5432. https://a.b.svc";
        let refs = scan(text, &options);
        let written: Vec<&str> = refs.iter().map(|r| r.written.as_ref()).collect();
        assert_eq!(
            written,
            vec![
                "http://***@api.prod.svc.cluster.local:8080",
                "db.x.svc:5432",
                "https://a.b.svc"
            ]
        );
    }
}
