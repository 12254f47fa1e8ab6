//! Policy settings: what each check watches and how it reports.

use kubewarden_policy_sdk::settings::Validatable;
use serde::{Deserialize, Serialize};

/// What to do with a ConfigMap whose Service references do not resolve.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Reject the ConfigMap.
    #[default]
    Deny,
    /// Accept it and return Kubernetes warnings (kubectl and Helm print them).
    Warn,
}

/// What to do when the host cannot say which Services exist.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnLookupError {
    /// Reject: the references could not be verified.
    #[default]
    Deny,
    /// Accept with a warning.
    Allow,
}

/// The policy's settings, as written in a ClusterAdmissionPolicy `spec.settings`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
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
    /// Also check `scheme://<svc>[.<ns>][:port]` short names inside URLs.
    pub check_short_names: bool,
    /// Check that the Service exposes the referenced port.
    pub check_ports: bool,
    /// Glob patterns (`*`, `?`) of hosts never checked.
    pub ignored_hosts: Vec<String>,
    /// What to do when the Services of a namespace cannot be listed.
    pub on_lookup_error: OnLookupError,
    /// Upper bound on namespaces looked up for one request.
    pub max_namespaces_per_request: usize,
}

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
            check_short_names: false,
            check_ports: true,
            ignored_hosts: Vec::new(),
            on_lookup_error: OnLookupError::Deny,
            max_namespaces_per_request: DEFAULT_MAX_NAMESPACES,
        }
    }
}

impl Settings {
    /// Parses settings as the host sends them; `null` means all defaults.
    pub fn from_json(raw: &str) -> Result<Settings, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed == "null" {
            return Ok(Settings::default());
        }
        serde_json::from_str(trimmed).map_err(|e| format!("invalid settings: {e}"))
    }

    /// Parses settings as the host sends them and validates them: what both
    /// `validate_settings` and `validate` need.
    pub fn parse_valid(raw: &str) -> Result<Settings, String> {
        let settings = Settings::from_json(raw)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Lower-cased cluster domain labels without a trailing dot.
    pub fn cluster_domain_labels(&self) -> Vec<String> {
        self.cluster_domain
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
            .map(str::to_ascii_lowercase)
            .collect()
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
                    "variables: {name:?} is not a valid environment variable name"
                ));
            }
        }
        for path in &self.allowed_paths {
            if !path.starts_with('/') {
                errors.push(format!("allowedPaths: {path:?} must be an absolute path"));
            }
        }
        let labels = self.cluster_domain_labels();
        if labels.is_empty() || !labels.iter().all(|l| is_dns1123_label(l)) {
            errors.push(format!(
                "clusterDomain: {:?} is not a DNS domain such as \"cluster.local\"",
                self.cluster_domain
            ));
        }
        for pattern in &self.ignored_hosts {
            if pattern.trim().is_empty() || pattern.chars().any(char::is_whitespace) {
                errors.push(format!(
                    "ignoredHosts: {pattern:?} must be a host name pattern without spaces"
                ));
            }
        }
        if self.max_namespaces_per_request == 0 {
            errors.push("maxNamespacesPerRequest must be at least 1".to_string());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::empty_object("{}", true)]
    #[case::null("null", true)]
    #[case::all_fields(
        r#"{"variables":["KUBECONFIG","KUBE_CONFIG_PATH"],"allowedPaths":["/etc/kube"],
            "allowHostPathVolumes":true,"removeOffendingVariables":true,"warnOnUnresolvedValues":true,
            "action":"warn","clusterDomain":"corp.example","checkShortNames":true,"checkPorts":false,
            "ignoredHosts":["*.legacy.svc.cluster.local"],"onLookupError":"allow","maxNamespacesPerRequest":3}"#,
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
    fn settings_validation(#[case] raw: &str, #[case] valid: bool) {
        let result = Settings::parse_valid(raw);
        assert_eq!(result.is_ok(), valid, "{raw}: {result:?}");
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
    }
}
