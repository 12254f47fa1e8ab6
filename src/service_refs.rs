//! Finds the in-cluster Service names in free text (YAML, JSON, INI,
//! properties, URLs, broker lists, JDBC URLs...) in one left-to-right pass:
//! every byte is looked at a bounded number of times, so the cost is linear
//! in the size of the text. Names inside comments of the config file are
//! not references (see `Comments`).

use std::borrow::Cow;

use crate::settings::Glob;

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
    /// A whole value that is `<svc>:<port>` (or a comma list of such): the
    /// Pod's DNS search path completes it in the Pod's namespace.
    Bare,
    /// A whole value that is `<svc>.<ns>:<port>` (or a comma list of such).
    BareWithNamespace,
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
    pub ignored_hosts: &'a [Glob],
}

/// RFC 1035's limit on a DNS name; anything longer is not a host name.
pub const MAX_DNS_NAME: usize = 253;

/// The longest URL scheme read as one: real schemes are short, and a long
/// run before `://` would only make messages quoting the URL long.
pub const MAX_SCHEME: usize = 32;

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
    // generic top-level domains common in URLs of docs and tools
    "dev",
    "app",
    "cloud",
    "tech",
    "site",
    "online",
    "page",
    "run",
    "so",
    "to",
    "ws",
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
    (1..=MAX_SCHEME).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// Every Service reference in `text`, in order of appearance: URLs
/// (`scheme://host[:port]`), qualified names `...<svc>.<ns>.svc[.<d>]`
/// anywhere, and short names in URLs if `options.short_names`. References
/// inside comments of the config file (`#`, `//`, `;`, `!` comments of
/// YAML, TOML, INI, properties, shell, nginx, HCL, JavaScript; see
/// `Comments`) are not returned; a JSON value has no comments.
pub fn scan<'t>(text: &'t str, options: &ScanOptions) -> Vec<ServiceRef<'t>> {
    let b = text.as_bytes();
    let n = b.len();
    let mut refs = Vec::new();
    let mut comments = Comments::new(b);
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
            if let Some(comment_end) = comments.comment_end(start) {
                done = comment_end;
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
        if let Some(comment_end) = comments.comment_end(start) {
            done = comment_end;
            continue;
        }
        let mut end = hit + 4;
        while end < n && is_host_byte(b[end]) {
            end += 1;
        }
        done = end;
        let placeholder_before = start > 0 && is_placeholder_byte(b[start - 1]);
        let placeholder_after = end < n && is_placeholder_byte(b[end]);
        // `gön.shop.svc`: a name glued to non-ASCII text is no DNS name,
        // and its ASCII tail (`n`) is not the Service it names.
        let non_ascii_before = start > 0 && !b[start - 1].is_ascii();
        if placeholder_before || placeholder_after || non_ascii_before {
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

/// Ports below 1024 that Services commonly listen on (IANA's well-known
/// ports of network services). A bare `name:number` with another number
/// below 1024 is as often a version (`postgres:15`), a count
/// (`web:2,worker:1`), a flag (`cart:1`) or a user and group
/// (`redis:999`) as an address, so it is not read as one.
const WELL_KNOWN_PORTS: &[u16] = &[
    21, 22, 23, 25, 53, 80, 88, 110, 111, 119, 123, 143, 161, 162, 179, 389, 443, 445, 465, 514,
    515, 587, 631, 636, 853, 873, 989, 990, 993, 995,
];

/// Whether `port` can be read as a Service's port in a bare `name:port`:
/// 1024 and above, or a well-known service port.
fn is_service_port(port: u16) -> bool {
    port >= 1024 || WELL_KNOWN_PORTS.contains(&port)
}

/// The references of a value that is exactly `host:port`, or a
/// comma-separated list of such (`cartservice:7070`,
/// `kafka-0.kafka:9092, kafka-1.kafka:9092`), as a container sees it: the
/// Pod's DNS search path resolves `name:port` as
/// `name.<namespace>.svc.<clusterDomain>` first, and `name.ns:port` as
/// `name.ns.svc.<clusterDomain>`. A value with anything else in it is no
/// such list and has none. Items that are not references: `localhost`,
/// IP addresses, listen addresses (`0.0.0.0:8080`, `:8080`), names of
/// three labels or more (public names; `.svc` names are found by [`scan`]),
/// `<a>.<tld>` with a common top-level domain (`example.com:443`), and
/// names that are not DNS labels (placeholders), and ports below 1024
/// other than the well-known ones ([`WELL_KNOWN_PORTS`]). Linear in `value`.
pub fn bare_host_ports<'t>(value: &'t str, options: &ScanOptions) -> Vec<ServiceRef<'t>> {
    let mut refs = Vec::new();
    for item in value.trim().split(',') {
        let item = item.trim_matches([' ', '\t']);
        let Some((host, port)) = item.rsplit_once(':') else {
            return Vec::new();
        };
        let port = match port.parse::<u16>() {
            Ok(p)
                if is_service_port(p)
                    && port.len() <= 5
                    && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                p
            }
            _ => return Vec::new(),
        };
        if !host.bytes().all(is_host_byte) {
            return Vec::new();
        }
        if host.len() > MAX_DNS_NAME || host.eq_ignore_ascii_case("localhost") {
            continue;
        }
        let (service, namespace, form) = match host.split_once('.') {
            None => (
                host,
                Cow::Owned(options.default_namespace.to_string()),
                Form::Bare,
            ),
            Some((service, namespace))
                if !namespace.contains('.')
                    && !namespace.eq_ignore_ascii_case("svc")
                    && !COMMON_TLDS
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(namespace)) =>
            {
                (service, lower(namespace), Form::BareWithNamespace)
            }
            _ => continue,
        };
        let service = lower(service);
        if !is_dns1035_label(&service) || !is_dns1123_label(&namespace) {
            continue;
        }
        if !options.ignored_hosts.is_empty() {
            let host = lower(host);
            if options.ignored_hosts.iter().any(|p| p.matches(&host)) {
                continue;
            }
        }
        refs.push(ServiceRef {
            written: Cow::Borrowed(item),
            service,
            namespace,
            port: Port::Explicit(port),
            form,
            record: Record::Service,
            zone: Zone::Cluster,
        });
    }
    refs
}

impl ServiceRef<'_> {
    /// The host as the Pod's resolver is asked for it, for the forms a
    /// Pod's `/etc/hosts` (`hostAliases`) can answer first: `<svc>` or
    /// `<svc>.<ns>`; `None` for qualified names.
    pub fn short_host(&self) -> Option<String> {
        match self.form {
            Form::Short | Form::Bare => Some(self.service.to_string()),
            Form::ShortWithNamespace | Form::BareWithNamespace => {
                Some(format!("{}.{}", self.service, self.namespace))
            }
            Form::Qualified => None,
        }
    }
}

/// Start of the run of host-name bytes that ends at `end`, never before `floor`.
fn run_start(b: &[u8], end: usize, floor: usize) -> usize {
    let mut start = end;
    while start > floor && is_host_byte(b[start - 1]) {
        start -= 1;
    }
    start
}

/// How the comment reader sees a byte, as a table (see [`HOST_BYTES`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    /// Anything that is neither of the two below: ends a blank line start.
    Plain,
    /// Indentation: space, tab, `\r`, vertical tab, form feed.
    Blank,
    /// `\n`, a quote, or a byte that may start a comment (`#`, `/`, `;`, `!`).
    Special,
}

const BYTE_CLASSES: [ByteClass; 256] = {
    let mut table = [ByteClass::Plain; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => ByteClass::Blank,
            b'\n' | b'"' | b'\'' | b'#' | b'/' | b';' | b'!' => ByteClass::Special,
            _ => ByteClass::Plain,
        };
        b += 1;
    }
    table
};

/// Tells which positions of a config file are inside a comment, reading the
/// text once from left to right, lazily: only up to the positions asked
/// about, which never go back. The rules cover the comments of YAML, TOML,
/// INI, Java properties, shell, nginx, HCL, Prometheus and JavaScript-like
/// configs without knowing which one the text is; where a byte could be
/// either a comment or data, it is data:
///
/// - a whole-line comment starts with `#` or `//` after optional blanks,
///   or with `;` (INI) or `!` (Java properties) as the first non-blank byte;
/// - a trailing comment starts with `#` after a space or tab (YAML, shell)
///   or right after `;` (nginx `server a:80;# old`), or with `//` after a
///   space or tab;
/// - either runs to the end of the line;
/// - never a comment: `#` or `//` inside `"..."` or `'...'` on the same
///   line (a backslash escapes the next byte inside double quotes; an
///   apostrophe right after a letter or digit, as in `don't`, opens no
///   quote), a URL fragment (`/#/overview`: no blank before `#`), the `//`
///   of `scheme://`, and anything at all in a JSON value (first non-blank
///   byte `{`, or `[` followed by a JSON value rather than an INI or TOML
///   section name), since JSON has no comments.
struct Comments<'b> {
    text: &'b [u8],
    /// Every byte before `pos` has been read.
    pos: usize,
    /// False for JSON values.
    enabled: bool,
    /// Only blanks so far on the current line.
    line_blank: bool,
    /// The quote open on the current line, if any.
    quote: Option<u8>,
    /// In a comment that runs to the end of the current line.
    comment: bool,
}

impl<'b> Comments<'b> {
    fn new(text: &'b [u8]) -> Self {
        Comments {
            text,
            pos: 0,
            enabled: !is_json(text),
            line_blank: true,
            quote: None,
            comment: false,
        }
    }

    /// If the byte at `at` is inside a comment, where the comment ends (the
    /// `\n` of its line, or the end of the text). `at` must not be lower
    /// than at the previous call.
    fn comment_end(&mut self, at: usize) -> Option<usize> {
        if !self.enabled {
            return None;
        }
        self.read_to(at);
        if !self.comment {
            return None;
        }
        let end = memchr::memchr(b'\n', &self.text[at..]).map_or(self.text.len(), |k| at + k);
        // Still in the comment; reading the `\n` later starts a new line.
        self.pos = end;
        Some(end)
    }

    /// Reads the bytes from `pos` up to (not including) `to`.
    fn read_to(&mut self, to: usize) {
        let b = self.text;
        if to <= self.pos {
            return;
        }
        // Only the line of `to` matters: jump to its start (memrchr reads
        // the skipped lines many bytes at a time).
        if let Some(k) = memchr::memrchr(b'\n', &b[self.pos..to]) {
            self.pos += k + 1;
            self.line_blank = true;
            self.quote = None;
            self.comment = false;
        }
        let mut i = self.pos;
        while i < to {
            let c = b[i];
            if c == b'\n' {
                self.line_blank = true;
                self.quote = None;
                self.comment = false;
                i += 1;
                continue;
            }
            if self.comment {
                i = memchr::memchr(b'\n', &b[i..to]).map_or(to, |k| i + k);
                continue;
            }
            if let Some(quote) = self.quote {
                if c == quote {
                    self.quote = None;
                    i += 1;
                } else if c == b'\\' && quote == b'"' {
                    // Skips the escaped byte, unless it ends the line.
                    i += if b.get(i + 1).is_some_and(|&e| e != b'\n') {
                        2
                    } else {
                        1
                    };
                } else {
                    let rest = &b[i..to];
                    let next = if quote == b'"' {
                        memchr::memchr3(b'"', b'\\', b'\n', rest)
                    } else {
                        memchr::memchr2(b'\'', b'\n', rest)
                    };
                    i = next.map_or(to, |k| i + k);
                }
                continue;
            }
            match BYTE_CLASSES[c as usize] {
                ByteClass::Plain => self.line_blank = false,
                ByteClass::Blank => {}
                ByteClass::Special => {
                    self.special(c, i);
                    self.line_blank = false;
                }
            }
            i += 1;
            if !self.line_blank && !self.comment && self.quote.is_none() {
                // Past the indentation only special bytes matter: the
                // hot loop, one table look-up per byte.
                while i < to && BYTE_CLASSES[b[i] as usize] != ByteClass::Special {
                    i += 1;
                }
            }
        }
        self.pos = self.pos.max(i);
    }

    /// A quote or possible comment start at `i`, outside quotes and comments.
    fn special(&mut self, c: u8, i: usize) {
        let b = self.text;
        let after_blank = i > 0 && matches!(b[i - 1], b' ' | b'\t');
        match c {
            b'"' => self.quote = Some(b'"'),
            b'\'' if i == 0 || !b[i - 1].is_ascii_alphanumeric() => self.quote = Some(b'\''),
            b'#' => {
                self.comment = self.line_blank || after_blank || (i > 0 && b[i - 1] == b';');
            }
            b'/' => {
                self.comment = b.get(i + 1) == Some(&b'/') && (self.line_blank || after_blank);
            }
            b';' | b'!' => self.comment = self.line_blank,
            _ => {}
        }
    }
}

/// Whether `text` is a JSON document rather than a config file with
/// comments: it starts (after blanks) with `{`, or with `[` followed by a
/// JSON value. `[section]` (INI) and `[[table]]` (TOML) are not JSON.
fn is_json(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() && text[i].is_ascii_whitespace() {
        i += 1;
    }
    match text.get(i) {
        Some(b'{') => true,
        Some(b'[') => {
            while i < text.len() && (text[i] == b'[' || text[i].is_ascii_whitespace()) {
                i += 1;
            }
            let rest = &text[i..];
            match rest.first() {
                None => true,
                Some(c) if matches!(c, b'{' | b'"' | b']' | b'-') || c.is_ascii_digit() => true,
                Some(_) => [&b"true"[..], b"false", b"null"].iter().any(|literal| {
                    rest.starts_with(literal)
                        && rest.get(literal.len()).is_none_or(|c| !is_host_byte(*c))
                }),
            }
        }
        _ => false,
    }
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
    // A URL filled in by a template (`…?namespace=${metadata.namespace}`,
    // a link an application renders) is not a connection made as written.
    if !host.bytes().any(is_placeholder_byte) && !rest_has_placeholder(b, j) {
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

/// Whether the rest of a URL, from `from` (the end of its authority) to
/// the first blank, comma, quote, angle bracket or the next `://` (where a
/// reference ends in config text), holds a
/// template placeholder: `${…}`, `$(…)`, `{{…}}` or `%(…)`. Stopping at
/// the next `://` keeps the whole scan linear: no byte is read here for
/// two URLs.
fn rest_has_placeholder(b: &[u8], from: usize) -> bool {
    let mut k = from;
    while k + 1 < b.len() {
        match (b[k], b[k + 1]) {
            (c, _)
                if c.is_ascii_whitespace()
                    || matches!(c, b'"' | b'\'' | b'<' | b'>' | b'`' | b',') =>
            {
                return false;
            }
            (b':', b'/') if b.get(k + 2) == Some(&b'/') => return false,
            (b'$', b'{' | b'(') | (b'{', b'{') | (b'%', b'(') => return true,
            _ => k += 1,
        }
    }
    false
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
    let (service, namespace, form, record, zone) =
        match qualified_parts(host, options.qualified_suffixes) {
            Some(q) => (
                q.service,
                lower(q.namespace),
                Form::Qualified,
                q.record,
                q.zone,
            ),
            None => {
                let scheme = scheme?;
                if !options.short_names
                    || !NETWORK_SCHEMES
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(scheme))
                {
                    return None;
                }
                let (service, namespace, form) = match host.split_once('.') {
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
                };
                (service, namespace, form, Record::Service, Zone::Cluster)
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
        record,
        zone,
    })
}

/// The parts of a qualified name, as written (not yet lower-cased).
struct Qualified<'h> {
    service: &'h str,
    namespace: &'h str,
    record: Record<'h>,
    zone: Zone<'h>,
}

/// Reads `[<hostname>. | _<port>._<proto>.]<svc>.<ns>.svc[.<zone>]`
/// (Kubernetes DNS-Based Service Discovery spec, 2.3 and 2.4),
/// case-insensitively. `qualified_suffixes` are `.svc.<d>` in lower case
/// for the domains the cluster's DNS serves; a name under another domain
/// is a reference only if that domain looks like a cluster domain (see
/// [`foreign_zone`]).
fn qualified_parts<'h>(host: &'h str, qualified_suffixes: &[String]) -> Option<Qualified<'h>> {
    let (labels, zone) = match qualified_suffixes
        .iter()
        .find_map(|suffix| strip_suffix_ignore_case(host, suffix))
        .or_else(|| strip_suffix_ignore_case(host, ".svc"))
    {
        Some(labels) => (labels, Zone::Cluster),
        None => {
            let (labels, domain) = foreign_zone(host)?;
            (labels, Zone::Foreign(lower(domain)))
        }
    };
    let (rest, namespace) = labels.rsplit_once('.')?;
    let (record, service) = match rest.rsplit_once('.') {
        Some((extra, service)) => (record_of(extra), service),
        None => (Record::Service, rest),
    };
    Some(Qualified {
        service,
        namespace,
        record,
        zone,
    })
}

/// Last labels of the domains that look like a cluster domain (`local` as
/// in `cluster.local`, `internal`, `cluster`...): private-use names, never
/// public suffixes, so `.svc.<d>` under them is meant for a cluster's DNS.
const CLUSTER_DOMAIN_ENDINGS: &[&str] = &[
    "local",
    "internal",
    "cluster",
    "lan",
    "intranet",
    "corp",
    "home",
    "localdomain",
];

/// At most this many labels in a domain that looks like a cluster domain.
const MAX_CLUSTER_DOMAIN_LABELS: usize = 3;

/// `<labels>.svc.<d>` where `d` looks like a cluster domain: 1 to
/// [`MAX_CLUSTER_DOMAIN_LABELS`] valid DNS labels, the last one in
/// [`CLUSTER_DOMAIN_ENDINGS`]. Returns `<labels>` and `d` as written.
/// `svc.example.com` or `x.svc.amazonaws.com` are public names, not this.
fn foreign_zone(host: &str) -> Option<(&str, &str)> {
    let last_dot = host.rfind('.')?;
    let last = &host[last_dot + 1..];
    if !CLUSTER_DOMAIN_ENDINGS
        .iter()
        .any(|e| e.eq_ignore_ascii_case(last))
    {
        return None;
    }
    // `domain_start` is where `d` starts; the label before it is either
    // `svc` or one more label of `d`.
    let mut domain_start = last_dot + 1;
    for _ in 0..MAX_CLUSTER_DOMAIN_LABELS {
        let before = &host[..domain_start - 1];
        let label_start = before.rfind('.').map_or(0, |dot| dot + 1);
        if label_start == 0 {
            return None;
        }
        if before[label_start..].eq_ignore_ascii_case("svc") {
            let domain = &host[domain_start..];
            return domain
                .split('.')
                .all(is_dns_label_ignore_case)
                .then(|| (&host[..label_start - 1], domain));
        }
        domain_start = label_start;
    }
    None
}

/// The protocols an SRV name can ask for: those of a Service port.
const SRV_PROTOCOLS: &[&str] = &["tcp", "udp", "sctp"];

/// The record asked for by the labels before `<svc>.<ns>`: one hostname
/// label is a Pod's A record, `_<port>._<proto>` a named port's SRV record
/// (Kubernetes DNS-Based Service Discovery spec: 2.4.1 A/AAAA records of
/// a headless Service, 2.3.2 and 2.4.2 SRV records). Any other shape
/// (more labels, one `_` label, an invalid label, a protocol other than
/// TCP, UDP, SCTP) is kept as [`Record::Service`]: cluster DNS answers
/// none of them, but they are judged as the Service's own name (existence
/// and port), as before pod and SRV names were told apart, so an unusual
/// name is never rejected for its extra labels.
fn record_of(extra: &str) -> Record<'_> {
    match extra.split_once('.') {
        None if !extra.starts_with('_') && is_dns_label_ignore_case(extra) => {
            Record::PodHostname(lower(extra))
        }
        Some((port, protocol)) => match (port.strip_prefix('_'), protocol.strip_prefix('_')) {
            (Some(port_name), Some(protocol))
                if is_dns_label_ignore_case(port_name)
                    && SRV_PROTOCOLS
                        .iter()
                        .any(|p| p.eq_ignore_ascii_case(protocol)) =>
            {
                Record::Srv {
                    port_name: lower(port_name),
                    protocol: lower(protocol),
                }
            }
            _ => Record::Service,
        },
        None => Record::Service,
    }
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

/// A DNS-1123 label in any case (DNS names are case-insensitive).
fn is_dns_label_ignore_case(label: &str) -> bool {
    let b = label.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn scan_with(text: &str, short_names: bool, ignored: &[&str]) -> Vec<(String, String, Port)> {
        let ignored: Vec<Glob> = ignored.iter().map(|p| Glob::new(p)).collect();
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
    #[case::non_ascii_glued("http://gön.shop.svc:80 ｇone.shop.svc", vec![])]
    #[case::non_ascii_apart("ü http://api.shop.svc:80", one("api", "shop", Explicit(80)))]
    #[case::placeholder_domain("redis.db.svc.${DOMAIN}", vec![])]
    #[case::placeholder_port("http://a.b.svc:${PORT}/x", one("a", "b", Unknown))]
    // a URL a template fills in is not judged; the same URL resolved is
    #[case::placeholder_in_query("http://logging.b.svc:80/?ns=${metadata.namespace}&pod=${metadata.name}", vec![])]
    #[case::helm_placeholder_in_path("http://api.b.svc:80/{{ .Values.path }}", vec![])]
    #[case::placeholder_resolved(
        "http://logging.b.svc:80/?ns=argo&pod=w-1",
        one("logging", "b", Explicit(80))
    )]
    #[case::placeholder_of_the_next_url(
        "http://a.b.svc:80/ok http://c.d.svc:81/${x}",
        one("a", "b", Explicit(80))
    )]
    #[case::placeholder_after_a_comma("http://a.b.svc:80/db,$(X)", one("a", "b", Explicit(80)))]
    #[case::placeholder_after_a_nested_url(
        "http://a.b.svc:80/?to=http://c.d.svc:81/${x}",
        one("a", "b", Explicit(80))
    )]
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
    #[case::generic_tlds("https://web.dev/ https://expo.app http://docs.page:80", vec![])]
    #[case::two_labels_not_a_tld("https://web.shop/", one("web", "shop", SchemeDefault(443)))]
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

    /// The services found in `text` with the default options.
    fn services(text: &str) -> Vec<String> {
        refs(text)
            .into_iter()
            .map(|(service, _, _)| service)
            .collect()
    }

    #[rstest]
    #[case::issue_yaml_example(
        "# Example: backend: http://example-svc.other.svc.cluster.local:8080\nbackend: http://api.shop.svc.cluster.local:8080\n",
        &["api"]
    )]
    #[case::issue_yaml_example_uncommented(
        "Example: backend: http://example-svc.other.svc.cluster.local:8080\nbackend: http://api.shop.svc.cluster.local:8080\n",
        &["example-svc", "api"]
    )]
    #[case::issue_nginx(
        "upstream b {\n  server api.shop.svc.cluster.local:8080;\n  # server api-canary.shop.svc.cluster.local:8080;\n}\n",
        &["api"]
    )]
    #[case::issue_nginx_uncommented(
        "upstream b {\n  server api.shop.svc.cluster.local:8080;\n  server api-canary.shop.svc.cluster.local:8080;\n}\n",
        &["api", "api-canary"]
    )]
    #[case::yaml_indented_whole_line(
        "upstreams:\n  # - http://old.shop.svc:80\n  - http://api.shop.svc:80\n",
        &["api"]
    )]
    #[case::yaml_indented_whole_line_uncommented(
        "upstreams:\n  - http://old.shop.svc:80\n  - http://api.shop.svc:80\n",
        &["old", "api"]
    )]
    #[case::yaml_trailing(
        "url: http://api.shop.svc:80  # was http://old.shop.svc:80\nnext: b.shop.svc\n",
        &["api", "b"]
    )]
    #[case::yaml_trailing_uncommented(
        "url: http://api.shop.svc:80    was http://old.shop.svc:80\nnext: b.shop.svc\n",
        &["api", "old", "b"]
    )]
    #[case::toml(
        "[backend]\n# url = \"http://old.shop.svc:80\"\nurl = \"http://api.shop.svc:80\" # old.shop.svc:81\n",
        &["api"]
    )]
    #[case::toml_uncommented(
        "[backend]\nurl = \"http://old.shop.svc:80\"\nurl = \"http://api.shop.svc:80\"   old.shop.svc:81\n",
        &["old", "api", "old"]
    )]
    #[case::toml_array_of_tables(
        "[[servers]]\n# url = \"http://old.shop.svc:80\"\n",
        &[]
    )]
    #[case::shell(
        "#!/bin/sh\n# curl http://old.shop.svc:80/healthz\ncurl http://api.shop.svc:80/healthz # or old.shop.svc\n",
        &["api"]
    )]
    #[case::shell_uncommented(
        "#!/bin/sh\ncurl http://old.shop.svc:80/healthz\ncurl http://api.shop.svc:80/healthz   or old.shop.svc\n",
        &["old", "api", "old"]
    )]
    #[case::nginx_trailing_after_semicolon(
        "server api.shop.svc.cluster.local:8080;# server old.shop.svc.cluster.local:8080;\n",
        &["api"]
    )]
    #[case::nginx_trailing_after_semicolon_uncommented(
        "server api.shop.svc.cluster.local:8080; server old.shop.svc.cluster.local:8080;\n",
        &["api", "old"]
    )]
    #[case::hcl_hash(
        "# address = \"old.shop.svc:8500\"\naddress = \"api.shop.svc:8500\"\n",
        &["api"]
    )]
    #[case::hcl_hash_uncommented(
        "address = \"old.shop.svc:8500\"\naddress = \"api.shop.svc:8500\"\n",
        &["old", "api"]
    )]
    #[case::hcl_slashes(
        "backend \"consul\" {\n  // address = \"old.shop.svc:8500\"\n  address = \"api.shop.svc:8500\" // was old.shop.svc:8501\n}\n",
        &["api"]
    )]
    #[case::hcl_slashes_uncommented(
        "backend \"consul\" {\n  address = \"old.shop.svc:8500\"\n  address = \"api.shop.svc:8500\"    was old.shop.svc:8501\n}\n",
        &["old", "api", "old"]
    )]
    #[case::prometheus(
        "scrape_configs:\n  - job_name: api\n    static_configs:\n      - targets:\n        # - old.shop.svc:9090\n        - api.shop.svc:9090 # old.shop.svc:9091\n",
        &["api"]
    )]
    #[case::prometheus_uncommented(
        "scrape_configs:\n  - job_name: api\n    static_configs:\n      - targets:\n        - old.shop.svc:9090\n        - api.shop.svc:9090 , old.shop.svc:9091\n",
        &["old", "api", "old"]
    )]
    #[case::properties_hash(
        "# db.host=old.shop.svc:5432\ndb.host=api.shop.svc:5432\n",
        &["api"]
    )]
    #[case::properties_hash_uncommented(
        "db.host=old.shop.svc:5432\ndb.host=api.shop.svc:5432\n",
        &["old", "api"]
    )]
    #[case::properties_bang(
        "! db.url=jdbc:postgresql://old.shop.svc:5432/app\n   !db.host=old.shop.svc\ndb.host=api.shop.svc:5432\n",
        &["api"]
    )]
    #[case::properties_bang_uncommented(
        "db.url=jdbc:postgresql://old.shop.svc:5432/app\n   db.host=old.shop.svc\ndb.host=api.shop.svc:5432\n",
        &["old", "old", "api"]
    )]
    #[case::ini_semicolon(
        "[database]\n; host = old.shop.svc:5432\n  ;host = old.shop.svc\nhost = api.shop.svc:5432\n",
        &["api"]
    )]
    #[case::ini_semicolon_uncommented(
        "[database]\nhost = old.shop.svc:5432\n  host = old.shop.svc\nhost = api.shop.svc:5432\n",
        &["old", "old", "api"]
    )]
    #[case::js_whole_line(
        "module.exports = {\n  // api: 'http://old.shop.svc:80',\n  api: 'http://api.shop.svc:80',\n};\n",
        &["api"]
    )]
    #[case::js_whole_line_uncommented(
        "module.exports = {\n  old: 'http://old.shop.svc:80',\n  api: 'http://api.shop.svc:80',\n};\n",
        &["old", "api"]
    )]
    #[case::js_trailing(
        "const api = 'http://api.shop.svc:80'; // 'http://old.shop.svc:80'\n",
        &["api"]
    )]
    #[case::js_trailing_uncommented(
        "const api = 'http://api.shop.svc:80'; 'http://old.shop.svc:80'\n",
        &["api", "old"]
    )]
    #[case::comment_ends_at_line_end(
        "a: 1 # http://old.shop.svc:80\r\nb: http://api.shop.svc:80\n",
        &["api"]
    )]
    #[case::last_line_without_newline("a: x.shop.svc\n# http://old.shop.svc:80", &["x"])]
    #[case::apostrophe_in_a_word_opens_no_quote(
        "note: don't # http://old.shop.svc:80\n",
        &[]
    )]
    #[case::quote_closed_by_the_line_end(
        "a: 'unterminated\n# http://old.shop.svc:80\nb: \"unterminated\n  # http://old.shop.svc:80\n",
        &[]
    )]
    #[case::escaped_backslash_closes_the_string(
        "x = \"a\\\\\" # http://old.shop.svc:80\n",
        &[]
    )]
    fn comments_are_not_configuration(#[case] text: &str, #[case] expected: &[&str]) {
        assert_eq!(services(text), expected, "{text}");
    }

    #[rstest]
    #[case::url_fragment(
        "link: http://argo.ops.svc:8080/#/apps?next=http://api.shop.svc:80 #x\n",
        &["argo", "api"]
    )]
    #[case::url_fragment_at_line_start("http://argo.ops.svc/#/x http://api.shop.svc\n", &["argo", "api"])]
    #[case::hash_in_double_quotes("cmd: \"echo # http://api.shop.svc:80\"\n", &["api"])]
    #[case::hash_in_single_quotes("cmd: 'echo # http://api.shop.svc:80'\n", &["api"])]
    #[case::slashes_in_double_quotes("x = \"see // http://api.shop.svc:80\"\n", &["api"])]
    #[case::slashes_in_single_quotes("x: 'see // api.shop.svc:80'\n", &["api"])]
    #[case::escaped_quote_in_string(
        "x = \"say \\\" # http://api.shop.svc:80\"\n",
        &["api"]
    )]
    #[case::semicolon_mid_line("a=1; http://api.shop.svc:80\n", &["api"])]
    #[case::bang_mid_line("hello! http://api.shop.svc:80\n", &["api"])]
    #[case::scheme_slashes("url: http://api.shop.svc:80 grpc://b.shop.svc:81\n", &["api", "b"])]
    #[case::hash_glued_to_a_word("color=#fff api.shop.svc:80 a#b.shop.svc\n", &["api", "b"])]
    #[case::json_object(
        r#"{"cmd": "sh -c 'curl http://api.shop.svc:80' # http://b.shop.svc:81", "doc": "// http://c.shop.svc:82"}"#,
        &["api", "b", "c"]
    )]
    #[case::json_pretty(
        "\n  {\n  \"a\": \"x # api.shop.svc:80\",\n  \"b\": \"// b.shop.svc\"\n}\n",
        &["api", "b"]
    )]
    #[case::json_array(r#"["http://api.shop.svc:80 # x", "// b.shop.svc:1"]"#, &["api", "b"])]
    #[case::json_nested_array(r##"[[1, "# api.shop.svc"]]"##, &["api"])]
    #[case::json_has_no_comments("{\"a\": 1}\n# http://api.shop.svc:80\n", &["api"])]
    fn never_comments(#[case] text: &str, #[case] expected: &[&str]) {
        assert_eq!(services(text), expected, "{text}");
    }

    /// (service, namespace, record, zone) of every reference in `text`
    /// when the cluster's DNS serves `domains`.
    fn records<'t>(text: &'t str, domains: &[&str]) -> Vec<(String, String, Record<'t>, Zone<'t>)> {
        let suffixes: Vec<String> = domains.iter().map(|d| format!(".svc.{d}")).collect();
        let options = ScanOptions {
            qualified_suffixes: &suffixes,
            default_namespace: "home",
            short_names: true,
            ignored_hosts: &[],
        };
        scan(text, &options)
            .into_iter()
            .map(|r| {
                (
                    r.service.into_owned(),
                    r.namespace.into_owned(),
                    r.record,
                    r.zone,
                )
            })
            .collect()
    }

    fn pod(hostname: &str) -> Record<'_> {
        Record::PodHostname(Cow::Borrowed(hostname))
    }

    fn srv<'a>(port_name: &'a str, protocol: &'a str) -> Record<'a> {
        Record::Srv {
            port_name: Cow::Borrowed(port_name),
            protocol: Cow::Borrowed(protocol),
        }
    }

    fn foreign(domain: &str) -> Zone<'_> {
        Zone::Foreign(Cow::Borrowed(domain))
    }

    use Record::Service as SERVICE;
    use Zone::Cluster as CLUSTER;

    #[rstest]
    #[case::service("api.shop.svc.cluster.local:80", "api", "shop", SERVICE, CLUSTER)]
    #[case::svc_bare("redis.cache.svc:6379", "redis", "cache", SERVICE, CLUSTER)]
    #[case::svc_bare_then_sentence("see redis.cache.svc.", "redis", "cache", SERVICE, CLUSTER)]
    #[case::url_svc_bare("http://redis.cache.svc/x", "redis", "cache", SERVICE, CLUSTER)]
    #[case::pod_hostname(
        "kafka-0.kafka-headless.kafka.svc.cluster.local:9092",
        "kafka-headless",
        "kafka",
        pod("kafka-0"),
        CLUSTER
    )]
    #[case::pod_hostname_upper_case("Kafka-0.Kafka.MQ.svc", "kafka", "mq", pod("kafka-0"), CLUSTER)]
    #[case::pod_hostname_in_url(
        "mongodb://mongo-1.mongo.db.svc:27017/app",
        "mongo",
        "db",
        pod("mongo-1"),
        CLUSTER
    )]
    #[case::srv_tcp(
        "_grpc._tcp.api.prod.svc.cluster.local",
        "api",
        "prod",
        srv("grpc", "tcp"),
        CLUSTER
    )]
    #[case::srv_udp_upper_case(
        "_DNS._UDP.coredns.kube-system.svc",
        "coredns",
        "kube-system",
        srv("dns", "udp"),
        CLUSTER
    )]
    #[case::srv_sctp("_sig._sctp.amf.core.svc", "amf", "core", srv("sig", "sctp"), CLUSTER)]
    #[case::srv_unknown_protocol("_http._quic.api.prod.svc", "api", "prod", SERVICE, CLUSTER)]
    #[case::srv_one_underscore_label("_http.api.prod.svc", "api", "prod", SERVICE, CLUSTER)]
    #[case::srv_protocol_without_underscore(
        "_http.tcp.api.prod.svc",
        "api",
        "prod",
        SERVICE,
        CLUSTER
    )]
    #[case::srv_port_without_underscore("http._tcp.api.prod.svc", "api", "prod", SERVICE, CLUSTER)]
    #[case::srv_empty_port_name("_._tcp.api.prod.svc", "api", "prod", SERVICE, CLUSTER)]
    #[case::three_extra_labels("a.b.c.api.prod.svc", "api", "prod", SERVICE, CLUSTER)]
    #[case::three_extra_labels_srv_like(
        "x._http._tcp.api.prod.svc",
        "api",
        "prod",
        SERVICE,
        CLUSTER
    )]
    #[case::invalid_hostname_label("a_b.api.prod.svc", "api", "prod", SERVICE, CLUSTER)]
    #[case::service_named_svc("svc.svc.svc.cluster.local", "svc", "svc", SERVICE, CLUSTER)]
    fn dns_forms(
        #[case] text: &str,
        #[case] service: &str,
        #[case] namespace: &str,
        #[case] record: Record,
        #[case] zone: Zone,
    ) {
        let expected = vec![(service.to_string(), namespace.to_string(), record, zone)];
        assert_eq!(records(text, &["cluster.local"]), expected, "{text}");
    }

    #[rstest]
    #[case::foreign_pod_hostname(
        "kafka-0.kafka-headless.kafka.svc.cluster.local:9092",
        &["corp.internal"],
        Some(("kafka-headless", "kafka", pod("kafka-0"), foreign("cluster.local")))
    )]
    #[case::foreign_in_url(
        "http://API.Shop.SVC.Cluster.Local:80",
        &["corp.internal"],
        Some(("api", "shop", SERVICE, foreign("cluster.local")))
    )]
    #[case::foreign_one_label(
        "api.shop.svc.cluster",
        &["cluster.local"],
        Some(("api", "shop", SERVICE, foreign("cluster")))
    )]
    #[case::foreign_three_labels(
        "_web._tcp.api.shop.svc.eu-1.k8s.local",
        &["cluster.local"],
        Some(("api", "shop", srv("web", "tcp"), foreign("eu-1.k8s.local")))
    )]
    #[case::foreign_four_labels("api.shop.svc.a.eu-1.k8s.local", &["cluster.local"], None)]
    #[case::foreign_invalid_label("api.shop.svc.-x.local", &["cluster.local"], None)]
    #[case::configured_domain(
        "api.shop.svc.corp.internal:80",
        &["corp.internal"],
        Some(("api", "shop", SERVICE, CLUSTER))
    )]
    #[case::configured_additional_domain(
        "pod-0.api.shop.svc.cluster.local:80",
        &["corp.internal", "cluster.local"],
        Some(("api", "shop", pod("pod-0"), CLUSTER))
    )]
    #[case::configured_domain_not_cluster_looking(
        "api.shop.svc.corp.example:80",
        &["cluster.local", "corp.example"],
        Some(("api", "shop", SERVICE, CLUSTER))
    )]
    #[case::bare_svc_with_any_domain(
        "api.shop.svc:80",
        &["corp.internal"],
        Some(("api", "shop", SERVICE, CLUSTER))
    )]
    #[case::no_configured_domain(
        "api.shop.svc.cluster.local:80",
        &[],
        Some(("api", "shop", SERVICE, foreign("cluster.local")))
    )]
    #[case::public_domain("api.shop.svc.example.com:80", &["cluster.local"], None)]
    #[case::public_domain_in_url("https://api.shop.svc.example.com/x", &["cluster.local"], None)]
    #[case::aws_endpoint("vpce-1.x.svc.amazonaws.com", &["cluster.local"], None)]
    #[case::svc_as_zone_label("svc.example.local", &["cluster.local"], None)]
    #[case::no_namespace_foreign("api.svc.cluster.local", &["corp.internal"], None)]
    #[case::placeholder_foreign("${POD}.kafka.mq.svc.cluster.local", &["corp.internal"], None)]
    fn zones(
        #[case] text: &str,
        #[case] domains: &[&str],
        #[case] expected: Option<(&str, &str, Record, Zone)>,
    ) {
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(s, n, r, z)| (s.to_string(), n.to_string(), r, z))
            .collect();
        assert_eq!(records(text, domains), expected, "{text}");
    }

    #[test]
    fn foreign_names_are_bounded_and_ignorable() {
        let long = format!("{}b.ns.svc.cluster.local", "a.".repeat(120));
        assert_eq!(records(&long, &["corp.internal"]), vec![]);
        let ignored = [Glob::new("*.svc.cluster.local")];
        let suffixes = [".svc.corp.internal".to_string()];
        let options = ScanOptions {
            qualified_suffixes: &suffixes,
            default_namespace: "home",
            short_names: false,
            ignored_hosts: &ignored,
        };
        let text = "a.b.svc.cluster.local c.d.svc.corp.internal";
        let found: Vec<_> = scan(text, &options)
            .into_iter()
            .map(|r| r.service)
            .collect();
        assert_eq!(found, vec!["c"]);
    }

    #[test]
    fn short_forms_are_service_records_in_the_cluster_zone() {
        let found = records("http://grafana:3000 http://a.b:80", &["cluster.local"]);
        assert!(
            found
                .iter()
                .all(|(_, _, r, z)| *r == Record::Service && *z == Zone::Cluster),
            "{found:?}"
        );
        assert_eq!(found.len(), 2);
    }

    // Inputs big enough that reading a line again from its start for each
    // reference (or each `#`) would take minutes instead of milliseconds.

    #[test]
    fn one_huge_line_of_quotes_hashes_and_references_is_read_once() {
        let unit = "'#' \"a # b\" http://a.b.svc/#/x x.y.svc:1 ";
        let text = unit.repeat(1 << 20 >> 5);
        assert!(text.len() > 1 << 20);
        let found = refs(&text);
        assert_eq!(found.len(), 2 * (1 << 20 >> 5));
    }

    #[test]
    fn one_huge_line_of_glued_hashes() {
        let text = "u.v.svc#".repeat(1 << 17);
        assert_eq!(refs(&text).len(), 1 << 17);
    }

    #[test]
    fn many_comment_lines() {
        let text = "a.b.svc:1;# c.d.svc\n  // http://e.f.svc\n; g.h.svc\n".repeat(1 << 14);
        let found = refs(&text);
        assert_eq!(found.len(), 1 << 14);
        assert!(found.iter().all(|(s, _, _)| s == "a"));
    }

    #[test]
    fn a_comment_on_a_huge_line_hides_the_rest_of_it() {
        let text = format!("x.y.svc # {}\nz.y.svc", "http://a.b.svc ".repeat(1 << 16));
        assert_eq!(services(&text), vec!["x", "z"]);
    }
}
