//! The files users see besides the wasm (policy-metadata.yml,
//! artifacthub-pkg.yml, README.md, docs/settings.md) must agree with each
//! other and with Cargo.toml and the code.

use dangling_references_policy::backend_refs::ROUTE_KINDS;
use dangling_references_policy::graph::extract::SOURCE_KINDS;
use dangling_references_policy::settings::Settings;
use dangling_references_policy::workload::WORKLOAD_KINDS;
use serde_json::Value;

fn yaml(file: &str) -> Value {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    from_yaml(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// YAML read as serde_yaml 0.9 read it: YAML 1.2 booleans only, numbers
/// with leading zeros or underscores as strings, `<<` an ordinary key, the
/// last of duplicate keys.
fn from_yaml(text: &str) -> Result<Value, serde_saphyr::Error> {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.merge_keys = serde_saphyr::MergeKeyPolicy::AsOrdinary;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    serde_saphyr::from_str_with_options(text, options)
}

fn text(file: &str) -> String {
    std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn annotation<'a>(metadata: &'a Value, key: &str) -> &'a str {
    metadata["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("policy-metadata.yml lacks annotation {key}"))
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string"))
}

#[test]
fn metadata_matches_cargo() {
    let metadata = yaml("policy-metadata.yml");
    assert_eq!(
        annotation(&metadata, "io.kubewarden.policy.version"),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        annotation(&metadata, "io.kubewarden.policy.title"),
        env!("CARGO_PKG_NAME")
    );
    assert_eq!(
        annotation(&metadata, "io.kubewarden.policy.description"),
        env!("CARGO_PKG_DESCRIPTION")
    );
    assert_eq!(
        annotation(&metadata, "io.kubewarden.policy.license"),
        env!("CARGO_PKG_LICENSE")
    );
    assert_eq!(
        annotation(&metadata, "io.kubewarden.policy.source"),
        env!("CARGO_PKG_REPOSITORY")
    );
    for key in [
        "io.kubewarden.policy.author",
        "io.kubewarden.policy.url",
        "io.kubewarden.policy.severity",
        "io.kubewarden.policy.category",
        "io.kubewarden.policy.ociUrl",
        "io.artifacthub.displayName",
        "io.artifacthub.resources",
        "io.artifacthub.keywords",
    ] {
        assert!(!annotation(&metadata, key).is_empty(), "{key}");
    }
    assert_eq!(metadata["executionMode"], Value::from("kubewarden-wapc"));
    assert_eq!(metadata["mutating"], Value::from(true));
    assert_eq!(metadata["backgroundAudit"], Value::from(true));
}

#[test]
fn metadata_rules_cover_exactly_the_checked_kinds() {
    let metadata = yaml("policy-metadata.yml");
    let mut resources: Vec<String> = metadata["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["resources"].as_array().unwrap().iter())
        .map(|r| str_of(r, "resource").to_string())
        .collect();
    resources.sort();
    let mut expected: Vec<String> = WORKLOAD_KINDS
        .iter()
        .chain(["ConfigMap"].iter())
        .map(|k| format!("{}s", k.to_ascii_lowercase()))
        .chain([
            "pods/ephemeralcontainers".to_string(),
            "ingresses".to_string(),
        ])
        .chain(
            ROUTE_KINDS
                .iter()
                .filter(|k| **k != "Ingress")
                .map(|k| format!("{}s", k.to_ascii_lowercase())),
        )
        .chain(SOURCE_KINDS.iter().map(|k| match *k {
            "HorizontalPodAutoscaler" => "horizontalpodautoscalers".to_string(),
            "CustomResourceDefinition" => "customresourcedefinitions".to_string(),
            k => format!("{}s", k.to_ascii_lowercase()),
        }))
        .collect();
    expected.sort();
    assert_eq!(resources, expected);
    let listed: Vec<&str> = annotation(&metadata, "io.artifacthub.resources")
        .split(',')
        .collect();
    for kind in WORKLOAD_KINDS
        .iter()
        .chain(["ConfigMap"].iter())
        .chain(ROUTE_KINDS.iter())
        .chain(SOURCE_KINDS.iter())
    {
        assert!(
            listed.contains(kind),
            "io.artifacthub.resources lacks {kind}"
        );
    }
    assert_eq!(
        metadata["contextAwareResources"],
        from_yaml(
            "[{apiVersion: v1, kind: Service}, {apiVersion: v1, kind: ConfigMap},
              {apiVersion: v1, kind: ServiceAccount}, {apiVersion: v1, kind: Secret},
              {apiVersion: v1, kind: PersistentVolumeClaim},
              {apiVersion: v1, kind: ReplicationController},
              {apiVersion: apps/v1, kind: Deployment}, {apiVersion: apps/v1, kind: StatefulSet},
              {apiVersion: apps/v1, kind: ReplicaSet},
              {apiVersion: rbac.authorization.k8s.io/v1, kind: Role},
              {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole}]"
        )
        .unwrap()
    );
    assert_eq!(
        metadata["hostCapabilities"],
        from_yaml(
            "[kubernetes/get_resource, kubernetes/list_resources_by_namespace,
              kubernetes/list_resources_all]"
        )
        .unwrap()
    );
}

#[test]
fn artifacthub_package_matches_metadata() {
    let metadata = yaml("policy-metadata.yml");
    let pkg = yaml("artifacthub-pkg.yml");
    let version = annotation(&metadata, "io.kubewarden.policy.version");
    let oci = annotation(&metadata, "io.kubewarden.policy.ociUrl");
    assert_eq!(pkg["version"], Value::from(version));
    assert_eq!(
        pkg["name"],
        Value::from(annotation(&metadata, "io.kubewarden.policy.title"))
    );
    assert_eq!(
        pkg["displayName"],
        Value::from(annotation(&metadata, "io.artifacthub.displayName"))
    );
    assert_eq!(
        pkg["description"],
        Value::from(annotation(&metadata, "io.kubewarden.policy.description"))
    );
    assert_eq!(
        pkg["license"],
        Value::from(annotation(&metadata, "io.kubewarden.policy.license"))
    );
    assert_eq!(
        pkg["homeURL"],
        Value::from(annotation(&metadata, "io.kubewarden.policy.url"))
    );
    assert_eq!(
        pkg["containersImages"][0]["image"],
        Value::from(format!("{oci}:v{version}"))
    );
    let links = pkg["links"].as_array().unwrap();
    assert!(str_of(&links[0]["url"], "policy link").contains(&format!("/v{version}/")));
    assert_eq!(
        links[1]["url"],
        Value::from(annotation(&metadata, "io.kubewarden.policy.source"))
    );
    let install = str_of(&pkg["install"], "install");
    assert!(install.contains(&format!("{oci}:v{version}")));
    // As release.yml corrects the scaffold's text: a pull kwctl accepts,
    // and a scaffolded policy that may make its lookups.
    assert!(install.contains(&format!("kwctl pull registry://{oci}:v{version}")));
    assert!(install.contains("kwctl scaffold manifest --allow-context-aware "));
    let keywords: Vec<Value> = annotation(&metadata, "io.artifacthub.keywords")
        .split(',')
        .map(Value::from)
        .collect();
    assert_eq!(pkg["keywords"], Value::Array(keywords));

    let annotations = &pkg["annotations"];
    let mutating = metadata["mutating"].as_bool().unwrap();
    assert_eq!(
        annotations["kubewarden/mutation"],
        Value::from(mutating.to_string())
    );
    assert_eq!(
        annotations["kubewarden/resources"],
        Value::from(annotation(&metadata, "io.artifacthub.resources"))
    );
    let embedded = |key: &str| -> Value { from_yaml(str_of(&annotations[key], key)).unwrap() };
    assert_eq!(embedded("kubewarden/rules"), metadata["rules"]);
    // kwctl keeps contextAwareResources in a set, so it writes them sorted.
    assert_eq!(
        sorted(&embedded("kubewarden/contextAwareResources")),
        sorted(&metadata["contextAwareResources"])
    );
    let maintainers: Vec<Value> = authors(annotation(&metadata, "io.kubewarden.policy.author"))
        .unwrap()
        .into_iter()
        .map(|(name, email)| from_yaml(&format!("{{name: {name:?}, email: {email:?}}}")).unwrap())
        .collect();
    assert_eq!(pkg["maintainers"], Value::Array(maintainers));
}

fn sorted(v: &Value) -> Vec<String> {
    let mut items: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    items.sort();
    items
}

/// `io.kubewarden.policy.author` split the way `kwctl scaffold artifacthub`
/// reads it (an RFC 5322 address list): `Name <email>, Name <email>`; an
/// error for anything kwctl would refuse.
fn authors(csv: &str) -> Result<Vec<(String, String)>, String> {
    csv.split(',')
        .map(|entry| {
            let entry = entry.trim();
            let (name, rest) = entry.split_once('<').ok_or_else(|| {
                format!("author {entry:?} is not `Name <email>` (kwctl: must be csv values of \"name <email>\")")
            })?;
            let email = rest
                .strip_suffix('>')
                .ok_or_else(|| format!("author {entry:?} does not end with `>`"))?;
            let name = name.trim();
            if name.is_empty() || name.contains(['<', '>', '"']) {
                return Err(format!("author {entry:?}: the name is empty or needs quoting"));
            }
            if !is_email(email) {
                return Err(format!("author {entry:?}: {email:?} is not an email address"));
            }
            Ok((name.to_string(), email.to_string()))
        })
        .collect()
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    local_ok
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Semantic Versioning 2.0.0, as the `semver` crate kwctl uses parses it
/// (no `v` prefix, no leading zeros).
fn is_semver(s: &str) -> bool {
    let numeric = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    let identifiers = |p: &str, no_leading_zero: bool| {
        p.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (!no_leading_zero || !id.bytes().all(|b| b.is_ascii_digit()) || numeric(id))
        })
    };
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| identifiers(p, true))
        && build.is_none_or(|b| identifiers(b, false))
}

/// An OCI repository reference as kwctl expects in `ociUrl`: no scheme
/// (no `registry://`, no `https://`), no tag or digest (kwctl appends
/// `:v<version>`), a registry host and lowercase path components.
fn is_oci_repository(s: &str) -> bool {
    if s.contains("://") || s.contains('@') {
        return false;
    }
    let mut parts = s.split('/');
    let host = parts.next().unwrap_or_default();
    let path: Vec<&str> = parts.collect();
    let (hostname, port) = match host.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    let host_ok = (hostname.contains('.') || hostname == "localhost")
        && hostname
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
            && c.starts_with(|ch: char| ch.is_ascii_alphanumeric())
            && c.ends_with(|ch: char| ch.is_ascii_alphanumeric())
    };
    host_ok && !path.is_empty() && path.iter().all(|c| component_ok(c))
}

fn is_url(s: &str) -> bool {
    s.strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .is_some_and(|rest| {
            let host = rest.split('/').next().unwrap_or_default();
            host.contains('.') && !rest.contains(char::is_whitespace)
        })
}

/// Every annotation format that kwctl enforces (`kwctl scaffold
/// artifacthub`, which the release runs, refuses the metadata otherwise),
/// checked here because kwctl is not installed everywhere the tests run.
#[test]
fn annotations_have_the_formats_kwctl_enforces() {
    let metadata = yaml("policy-metadata.yml");
    // the author is an address list, `Name <email>` separated by commas
    let parsed = authors(annotation(&metadata, "io.kubewarden.policy.author"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!parsed.is_empty());
    // the version is semver (no `v`) and is the crate's
    let version = annotation(&metadata, "io.kubewarden.policy.version");
    assert!(
        is_semver(version),
        "io.kubewarden.policy.version {version:?} is not semver"
    );
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    // ociUrl is a repository without scheme or tag
    let oci = annotation(&metadata, "io.kubewarden.policy.ociUrl");
    assert!(
        is_oci_repository(oci),
        "io.kubewarden.policy.ociUrl {oci:?} must be `registry/path` without scheme, tag or digest"
    );
    // url and source are absolute URLs
    for key in ["io.kubewarden.policy.url", "io.kubewarden.policy.source"] {
        let url = annotation(&metadata, key);
        assert!(is_url(url), "{key} {url:?} is not an absolute URL");
    }
    // keywords: comma-separated, no empty item
    for key in ["io.artifacthub.keywords", "io.artifacthub.resources"] {
        let csv = annotation(&metadata, key);
        assert!(
            csv.split(',').all(|w| !w.trim_matches(' ').is_empty()),
            "{key} {csv:?} has an empty item"
        );
    }
    // required by kwctl scaffold artifacthub
    for key in [
        "io.kubewarden.policy.title",
        "io.artifacthub.displayName",
        "io.kubewarden.policy.description",
    ] {
        assert!(!annotation(&metadata, key).trim().is_empty(), "{key}");
    }
    if let Some(hidden) = metadata["annotations"]["io.kubewarden.hidden-ui"].as_str() {
        assert!(
            matches!(hidden, "true" | "false"),
            "io.kubewarden.hidden-ui"
        );
    }
}

#[test]
fn format_checks_refuse_what_kwctl_refuses() {
    assert_eq!(
        authors("Tux Tuxedo <tux@example.com>, Pidgin <pidgin@example.com>").unwrap(),
        [
            ("Tux Tuxedo".to_string(), "tux@example.com".to_string()),
            ("Pidgin".to_string(), "pidgin@example.com".to_string())
        ]
    );
    for bad in [
        "dangling-references-policy developers",
        "Foo foo@example.com",
        "Bar <#$%#$%>",
        "Foo <foo@example.com>,",
    ] {
        assert!(authors(bad).is_err(), "{bad:?} accepted");
    }
    for good in ["0.1.0", "1.2.3-rc.1", "1.0.0+build.5", "10.20.30-alpha-1.0"] {
        assert!(is_semver(good), "{good}");
    }
    for bad in ["v0.1.0", "0.1", "01.0.0", "1.0.0-01", "1.0.0-", "0.1.0.1"] {
        assert!(!is_semver(bad), "{bad}");
    }
    assert!(is_oci_repository(
        "ghcr.io/kubewarden/policies/pod-privileged"
    ));
    assert!(is_oci_repository("localhost:5000/policies/p"));
    for bad in [
        "registry://ghcr.io/kubewarden/policies/p",
        "https://ghcr.io/kubewarden/policies/p",
        "ghcr.io/kubewarden/policies/p:v0.1.0",
        "ghcr.io/Kubewarden/p",
        "ghcr.io",
    ] {
        assert!(!is_oci_repository(bad), "{bad}");
    }
}

/// docs/settings.md (and the README's settings block, which
/// cli/tests/docs.rs holds to the defaults) name every setting.
#[test]
fn docs_document_every_setting() {
    let settings_md = text("docs/settings.md");
    let readme = text("README.md");
    let settings = serde_json::to_value(Settings::default()).unwrap();
    for key in settings.as_object().unwrap().keys() {
        assert!(
            settings_md.contains(&format!("### `{key}`")),
            "docs/settings.md does not document setting `{key}`"
        );
        assert!(
            settings_md.contains(&format!("\n{key}: ")),
            "docs/settings.md has no example of setting `{key}`"
        );
        assert!(
            readme.contains(&format!("\n{key}: ")),
            "the README's settings block lacks `{key}`"
        );
    }
}
