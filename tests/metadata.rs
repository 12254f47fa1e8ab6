//! The files users see besides the wasm (policy-metadata.yml,
//! artifacthub-pkg.yml, README.md) must agree with each other and with
//! Cargo.toml and the code.

use dangling_references_policy::settings::Settings;
use dangling_references_policy::workload::WORKLOAD_KINDS;
use serde_yaml::Value;

fn yaml(file: &str) -> Value {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
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
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|rule| rule["resources"].as_sequence().unwrap().iter())
        .map(|r| str_of(r, "resource").to_string())
        .collect();
    resources.sort();
    let mut expected: Vec<String> = WORKLOAD_KINDS
        .iter()
        .chain(["ConfigMap"].iter())
        .map(|k| format!("{}s", k.to_ascii_lowercase()))
        .chain(["pods/ephemeralcontainers".to_string()])
        .collect();
    expected.sort();
    assert_eq!(resources, expected);
    let listed: Vec<&str> = annotation(&metadata, "io.artifacthub.resources")
        .split(',')
        .collect();
    for kind in WORKLOAD_KINDS.iter().chain(["ConfigMap"].iter()) {
        assert!(
            listed.contains(kind),
            "io.artifacthub.resources lacks {kind}"
        );
    }
    assert_eq!(
        metadata["contextAwareResources"],
        serde_yaml::from_str::<Value>(
            "[{apiVersion: v1, kind: Service}, {apiVersion: v1, kind: ConfigMap},
              {apiVersion: v1, kind: ServiceAccount}, {apiVersion: v1, kind: Secret}]"
        )
        .unwrap()
    );
    assert_eq!(
        metadata["hostCapabilities"],
        serde_yaml::from_str::<Value>(
            "[kubernetes/get_resource, kubernetes/list_resources_by_namespace]"
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
    let links = pkg["links"].as_sequence().unwrap();
    assert!(str_of(&links[0]["url"], "policy link").contains(&format!("/v{version}/")));
    assert_eq!(
        links[1]["url"],
        Value::from(annotation(&metadata, "io.kubewarden.policy.source"))
    );
    assert!(str_of(&pkg["install"], "install").contains(&format!("{oci}:v{version}")));
    let keywords: Vec<Value> = annotation(&metadata, "io.artifacthub.keywords")
        .split(',')
        .map(Value::from)
        .collect();
    assert_eq!(pkg["keywords"], Value::Sequence(keywords));

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
    let embedded =
        |key: &str| -> Value { serde_yaml::from_str(str_of(&annotations[key], key)).unwrap() };
    assert_eq!(embedded("kubewarden/rules"), metadata["rules"]);
    assert_eq!(
        embedded("kubewarden/contextAwareResources"),
        metadata["contextAwareResources"]
    );
}

#[test]
fn readme_documents_every_setting() {
    let readme = text("README.md");
    let settings = serde_json::to_value(Settings::default()).unwrap();
    for key in settings.as_object().unwrap().keys() {
        assert!(
            readme.contains(&format!("`{key}`")),
            "README.md does not document setting `{key}`"
        );
        assert!(
            readme.contains(&format!("{key}:")),
            "README.md has no example of setting `{key}`"
        );
    }
}
