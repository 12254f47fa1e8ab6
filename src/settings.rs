//! Policy settings: what each check watches and how it reports.

use std::cell::RefCell;
use std::rc::Rc;

use kubewarden_policy_sdk::settings::Validatable;
use serde::Serialize;
use serde_json::{Map, Value};
use wildmatch::WildMatch;

use crate::quote::{clip, join_capped};

/// What to do with a ConfigMap whose Service references do not resolve.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Reject the ConfigMap.
    #[default]
    Deny,
    /// Accept it and return Kubernetes warnings (kubectl and Helm print them).
    Warn,
}

/// What to do when the host cannot say which Services exist.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnLookupError {
    /// Reject: the references could not be verified.
    #[default]
    Deny,
    /// Accept with a warning.
    Allow,
}

/// What to do with a workload that names a Secret that does not exist
/// (`missingSecrets`).
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum MissingSecrets {
    /// Accept with a warning: the kubelet retries a missing Secret until it
    /// exists, and certificate generators and operators write theirs after
    /// the workloads that mount them are admitted.
    #[default]
    Warn,
    /// As `action` says (deny by default).
    Deny,
}

/// What to do with a reference the API server tolerates and an installer
/// may create next: a StatefulSet's governing Service, an HPA's scale
/// target, a binding's role or ServiceAccount.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum WarnOrDeny {
    /// Accept with a warning.
    #[default]
    Warn,
    /// As `action` says (deny by default).
    Deny,
}

/// The policy's settings, as written in a ClusterAdmissionPolicy `spec.settings`.
/// Read by [`Settings::from_value`]; serialized (camelCase) as written.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// Environment variables holding kubeconfig paths.
    pub variables: Vec<String>,
    /// Paths (and everything below them) known to be baked into images.
    pub allowed_paths: Vec<String>,
    /// Accept kubeconfig paths that lie on a `hostPath` volume.
    pub allow_host_path_volumes: bool,
    /// Remove offending variables (mutation) instead of rejecting.
    pub remove_offending_variables: bool,
    /// Warn about watched variables set through `valueFrom`/`envFrom`, which cannot be checked.
    pub warn_on_unresolved_values: bool,

    /// Deny or warn on ConfigMap references to missing Services or ports.
    pub action: Action,
    /// The cluster's DNS domain (`<svc>.<ns>.svc.<clusterDomain>`).
    pub cluster_domain: String,
    /// Further domains the cluster's DNS serves Service records under
    /// (CoreDNS `kubernetes` plugin zones beyond the first).
    pub additional_cluster_domains: Vec<String>,
    /// Also check `scheme://<svc>[.<ns>][:port]` short names inside URLs.
    pub check_short_names: bool,
    /// Check that the Service exposes the referenced port.
    pub check_ports: bool,
    /// Glob patterns ([`Glob`]) of hosts never checked.
    pub ignored_hosts: Vec<String>,
    /// Glob patterns ([`Glob`]) of ConfigMap keys that hold documentation,
    /// not configuration (Knative's `_example`); they are never scanned.
    pub ignored_keys: Vec<String>,
    /// Glob patterns ([`Glob`], case-sensitive) of environment variables
    /// whose `env` values are never scanned for Services.
    pub ignored_variables: Vec<String>,
    /// What to do when the Services of a namespace cannot be listed.
    pub on_lookup_error: OnLookupError,
    /// Upper bound on namespaces looked up for one request.
    pub max_namespaces_per_request: usize,

    /// Check workloads for what their Pod template names: consumed
    /// ConfigMaps (existence, keys, and the Services their values name),
    /// KUBECONFIG values taken from ConfigMaps, and the ServiceAccount.
    pub check_workload_references: bool,
    /// Also check that the Secrets a workload names exist (names only).
    pub check_secret_references: bool,
    /// A missing Secret warns (default) or follows `action`.
    pub missing_secrets: MissingSecrets,
    /// Check that the Services that Ingress and Gateway API route backends
    /// name exist, with the port.
    pub check_routes: bool,
    /// Check that the Services that webhook configurations, APIServices
    /// and CRD conversion webhooks call exist, with the port.
    pub check_webhook_services: bool,
    /// An APIService or a CRD conversion webhook whose Service (or port)
    /// does not exist warns (default) or follows `action`.
    pub missing_extension_services: WarnOrDeny,
    /// A StatefulSet whose `serviceName` names no Service warns (default)
    /// or follows `action` (with `checkWorkloadReferences`).
    pub missing_governing_services: WarnOrDeny,
    /// An HPA whose `scaleTargetRef` names no workload warns (default) or
    /// follows `action`.
    pub missing_scale_targets: WarnOrDeny,
    /// A RoleBinding or ClusterRoleBinding whose `roleRef` or ServiceAccount
    /// subject does not exist warns (default) or follows `action`.
    pub missing_binding_references: WarnOrDeny,
}

/// Default for [`Settings::ignored_keys`]: Knative ships every ConfigMap
/// with an `_example` key that its own text declares is not read.
pub const DEFAULT_IGNORED_KEYS: &[&str] = &["_example"];

/// Default for [`Settings::max_namespaces_per_request`].
pub const DEFAULT_MAX_NAMESPACES: usize = 20;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            variables: vec!["KUBECONFIG".to_string()],
            allowed_paths: Vec::new(),
            allow_host_path_volumes: false,
            remove_offending_variables: false,
            warn_on_unresolved_values: false,
            action: Action::Deny,
            cluster_domain: "cluster.local".to_string(),
            additional_cluster_domains: Vec::new(),
            check_short_names: false,
            check_ports: true,
            ignored_hosts: Vec::new(),
            ignored_keys: DEFAULT_IGNORED_KEYS.iter().map(|k| k.to_string()).collect(),
            ignored_variables: Vec::new(),
            on_lookup_error: OnLookupError::Deny,
            max_namespaces_per_request: DEFAULT_MAX_NAMESPACES,
            check_workload_references: false,
            check_secret_references: false,
            missing_secrets: MissingSecrets::Warn,
            check_routes: true,
            check_webhook_services: true,
            missing_extension_services: WarnOrDeny::Warn,
            missing_governing_services: WarnOrDeny::Warn,
            missing_scale_targets: WarnOrDeny::Warn,
            missing_binding_references: WarnOrDeny::Warn,
        }
    }
}

impl Settings {
    /// Parses settings as the host sends them (JSON text); `null` means all
    /// defaults. Errors start with "invalid settings: ".
    pub fn from_json(raw: impl AsRef<[u8]>) -> Result<Settings, String> {
        let trimmed = raw.as_ref().trim_ascii();
        if trimmed.is_empty() {
            return Ok(Settings::default());
        }
        let value: Value =
            serde_json::from_slice(trimmed).map_err(|e| format!("invalid settings: {e}"))?;
        Settings::from_value(&value)
    }

    /// Reads settings from their JSON value: `null` means all defaults, and
    /// so does an absent or `null` field; an unknown field is refused, as
    /// Kubewarden's policies do. The errors keep serde's wording, after the
    /// name of the field (`checkPorts: invalid type: string "yes", expected
    /// a boolean`), and start with "invalid settings: ".
    ///
    /// Read by hand rather than derived: with no typed deserializer left,
    /// the wasm ships no serde type-error machinery (about 28 KB with the
    /// float formatting it pulls in).
    pub fn from_value(value: &Value) -> Result<Settings, String> {
        let read = || match value {
            Value::Null => Ok(Settings::default()),
            Value::Object(fields) => Settings::read(fields),
            other => Err(invalid_type(other, "a map of settings")),
        };
        read().map_err(|e| format!("invalid settings: {e}"))
    }

    fn read(m: &Map<String, Value>) -> Result<Settings, String> {
        if let Some(unknown) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            let expected: Vec<String> = FIELDS.iter().map(|f| format!("`{f}`")).collect();
            return Err(format!(
                "unknown field `{}`, expected one of {}",
                clip(unknown),
                expected.join(", ")
            ));
        }
        // Each field set in place on the defaults: one value to drop when a
        // field is refused, where a struct literal of `unwrap_or`s drops
        // every field read before it (about 4 KB of the module).
        let mut s = Settings::default();
        let at = |key: &'static str| (key, m.get(key).filter(|v| !v.is_null()));
        set(&mut s.variables, strings(at("variables"))?);
        set(&mut s.allowed_paths, strings(at("allowedPaths"))?);
        set(
            &mut s.allow_host_path_volumes,
            flag(at("allowHostPathVolumes"))?,
        );
        set(
            &mut s.remove_offending_variables,
            flag(at("removeOffendingVariables"))?,
        );
        set(
            &mut s.warn_on_unresolved_values,
            flag(at("warnOnUnresolvedValues"))?,
        );
        set(
            &mut s.action,
            variant(at("action"), &["deny", "warn"])?.map(|i| [Action::Deny, Action::Warn][i]),
        );
        set(&mut s.cluster_domain, text(at("clusterDomain"))?);
        set(
            &mut s.additional_cluster_domains,
            strings(at("additionalClusterDomains"))?,
        );
        set(&mut s.check_short_names, flag(at("checkShortNames"))?);
        set(&mut s.check_ports, flag(at("checkPorts"))?);
        set(&mut s.ignored_hosts, strings(at("ignoredHosts"))?);
        set(&mut s.ignored_keys, strings(at("ignoredKeys"))?);
        set(&mut s.ignored_variables, strings(at("ignoredVariables"))?);
        set(
            &mut s.on_lookup_error,
            variant(at("onLookupError"), &["deny", "allow"])?
                .map(|i| [OnLookupError::Deny, OnLookupError::Allow][i]),
        );
        set(
            &mut s.max_namespaces_per_request,
            count(at("maxNamespacesPerRequest"))?,
        );
        set(
            &mut s.check_workload_references,
            flag(at("checkWorkloadReferences"))?,
        );
        set(
            &mut s.check_secret_references,
            flag(at("checkSecretReferences"))?,
        );
        set(
            &mut s.missing_secrets,
            variant(at("missingSecrets"), &["warn", "deny"])?
                .map(|i| [MissingSecrets::Warn, MissingSecrets::Deny][i]),
        );
        set(&mut s.check_routes, flag(at("checkRoutes"))?);
        set(
            &mut s.check_webhook_services,
            flag(at("checkWebhookServices"))?,
        );
        set(
            &mut s.missing_extension_services,
            warn_or_deny(at("missingExtensionServices"))?,
        );
        set(
            &mut s.missing_governing_services,
            warn_or_deny(at("missingGoverningServices"))?,
        );
        set(
            &mut s.missing_scale_targets,
            warn_or_deny(at("missingScaleTargets"))?,
        );
        set(
            &mut s.missing_binding_references,
            warn_or_deny(at("missingBindingReferences"))?,
        );
        Ok(s)
    }

    /// Parses settings as the host sends them (JSON text) and validates
    /// them: what `validate_settings` needs.
    pub fn parse_valid(raw: impl AsRef<[u8]>) -> Result<Settings, String> {
        let settings = Settings::from_json(raw)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Reads settings from their JSON value (serde_json's reading of a
    /// `validate` payload), and validates them.
    pub fn valid_from_value(value: &Value) -> Result<Settings, String> {
        let settings = Settings::from_value(value)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Lower-cased cluster domain labels without a trailing dot.
    pub fn cluster_domain_labels(&self) -> Vec<String> {
        domain_labels(&self.cluster_domain)
    }

    /// What the checks use, built once per settings text ([`compiled`]):
    /// lower-cased patterns and the `.svc.<domain>` suffixes of every
    /// cluster domain.
    pub fn compile(&self) -> Compiled {
        let lower_globs = |patterns: &[String], lower: bool| {
            patterns
                .iter()
                .map(|p| {
                    Glob::new(&if lower {
                        p.to_ascii_lowercase()
                    } else {
                        p.clone()
                    })
                })
                .collect()
        };
        let cluster_domain = self.cluster_domain_labels().join(".");
        let mut qualified_suffixes = vec![format!(".svc.{cluster_domain}")];
        for extra in &self.additional_cluster_domains {
            let suffix = format!(".svc.{}", domain_labels(extra).join("."));
            if !qualified_suffixes.contains(&suffix) {
                qualified_suffixes.push(suffix);
            }
        }
        Compiled {
            settings: self.clone(),
            cluster_domain,
            qualified_suffixes,
            ignored_hosts: lower_globs(&self.ignored_hosts, true),
            // Keys are case-sensitive, as in the API.
            ignored_keys: lower_globs(&self.ignored_keys, false),
            // Variable names are case-sensitive too.
            ignored_variables: lower_globs(&self.ignored_variables, false),
        }
    }
}

/// Settings as a `validate` payload holds them (see
/// [`crate::admission::Payload`]).
#[derive(Debug, PartialEq)]
pub enum Sent<'a> {
    /// Their JSON text, as sent: what the one pass over the payload keeps.
    Text(&'a str),
    /// Their value, where serde_json read the payload instead. Not written
    /// back as text: serde_json's float reading is not exact, so a float
    /// would not always read back as the same number.
    Value(serde_json::Value),
}

/// The settings `sent` (`None`: all defaults), validated and compiled;
/// errors are [`Settings::parse_valid`]'s. The last text and its
/// compilation are kept, so a request with the same settings text reads,
/// validates and compiles nothing: that serves hosts that reuse an
/// instance (`kwctl bench` and `kwctl run`, this project's CLI), not
/// policy-server, which evaluates every request on a fresh instance.
pub fn compiled(sent: Option<&Sent>) -> Result<Rc<Compiled>, String> {
    thread_local! {
        static LAST: RefCell<Option<(String, Rc<Compiled>)>> = const { RefCell::new(None) };
    }
    let text = match sent {
        None => "null",
        Some(Sent::Text(text)) => text,
        Some(Sent::Value(value)) => {
            return Settings::valid_from_value(value).map(|s| Rc::new(s.compile()));
        }
    };
    LAST.with_borrow_mut(|last| {
        if let Some((kept, compiled)) = last.as_ref()
            && kept == text
        {
            return Ok(Rc::clone(compiled));
        }
        let compiled = Rc::new(Settings::parse_valid(text)?.compile());
        *last = Some((text.to_owned(), Rc::clone(&compiled)));
        Ok(compiled)
    })
}

/// Whether `domain` is one or more DNS-1123 labels (a trailing dot allowed).
fn is_dns_domain(domain: &str) -> bool {
    let labels = domain_labels(domain);
    !labels.is_empty() && labels.iter().all(|l| is_dns1123_label(l))
}

fn domain_labels(domain: &str) -> Vec<String> {
    domain
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// Settings compiled into what the checks match against; the checks take
/// this, never raw [`Settings`].
#[derive(Debug)]
pub struct Compiled {
    /// The settings as validated.
    pub settings: Settings,
    /// `clusterDomain`, lower case, without a trailing dot.
    pub cluster_domain: String,
    /// `.svc.<d>` for `clusterDomain` first, then every additional domain.
    pub qualified_suffixes: Vec<String>,
    /// `ignoredHosts`, lower case.
    pub ignored_hosts: Vec<Glob>,
    /// `ignoredKeys`.
    pub ignored_keys: Vec<Glob>,
    /// `ignoredVariables`.
    pub ignored_variables: Vec<Glob>,
}

impl Compiled {
    /// Whether a ConfigMap key holds documentation that nothing reads.
    pub fn is_ignored_key(&self, key: &str) -> bool {
        self.ignored_keys.iter().any(|p| p.matches(key))
    }

    /// Whether the `env` values of variable `name` are never scanned.
    pub fn is_ignored_variable(&self, name: &str) -> bool {
        self.ignored_variables.iter().any(|p| p.matches(name))
    }
}

/// Kubernetes' rule for environment variable names (`[-._a-zA-Z][-._a-zA-Z0-9]*`).
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || matches!(c, '-' | '.' | '_') => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// A DNS-1123 label: lower-case alphanumerics and `-`, alphanumeric at both ends, ≤ 63.
pub fn is_dns1123_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

impl Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        if self.variables.is_empty() {
            errors.push("variables must name at least one environment variable".to_string());
        }
        for name in &self.variables {
            if !is_env_var_name(name) {
                errors.push(format!(
                    "variables: {:?} is not a valid environment variable name",
                    clip(name)
                ));
            }
        }
        for path in &self.allowed_paths {
            if !path.starts_with('/') {
                errors.push(format!(
                    "allowedPaths: {:?} must be an absolute path",
                    clip(path)
                ));
            }
        }
        if !is_dns_domain(&self.cluster_domain) {
            errors.push(format!(
                "clusterDomain: {:?} is not a DNS domain such as \"cluster.local\"",
                clip(&self.cluster_domain)
            ));
        }
        for domain in &self.additional_cluster_domains {
            if !is_dns_domain(domain) {
                errors.push(format!(
                    "additionalClusterDomains: {:?} is not a DNS domain such as \"cluster.local\"",
                    clip(domain)
                ));
            }
        }
        for pattern in &self.ignored_keys {
            if pattern.is_empty() {
                errors.push("ignoredKeys: an empty pattern matches no key".to_string());
            }
        }
        for pattern in &self.ignored_variables {
            if pattern.is_empty() {
                errors.push("ignoredVariables: an empty pattern matches no variable".to_string());
            }
        }
        if self.check_secret_references && !self.check_workload_references {
            errors.push(
                "checkSecretReferences needs checkWorkloadReferences: Secrets are checked as part of the workload check"
                    .to_string(),
            );
        }
        for pattern in &self.ignored_hosts {
            if pattern.trim().is_empty() || pattern.chars().any(char::is_whitespace) {
                errors.push(format!(
                    "ignoredHosts: {:?} must be a host name pattern without spaces",
                    clip(pattern)
                ));
            }
        }
        if self.max_namespaces_per_request == 0 {
            errors.push("maxNamespacesPerRequest must be at least 1".to_string());
        }
        // Bounded whatever the settings hold: each value clipped, at most
        // MAX_LISTED problems spelled out.
        if errors.is_empty() {
            Ok(())
        } else {
            Err(join_capped(errors.into_iter()))
        }
    }
}

/// Every settings field, in the order an unknown field's error lists them.
pub const FIELDS: &[&str] = &[
    "variables",
    "allowedPaths",
    "allowHostPathVolumes",
    "removeOffendingVariables",
    "warnOnUnresolvedValues",
    "action",
    "clusterDomain",
    "additionalClusterDomains",
    "checkShortNames",
    "checkPorts",
    "ignoredHosts",
    "ignoredKeys",
    "ignoredVariables",
    "onLookupError",
    "maxNamespacesPerRequest",
    "checkWorkloadReferences",
    "checkSecretReferences",
    "missingSecrets",
    "checkRoutes",
    "checkWebhookServices",
    "missingExtensionServices",
    "missingGoverningServices",
    "missingScaleTargets",
    "missingBindingReferences",
];

/// Sets `slot` to `value` when the field was given.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

#[inline(never)]
fn warn_or_deny(field: Field) -> Result<Option<WarnOrDeny>, String> {
    Ok(variant(field, &["warn", "deny"])?.map(|i| [WarnOrDeny::Warn, WarnOrDeny::Deny][i]))
}

/// A settings field: its name, and its value unless absent or `null`.
type Field<'a> = (&'static str, Option<&'a Value>);

/// serde's wording for a value of the wrong type (`string "yes"`,
/// `integer `1``, `sequence`), so that the messages read as they did when
/// the settings were derived.
fn unexpected(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) if n.is_f64() => format!("floating point `{n}`"),
        Value::Number(n) => format!("integer `{n}`"),
        Value::String(s) => format!("string {:?}", clip(s)),
        Value::Array(_) => "sequence".to_string(),
        Value::Object(_) => "map".to_string(),
    }
}

fn invalid_type(value: &Value, expected: &str) -> String {
    format!("invalid type: {}, expected {expected}", unexpected(value))
}

#[inline(never)]
fn flag((key, value): Field) -> Result<Option<bool>, String> {
    value
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| format!("{key}: {}", invalid_type(v, "a boolean")))
        })
        .transpose()
}

#[inline(never)]
fn text((key, value): Field) -> Result<Option<String>, String> {
    value
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("{key}: {}", invalid_type(other, "a string"))),
        })
        .transpose()
}

#[inline(never)]
fn strings((key, value): Field) -> Result<Option<Vec<String>>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    let Value::Array(items) = value else {
        return Err(format!("{key}: {}", invalid_type(value, "a sequence")));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("{key}[{i}]: {}", invalid_type(other, "a string"))),
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

/// Which of `names` the string field is, spelled exactly (lower case):
/// its index. For the settings that take one of a few words; one copy for
/// every such setting.
#[inline(never)]
fn variant(field: Field, names: &[&str]) -> Result<Option<usize>, String> {
    let Some(given) = text(field)? else {
        return Ok(None);
    };
    match names.iter().position(|name| *name == given) {
        Some(i) => Ok(Some(i)),
        None => {
            let expected: Vec<String> = names.iter().map(|v| format!("`{v}`")).collect();
            Err(format!(
                "{}: unknown variant `{}`, expected {}",
                field.0,
                clip(&given),
                expected.join(" or ")
            ))
        }
    }
}

/// A whole number up to `u32::MAX`, the same bound on every target; a
/// float that is a whole number (`2.0`, `1e2`, as YAML tools may write)
/// counts as one.
#[inline(never)]
fn count((key, value): Field) -> Result<Option<usize>, String> {
    const EXPECTED: &str = "a whole number from 1 to 4294967295";
    value
        .map(|v| {
            let Value::Number(n) = v else {
                return Err(format!("{key}: {}", invalid_type(v, EXPECTED)));
            };
            n.as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f))
                        .map(|f| f as u64)
                })
                .filter(|n| *n <= u64::from(u32::MAX))
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| {
                    format!(
                        "{key}: invalid value: {}, expected {EXPECTED}",
                        unexpected(v)
                    )
                })
        })
        .transpose()
}

/// One compiled pattern of `ignoredHosts` or `ignoredKeys`: `*` matches
/// any run of characters and `?` one; nothing else is special. Matching
/// (wildmatch) takes at most pattern × text steps, whatever the pattern:
/// glob syntax with braces backtracks exponentially, which a setting must
/// not be able to do to an admission request.
#[derive(Debug)]
pub struct Glob(WildMatch);

impl Glob {
    /// The pattern as given: callers lower-case host patterns themselves.
    pub fn new(pattern: &str) -> Glob {
        Glob(WildMatch::new(pattern))
    }

    /// Whether the whole of `text` matches (case-sensitive).
    pub fn matches(&self, text: &str) -> bool {
        self.0.matches(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// The compilation is kept for the same text, and only for it; an
    /// error is not kept, and the defaults are the text `null`.
    #[test]
    fn settings_are_compiled_once_per_text() {
        let text = |t| Some(Sent::Text(t));
        let warn = compiled(text(r#"{"action": "warn"}"#).as_ref()).unwrap();
        let again = compiled(text(r#"{"action": "warn"}"#).as_ref()).unwrap();
        assert!(Rc::ptr_eq(&warn, &again));
        assert_eq!(warn.settings.action, Action::Warn);

        let spaced = compiled(text(r#"{"action":"warn"}"#).as_ref()).unwrap();
        assert!(!Rc::ptr_eq(&warn, &spaced));

        let refused = compiled(text(r#"{"action": "maybe"}"#).as_ref()).unwrap_err();
        assert!(refused.contains("unknown variant `maybe`"), "{refused}");
        assert_eq!(
            compiled(text(r#"{"action": "maybe"}"#).as_ref()).unwrap_err(),
            refused
        );

        let defaults = compiled(None).unwrap();
        assert!(Rc::ptr_eq(
            &defaults,
            &compiled(text("null").as_ref()).unwrap()
        ));
        assert_eq!(defaults.settings, Settings::default());
    }

    /// A value (serde_json's reading of the payload) is compiled as it is:
    /// written back as text, this float would read back as 95029, a whole
    /// number, and be accepted.
    #[test]
    fn settings_values_are_not_read_back_from_text() {
        let value: Value = serde_json::from_str(
            r#"{"maxNamespacesPerRequest": 9.502899999999998544808477163315e4}"#,
        )
        .unwrap();
        let error = compiled(Some(&Sent::Value(value))).unwrap_err();
        assert!(error.contains("95028.99999999999"), "{error}");
    }

    #[rstest]
    #[case::empty_object("{}", true)]
    #[case::null("null", true)]
    #[case::all_fields(
        r#"{"variables":["KUBECONFIG","KUBE_CONFIG_PATH"],"allowedPaths":["/etc/kube"],
            "allowHostPathVolumes":true,"removeOffendingVariables":true,"warnOnUnresolvedValues":true,
            "action":"warn","clusterDomain":"corp.example","checkShortNames":true,"checkPorts":false,
            "ignoredHosts":["*.legacy.svc.cluster.local"],"onLookupError":"allow","maxNamespacesPerRequest":3,
            "additionalClusterDomains":["cluster.local"],"ignoredKeys":["_example","*.md"],
            "checkWorkloadReferences":true,"checkSecretReferences":true}"#,
        true
    )]
    #[case::unknown_field(r#"{"variable":["KUBECONFIG"]}"#, false)]
    #[case::bad_action(r#"{"action":"block"}"#, false)]
    #[case::wrong_type(r#"{"checkPorts":"yes"}"#, false)]
    #[case::empty_variables(r#"{"variables":[]}"#, false)]
    #[case::bad_variable_name(r#"{"variables":["1KUBECONFIG"]}"#, false)]
    #[case::variable_with_equals(r#"{"variables":["A=B"]}"#, false)]
    #[case::relative_allowed_path(r#"{"allowedPaths":["etc/kube"]}"#, false)]
    #[case::bad_cluster_domain(r#"{"clusterDomain":"Cluster_Local"}"#, false)]
    #[case::empty_cluster_domain(r#"{"clusterDomain":""}"#, false)]
    #[case::blank_ignored_host(r#"{"ignoredHosts":[" "]}"#, false)]
    #[case::zero_namespaces(r#"{"maxNamespacesPerRequest":0}"#, false)]
    #[case::additional_domains(
        r#"{"additionalClusterDomains":["corp.internal","cluster.local."]}"#,
        true
    )]
    #[case::bad_additional_domain(r#"{"additionalClusterDomains":["corp_internal"]}"#, false)]
    #[case::ignored_keys(r#"{"ignoredKeys":["_example","*.md"]}"#, true)]
    #[case::empty_ignored_key(r#"{"ignoredKeys":[""]}"#, false)]
    #[case::ignored_variables(r#"{"ignoredVariables":["OTEL_*","DOCS_URL"]}"#, true)]
    #[case::empty_ignored_variable(r#"{"ignoredVariables":[""]}"#, false)]
    #[case::workload_and_secrets(
        r#"{"checkWorkloadReferences":true,"checkSecretReferences":true}"#,
        true
    )]
    #[case::secrets_without_workloads(r#"{"checkSecretReferences":true}"#, false)]
    fn settings_validation(#[case] raw: &str, #[case] valid: bool) {
        let result = Settings::parse_valid(raw);
        assert_eq!(result.is_ok(), valid, "{raw}: {result:?}");
    }

    #[rstest]
    #[case::flag(
        r#"{"checkPorts":"yes"}"#,
        r#"checkPorts: invalid type: string "yes", expected a boolean"#
    )]
    #[case::list(
        r#"{"variables":"KUBECONFIG"}"#,
        r#"variables: invalid type: string "KUBECONFIG", expected a sequence"#
    )]
    #[case::list_item(
        r#"{"ignoredKeys":["a",1]}"#,
        "ignoredKeys[1]: invalid type: integer `1`, expected a string"
    )]
    #[case::text(
        r#"{"clusterDomain":false}"#,
        "clusterDomain: invalid type: boolean `false`, expected a string"
    )]
    #[case::variant(
        r#"{"action":"block"}"#,
        "action: unknown variant `block`, expected `deny` or `warn`"
    )]
    #[case::variant_case(
        r#"{"onLookupError":"Allow"}"#,
        "onLookupError: unknown variant `Allow`, expected `deny` or `allow`"
    )]
    #[case::count_negative(
        r#"{"maxNamespacesPerRequest":-1}"#,
        "maxNamespacesPerRequest: invalid value: integer `-1`, expected a whole number from 1 to 4294967295"
    )]
    #[case::count_float(
        r#"{"maxNamespacesPerRequest":1.5}"#,
        "maxNamespacesPerRequest: invalid value: floating point `1.5`, expected a whole number from 1 to 4294967295"
    )]
    #[case::count_too_big(
        r#"{"maxNamespacesPerRequest":4294967296}"#,
        "maxNamespacesPerRequest: invalid value: integer `4294967296`, expected a whole number from 1 to 4294967295"
    )]
    #[case::count_text(
        r#"{"maxNamespacesPerRequest":"3"}"#,
        r#"maxNamespacesPerRequest: invalid type: string "3", expected a whole number from 1 to 4294967295"#
    )]
    #[case::not_a_map("[1]", "invalid type: sequence, expected a map of settings")]
    #[case::string("\"x\"", r#"invalid type: string "x", expected a map of settings"#)]
    #[case::not_json("variables: [KUBECONFIG]", "expected value at line 1 column 1")]
    fn settings_errors(#[case] raw: &str, #[case] error: &str) {
        assert_eq!(
            Settings::from_json(raw),
            Err(format!("invalid settings: {error}"))
        );
    }

    #[rstest]
    #[case::null_document("null")]
    #[case::empty_document("  ")]
    #[case::null_fields(
        r#"{"action":null,"variables":null,"checkPorts":null,"maxNamespacesPerRequest":null}"#
    )]
    fn null_means_default(#[case] raw: &str) {
        assert_eq!(Settings::from_json(raw), Ok(Settings::default()));
    }

    #[rstest]
    #[case::integer("3", 3)]
    #[case::whole_float("2.0", 2)]
    #[case::exponent("1e2", 100)]
    #[case::largest("4294967295", 4_294_967_295)]
    fn namespace_bounds(#[case] written: &str, #[case] read: usize) {
        let s = Settings::from_json(format!(r#"{{"maxNamespacesPerRequest":{written}}}"#));
        assert_eq!(s.map(|s| s.max_namespaces_per_request), Ok(read));
    }

    #[test]
    fn every_field_is_read() {
        let raw = r#"{"variables":["A"],"allowedPaths":["/p"],"allowHostPathVolumes":true,
            "removeOffendingVariables":true,"warnOnUnresolvedValues":true,"action":"warn",
            "clusterDomain":"corp.internal","additionalClusterDomains":["x.y"],"checkShortNames":true,
            "checkPorts":false,"ignoredHosts":["h"],"ignoredKeys":["k"],"ignoredVariables":["V"],
            "onLookupError":"allow","maxNamespacesPerRequest":3,"checkWorkloadReferences":true,"checkSecretReferences":true,
            "missingSecrets":"deny","checkRoutes":false,"checkWebhookServices":false,
            "missingExtensionServices":"deny","missingGoverningServices":"deny","missingScaleTargets":"deny","missingBindingReferences":"deny"}"#;
        let s = Settings::from_json(raw).unwrap();
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::from_str::<Value>(raw).unwrap()
        );
        assert_eq!(
            FIELDS.len(),
            serde_json::to_value(&s).unwrap().as_object().unwrap().len()
        );
    }

    #[test]
    fn invalid_values_are_clipped_and_capped() {
        let long = format!(r#"{{"clusterDomain":"{}"}}"#, "x_".repeat(50_000));
        let err = Settings::parse_valid(long).unwrap_err();
        assert!(err.len() < 1_000 && err.contains("(100000 bytes)"), "{err}");
        let many = format!(
            r#"{{"allowedPaths":[{}]}}"#,
            vec![r#""rel""#; 20_000].join(",")
        );
        let err = Settings::parse_valid(many).unwrap_err();
        assert!(
            err.len() < 2_000 && err.ends_with("; and 19980 more problem(s)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_clipped() {
        let err = Settings::from_json(format!(r#"{{"{}":1}}"#, "x".repeat(10_000))).unwrap_err();
        assert!(
            err.len() < 1_000 && err.contains("unknown field `xxx"),
            "{err}"
        );
    }

    #[test]
    fn unknown_field_message_names_the_field() {
        let err = Settings::from_json(r#"{"variable":["KUBECONFIG"]}"#).unwrap_err();
        assert!(err.contains("unknown field `variable`"), "{err}");
    }

    #[test]
    fn defaults() {
        let s = Settings::default();
        assert_eq!(s.variables, vec!["KUBECONFIG"]);
        assert_eq!(s.action, Action::Deny);
        assert!(s.check_ports && !s.check_short_names && !s.remove_offending_variables);
        assert_eq!(s.cluster_domain_labels(), vec!["cluster", "local"]);
        assert!(!s.check_workload_references && !s.check_secret_references);
        assert!(s.compile().is_ignored_key("_example"));
    }

    #[test]
    fn compiled_suffixes_cover_every_domain_once() {
        let s = Settings::from_json(
            r#"{"clusterDomain":"Corp.Internal.","additionalClusterDomains":["cluster.local","corp.internal"]}"#,
        )
        .unwrap();
        assert_eq!(
            s.compile().qualified_suffixes,
            vec![".svc.corp.internal", ".svc.cluster.local"]
        );
    }

    #[rstest]
    #[case::example("_example", true)]
    #[case::other("config.yaml", false)]
    #[case::glob_on_request("notes.md", true)]
    fn ignored_keys_are_globs(#[case] key: &str, #[case] ignored: bool) {
        let s = Settings {
            ignored_keys: vec!["_example".into(), "*.md".into()],
            ..Default::default()
        };
        assert_eq!(s.compile().is_ignored_key(key), ignored);
    }

    #[rstest]
    #[case::exact("AI_SERVICE_URL", true)]
    #[case::glob("OTEL_EXPORTER_OTLP_ENDPOINT", true)]
    #[case::case_sensitive("otel_endpoint", false)]
    #[case::other("CART_SERVICE_ADDR", false)]
    fn ignored_variables_are_globs(#[case] name: &str, #[case] ignored: bool) {
        let s = Settings {
            ignored_variables: vec!["AI_SERVICE_URL".into(), "OTEL_*".into()],
            ..Default::default()
        };
        assert_eq!(s.compile().is_ignored_variable(name), ignored);
    }

    #[rstest]
    #[case::star_any_labels("*.legacy.svc.cluster.local", "db.legacy.svc.cluster.local", true)]
    #[case::star_needs_the_suffix(
        "*.legacy.svc.cluster.local",
        "db.other.svc.cluster.local",
        false
    )]
    #[case::exact("vault.vault.svc", "vault.vault.svc", true)]
    #[case::exact_is_whole("vault.vault.svc", "vault.vault.svc.cluster.local", false)]
    #[case::question_one_char("redis-?", "redis-0", true)]
    #[case::question_not_two("redis-?", "redis-10", false)]
    #[case::nothing_else_is_special("redis-[0-2]", "redis-[0-2]", true)]
    #[case::no_classes("redis-[0-2]", "redis-1", false)]
    #[case::no_braces("{a,b}.shop.svc", "a.shop.svc", false)]
    #[case::case_sensitive("*.md", "README.MD", false)]
    #[case::no_negation("!_example", "notes", false)]
    fn globs(#[case] pattern: &str, #[case] text: &str, #[case] matches: bool) {
        assert_eq!(Glob::new(pattern).matches(text), matches);
    }
}
