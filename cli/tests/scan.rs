//! `dangling-references scan`, the binary, on the compiled policy: every
//! input form, output format and exit code, and a one-line error for every
//! bad input.

// The guests of e2e/tests/common are written against the host's API under
// the name `e2e`.
extern crate dangling_references as e2e;

#[path = "../../e2e/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use assert_cmd::Command;
use assert_cmd::assert::Assert;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::{Value, json};

/// A YAML document as a JSON value, read the way the CLI reads cluster files.
fn yaml(text: &str) -> Value {
    let options =
        dangling_references::scan::yaml::compat_options(serde_saphyr::DuplicateKeyPolicy::LastWins);
    serde_saphyr::from_str_with_options(text, options).unwrap()
}

fn policy() -> &'static Path {
    static POLICY: OnceLock<PathBuf> = OnceLock::new();
    POLICY
        .get_or_init(|| e2e::policy_wasm().unwrap_or_else(|e| panic!("no compiled policy: {e:#}")))
}

fn data(name: &str) -> PathBuf {
    e2e::repository_root().join("test_data").join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

/// `dangling-references scan --policy policy.wasm --no-progress`.
fn scan() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dangling-references"));
    cmd.arg("scan")
        .arg("--policy")
        .arg(policy())
        .arg("--no-progress");
    cmd
}

/// A fresh folder for the files of one test.
fn temp_dir() -> PathBuf {
    common::temp_path("scan").parent().unwrap().to_path_buf()
}

/// The chart of test_data/scan/shop as `helm template` prints it: one
/// stream, the templates in the given order.
fn shop_stream(templates: &[&str]) -> String {
    templates
        .iter()
        .map(|t| read(&format!("scan/shop/{t}.yaml")))
        .collect()
}

const SHOP: &[&str] = &[
    "configmap",
    "deployment",
    "deployment-api",
    "service",
    "service-headless",
    "serviceaccount",
];

fn stdout_json(assert: &Assert) -> Value {
    let out = &assert.get_output().stdout;
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

/// Exit 2 and exactly one line on stderr, `error: ` then `expected`
/// somewhere in it; nothing on stdout, no panic.
fn assert_one_line_error(assert: Assert, expected: &str) {
    let out = assert.get_output();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let assert = assert.code(2);
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(expected), "{stderr:?} lacks {expected:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert.stdout("");
}

const DID_YOU_MEAN: &str = r#"ConfigMap shop/shop-config, key "app.yaml": "http://api.shop.svc.cluster.local:8080" names Service "api" in namespace "shop", which does not exist; did you mean "api-headless"?"#;

#[test]
fn helm_template_stream_with_its_service_is_clean_in_any_order() {
    let orders: [&[&str]; 3] = [
        SHOP,
        &[
            "service",
            "service-headless",
            "serviceaccount",
            "deployment",
            "configmap",
            "deployment-api",
        ],
        &[
            "deployment-api",
            "deployment",
            "service",
            "configmap",
            "serviceaccount",
            "service-headless",
        ],
    ];
    for order in orders {
        scan()
            .args(["--namespace", "shop", "-"])
            .write_stdin(shop_stream(order))
            .assert()
            .code(0)
            .stdout(contains(
                "3 objects checked in 1 file: 0 rejected, 0 with warnings, 3 accepted; 3 objects of other kinds not judged by the policy\n",
            ));
    }
    // the workload check finds the ConfigMap, its key and the
    // ServiceAccount in the same stream
    scan()
        .args([
            "-n",
            "shop",
            "--settings",
            r#"{"checkWorkloadReferences": true}"#,
            "-",
        ])
        .write_stdin(shop_stream(SHOP))
        .assert()
        .code(0)
        .stdout(contains("0 rejected"));
}

#[test]
fn without_its_service_the_configmap_fails_with_did_you_mean() {
    let stream = shop_stream(&[
        "configmap",
        "deployment",
        "service-headless",
        "serviceaccount",
    ]);
    // the value is on line 15 of the stream: the ConfigMap's template starts it
    let assert = scan()
        .args(["-n", "shop", "-"])
        .write_stdin(stream)
        .assert()
        .code(1);
    assert.stdout(
        contains("<stdin>\n  ConfigMap shop/shop-config (document 1, line 4): rejected\n")
            .and(contains("    from shop/templates/configmap.yaml\n"))
            .and(contains(format!("    line 15: {DID_YOU_MEAN}\n")))
            .and(contains("1 rejected, 0 with warnings, 1 accepted")),
    );
    // the workload check sees it too, through the keys the Deployment
    // consumes: reported once, on the ConfigMap, which names the Deployment
    scan()
        .args(["-n", "shop", "--settings", r#"{"checkWorkloadReferences": true}"#, "-"])
        .write_stdin(shop_stream(&["configmap", "deployment", "service-headless", "serviceaccount"]))
        .assert()
        .code(1)
        .stdout(
            contains("2 rejected")
                .and(contains(format!("    line 15: {DID_YOU_MEAN} (consumed by Deployment shop/web)\n")))
                .and(contains(
                    r#"    line 41: because of ConfigMap shop/shop-config, key "app.yaml" (read here; reported once, on the ConfigMap)"#,
                )),
        );
}

/// The seed messages by their identity (their full text is asserted in the
/// unit tests of their checks), and the suggestion the model cluster makes.
const SEED_CONFIGMAP: &str = r#"ConfigMap kubernaut-system/gateway-config, key "config.yaml": "http://datastorage.kubernaut-system.svc.cluster.local:8080" names Service "datastorage" in namespace "kubernaut-system", which does not exist"#;
const SUGGESTION: &str = r#"did you mean "data-storage-service"?"#;
const SEED_WORKLOAD: &str = r#"container "datastorage" (Deployment kubernaut-system/datastorage): KUBECONFIG path "/Users/jgil/.kube/gateway-e2e-config" is not inside any volumeMount"#;

fn problems(report: &Value) -> Vec<String> {
    report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["problems"].as_array().unwrap().iter())
        .map(|p| p["message"].as_str().unwrap().to_owned())
        .collect()
}

/// The problems of `report` are the two seed problems, in this order, the
/// ConfigMap's with the suggestion.
fn assert_seed_problems(report: &Value) {
    let problems = problems(report);
    assert_eq!(problems.len(), 2, "{report:#}");
    assert!(
        problems[0].starts_with(SEED_CONFIGMAP) && problems[0].ends_with(SUGGESTION),
        "{report:#}"
    );
    assert!(problems[1].starts_with(SEED_WORKLOAD), "{report:#}");
}

/// The objects of the seed fixtures (as the API server sends them, in a
/// JSON `kind: List` on stdin) and their hand-written manifests
/// (test_data/scan/seed.yaml) give the seed messages.
#[test]
fn the_seed_objects_give_the_seed_messages() {
    let objects: Vec<Value> = [
        "configmap_dangling_service.json",
        "deployment_kubeconfig_host_path.json",
    ]
    .iter()
    .map(|f| serde_json::from_str::<Value>(&read(f)).unwrap()["request"]["object"].clone())
    .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let snapshot = [
        "--snapshot",
        "scan/cluster-snapshot.json",
        "--secret-names",
        "scan/secret-names.txt",
    ];
    let with_snapshot = |cmd: &mut Command| {
        for pair in snapshot.chunks(2) {
            cmd.arg(pair[0]).arg(data(pair[1]));
        }
    };
    let mut cmd = scan();
    with_snapshot(&mut cmd);
    let fixtures = cmd
        .args(["--output", "json", "-"])
        .write_stdin(list.to_string())
        .assert()
        .code(1);
    let fixtures = stdout_json(&fixtures);
    assert_seed_problems(&fixtures);
    assert_eq!(fixtures["objects"][1]["item"], 2, "{fixtures:#}");

    let mut cmd = scan();
    with_snapshot(&mut cmd);
    let manifests = cmd
        .arg("--output")
        .arg("json")
        .arg(data("scan/seed.yaml"))
        .assert()
        .code(1);
    let manifests = stdout_json(&manifests);
    assert_seed_problems(&manifests);
    // the lines of the offending values in seed.yaml
    let lines: Vec<&Value> = manifests["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["problems"][0]["line"])
        .collect();
    assert_eq!(lines, [&json!(21), &json!(61)]);

    // with the workload check, everything the Deployment names is in the
    // snapshot: still only the two seed problems
    let mut cmd = scan();
    with_snapshot(&mut cmd);
    let all = cmd
        .args([
            "--output",
            "json",
            "--settings",
            r#"{"checkWorkloadReferences": true, "checkSecretReferences": true}"#,
        ])
        .arg(data("scan/seed.yaml"))
        .assert()
        .code(1);
    assert_seed_problems(&stdout_json(&all));

    // without the snapshot, the set alone is the cluster
    scan()
        .arg(data("scan/seed.yaml"))
        .assert()
        .code(1)
        .stdout(contains(
            r#"names Service "datastorage" in namespace "kubernaut-system", which does not exist; create the Service or correct the name"#,
        ));
}

#[test]
fn folders_are_read_recursively_and_json_files_too() {
    let dir = temp_dir();
    std::fs::create_dir_all(dir.join("chart/templates/nested")).unwrap();
    std::fs::create_dir_all(dir.join(".git")).unwrap();
    std::fs::write(
        dir.join("chart/templates/configmap.yml"),
        read("scan/shop/configmap.yaml"),
    )
    .unwrap();
    // the Service as JSON, in a folder further down
    let service: Value = yaml(&read("scan/shop/service.yaml"));
    std::fs::write(
        dir.join("chart/templates/nested/service.json"),
        service.to_string(),
    )
    .unwrap();
    // neither hidden folders nor other files are read
    std::fs::write(dir.join(".git/broken.yaml"), "kind: [").unwrap();
    std::fs::write(dir.join("chart/README.md"), "# not a manifest").unwrap();
    let assert = scan()
        .args(["-n", "shop", "--output", "json"])
        .arg(&dir)
        .assert()
        .code(0);
    let report = stdout_json(&assert);
    assert_eq!(report["summary"]["files"], 2, "{report:#}");
    assert_eq!(report["summary"]["objects"], 2, "{report:#}");
    assert_eq!(report["objects"][0]["verdict"], "accepted", "{report:#}");
}

#[test]
fn json_streams_lists_and_several_inputs() {
    let dir = temp_dir();
    // `kubectl get services -o json`: a ServiceList
    let service: Value = yaml(&read("scan/shop/service.yaml"));
    let list =
        json!({"apiVersion": "v1", "kind": "ServiceList", "metadata": {}, "items": [service]});
    std::fs::write(
        dir.join("services.json"),
        serde_json::to_string_pretty(&list).unwrap(),
    )
    .unwrap();
    // two JSON values in one file, and a file named without extension
    let configmap: Value = yaml(&read("scan/shop/configmap.yaml"));
    let mut other = configmap.clone();
    other["metadata"]["name"] = json!("other-config");
    std::fs::write(dir.join("configmaps"), format!("{configmap}\n{other}\n")).unwrap();
    let assert = scan()
        .args(["-n", "shop", "--output", "json"])
        .arg(dir.join("configmaps"))
        .arg(dir.join("services.json"))
        .arg("-")
        .write_stdin(read("scan/shop/deployment.yaml"))
        .assert()
        .code(0);
    let report = stdout_json(&assert);
    assert_eq!(report["summary"]["checked"], 3, "{report:#}");
    assert_eq!(report["objects"][1]["document"], 2, "{report:#}");
    assert_eq!(report["objects"][1]["line"], 2, "{report:#}");
    // the List's Service selects no Pod of the set: warned, as item 1
    assert_eq!(report["objects"][2]["kind"], "Service", "{report:#}");
    assert_eq!(report["objects"][2]["item"], 1, "{report:#}");
    assert_eq!(report["objects"][3]["file"], "<stdin>", "{report:#}");
}

#[test]
fn json_output() {
    let dir = temp_dir();
    let stream = shop_stream(&["configmap", "service-headless"]);
    std::fs::write(dir.join("shop.yaml"), &stream).unwrap();
    let assert = scan()
        .args(["-n", "shop", "-o", "json"])
        .arg(dir.join("shop.yaml"))
        .assert()
        .code(1);
    let report = stdout_json(&assert);
    assert_eq!(
        report["summary"],
        json!({"files": 1, "documents": 2, "objects": 2, "checked": 1, "accepted": 0, "warned": 0,
               "rejected": 1, "errors": 0, "ignored": 1, "ignoredWithWarnings": 1,
               "notObjects": 0, "helmTemplates": 0, "kustomizeFolders": 0, "exitCode": 1})
    );
    let object = &report["objects"][0];
    assert_eq!(object["kind"], "ConfigMap");
    assert_eq!(object["checked"], true);
    assert_eq!(object["namespace"], "shop");
    assert_eq!(object["name"], "shop-config");
    assert_eq!(object["verdict"], "rejected");
    assert_eq!(object["document"], 1);
    assert_eq!(object["line"], 4);
    assert_eq!(object["helmSource"], "shop/templates/configmap.yaml");
    assert_eq!(object["hostCalls"], 1);
    assert_eq!(
        object["problems"],
        json!([{"message": DID_YOU_MEAN, "line": 15, "column": 14}])
    );
    assert_eq!(report["errors"], json!([]));
    // the Service, not checked by the policy, with the warning of scan's own
    // rule: its Pods are not in the set
    let service = &report["objects"][1];
    assert_eq!(
        (
            &service["kind"],
            &service["name"],
            &service["checked"],
            &service["verdict"]
        ),
        (
            &json!("Service"),
            &json!("api-headless"),
            &json!(false),
            &json!("warned")
        )
    );
    assert_eq!(service["warnings"][0]["line"], 27, "{service:#}");
    assert!(
        service["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with(SELECTS_NO_POD),
        "{service:#}"
    );
}

#[test]
fn sarif_output_points_at_file_and_line() {
    let dir = temp_dir();
    std::fs::write(
        dir.join("shop.yaml"),
        shop_stream(&["configmap", "service-headless"]),
    )
    .unwrap();
    std::fs::write(dir.join("broken.yaml"), "apiVersion: v1\nkind: [\n").unwrap();
    let assert = scan()
        .current_dir(&dir)
        .args([
            "-n",
            "shop",
            "--output",
            "sarif",
            "shop.yaml",
            "./broken.yaml",
        ])
        .assert()
        .code(2);
    let sarif = stdout_json(&assert);
    assert_eq!(sarif["version"], "2.1.0");
    assert!(sarif["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "dangling-references");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"service-reference") && rules.contains(&"invalid-input"),
        "{rules:?}"
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{sarif:#}");
    assert_eq!(results[0]["ruleId"], "service-reference");
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[0]["message"]["text"], DID_YOU_MEAN);
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"],
        json!({"artifactLocation": {"uri": "shop.yaml"}, "region": {"startLine": 15, "startColumn": 14}})
    );
    // scan's own rule, at the Service's selector
    assert_eq!(results[1]["ruleId"], "service-selects-no-pods");
    assert_eq!(results[1]["level"], "warning");
    assert!(
        results[1]["message"]["text"]
            .as_str()
            .unwrap()
            .starts_with(SELECTS_NO_POD),
        "{sarif:#}"
    );
    assert_eq!(
        results[1]["locations"][0]["physicalLocation"],
        json!({"artifactLocation": {"uri": "shop.yaml"}, "region": {"startLine": 27, "startColumn": 3}})
    );
    assert!(rules.contains(&"service-selects-no-pods"), "{rules:?}");
    assert_eq!(results[2]["ruleId"], "invalid-input");
    assert_eq!(
        results[2]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "broken.yaml"
    );
    assert_eq!(run["invocations"][0]["executionSuccessful"], false);

    // on stdin, the template `helm template` names is the location; with
    // --warn-only rejections are warnings
    let assert = scan()
        .args(["-n", "shop", "--output", "sarif", "--warn-only", "-"])
        .write_stdin(shop_stream(&["configmap"]))
        .assert()
        .code(0);
    let sarif = stdout_json(&assert);
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["level"], "warning");
    assert_eq!(
        result["locations"][0]["physicalLocation"],
        json!({"artifactLocation": {"uri": "shop/templates/configmap.yaml"}})
    );
    // without it, the line in the stream
    let assert = scan()
        .args(["-n", "shop", "--output", "sarif", "-"])
        .write_stdin(
            shop_stream(&["configmap"]).replace("# Source: shop/templates/configmap.yaml\n", ""),
        )
        .assert()
        .code(1);
    assert_eq!(
        stdout_json(&assert)["runs"][0]["results"][0]["locations"][0]["physicalLocation"],
        json!({"artifactLocation": {"uri": "stdin"}, "region": {"startLine": 14, "startColumn": 14}})
    );
}

#[test]
fn exit_codes() {
    let clean = shop_stream(SHOP);
    let rejected = shop_stream(&["configmap"]);
    scan()
        .args(["-n", "shop", "-"])
        .write_stdin(clean.clone())
        .assert()
        .code(0);
    scan()
        .args(["-n", "shop", "-"])
        .write_stdin(rejected.clone())
        .assert()
        .code(1);
    scan()
        .args(["-n", "shop", "--warn-only", "-"])
        .write_stdin(rejected.clone())
        .assert()
        .code(0)
        .stdout(contains("(--warn-only: rejections do not fail)"));
    // an error (here a document without kind) is 2, also with --warn-only,
    // and the other documents are still checked
    let with_error = format!("{rejected}---\napiVersion: v1\nmetadata: {{name: x}}\n");
    for extra in [&[][..], &["--warn-only"][..]] {
        scan()
            .args(["-n", "shop"])
            .args(extra)
            .arg("-")
            .write_stdin(with_error.clone())
            .assert()
            .code(2)
            .stdout(
                contains("  document 2, line 18: error: the object has no kind\n")
                    .and(contains(DID_YOU_MEAN).not())
                    .and(contains("names Service \"api\""))
                    .and(contains("1 rejected, 0 with warnings, 0 accepted; 1 error")),
            );
    }
}

#[test]
fn warnings_are_shown_and_do_not_fail() {
    scan()
        .args(["-n", "shop", "--settings", r#"{"action": "warn"}"#, "-"])
        .write_stdin(shop_stream(&["configmap", "service-headless"]))
        .assert()
        .code(0)
        .stdout(
            contains("ConfigMap shop/shop-config (document 1, line 4): warned\n")
                .and(contains(format!("    warning: line 15: {DID_YOU_MEAN}\n")))
                .and(contains("0 rejected, 1 with warnings, 0 accepted")),
        );
}

#[test]
fn objects_without_namespace_go_to_the_namespace_flag() {
    // the Service lands in `other` too, so `api.shop` does not exist
    scan()
        .args(["-n", "other", "-"])
        .write_stdin(shop_stream(SHOP))
        .assert()
        .code(1)
        .stdout(contains("ConfigMap other/shop-config").and(contains(
            r#"names Service "api" in namespace "shop", which does not exist"#,
        )));
    // default: `default`
    scan()
        .arg("-")
        .write_stdin(shop_stream(&["configmap"]))
        .assert()
        .code(1)
        .stdout(contains("ConfigMap default/shop-config"));
}

#[test]
fn kinds_the_policy_does_not_check_are_ignored_but_modelled() {
    let others = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\n---\n\
                  apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n---\n\
                  apiVersion: example.com/v1\nkind: Deployment\nmetadata: {name: not-apps}\nspec: {}\n---\n\
                  apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";
    scan()
        .args(["-n", "shop", "-v", "-"])
        .write_stdin(format!("{}---\n{others}", shop_stream(SHOP)))
        .assert()
        .code(0)
        .stdout(
            contains("3 objects checked in 1 file: 0 rejected, 0 with warnings, 3 accepted; 7 objects of other kinds not judged by the policy\n")
                .and(contains("ConfigMap shop/shop-config (document 1, line 4): accepted")),
        );
}

#[test]
fn unreadable_documents_are_reported_and_the_others_checked() {
    let dir = temp_dir();
    let text = format!(
        "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [\n---\n- just\n- a list\n---\n{}",
        read("scan/shop/configmap.yaml"),
        read("scan/shop/service.yaml").trim_start_matches("---\n")
    );
    std::fs::write(dir.join("mixed.yaml"), text).unwrap();
    let assert = scan()
        .args(["-n", "shop", "-o", "json"])
        .arg(dir.join("mixed.yaml"))
        .assert()
        .code(2);
    let report = stdout_json(&assert);
    let errors: Vec<String> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["document"],
                e["line"],
                e["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("2 18 invalid YAML: "), "{errors:?}");
    // the parser's position of the unclosed `[` (line 21 of the file)
    assert!(errors[0].contains("line 21"), "{errors:?}");
    // a sequence is not a Kubernetes object: skipped and counted, not an
    // error (issue 23: scan is given every YAML file of a commit)
    assert_eq!(
        report["skipped"],
        json!([{"file": dir.join("mixed.yaml").display().to_string(), "document": 3, "line": 23,
                "reason": "notAnObject", "message": "not a Kubernetes object (a sequence)"}])
    );
    assert_eq!(report["summary"]["notObjects"], 1, "{report:#}");
    // the Service of document 4 was read: the ConfigMap is accepted
    assert_eq!(report["objects"][0]["verdict"], "accepted", "{report:#}");
}

#[test]
fn duplicate_objects() {
    let configmap = read("scan/shop/configmap.yaml");
    scan()
        .args(["-n", "shop", "-"])
        .write_stdin(format!("{configmap}{}{configmap}", read("scan/shop/service.yaml")))
        .assert()
        .code(2)
        .stdout(contains(
            "  document 3, line 35: error: duplicate ConfigMap shop/shop-config: already defined in <stdin>, document 1 (line 4); only the first is scanned\n",
        ));
}

#[test]
fn bad_inputs_get_one_line_errors() {
    let dir = temp_dir();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::fs::write(
        dir.join("latin1.yaml"),
        b"kind: ConfigMap\nmetadata: {name: caf\xe9}\n",
    )
    .unwrap();
    let shop = data("scan/shop");

    assert_one_line_error(
        scan().arg(dir.join("nope.yaml")).assert(),
        &format!(
            "cannot read {}: no such file or folder",
            dir.join("nope.yaml").display()
        ),
    );
    assert_one_line_error(
        scan().arg(dir.join("empty")).assert(),
        "holds no .yaml, .yml or .json file",
    );
    assert_one_line_error(
        scan().arg(dir.join("latin1.yaml")).assert(),
        "is not UTF-8 text",
    );
    assert_one_line_error(
        scan().args(["-", "-"]).write_stdin("").assert(),
        "`-` (stdin) is given more than once",
    );
    assert_one_line_error(
        scan()
            .args(["--settings", r#"{"chekPorts": false}"#])
            .arg(&shop)
            .assert(),
        "the settings are not valid: ",
    );
    assert_one_line_error(
        scan().args(["--settings", "[1, 2]"]).arg(&shop).assert(),
        "Invalid settings",
    );
    assert_one_line_error(
        scan()
            .args(["--settings", "no-such-settings.yaml"])
            .arg(&shop)
            .assert(),
        "cannot read settings file no-such-settings.yaml: no such file",
    );
}

#[test]
fn bad_snapshots_get_one_line_errors() {
    let dir = temp_dir();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let shop = data("scan/shop");
    let cases = [
        ("not-json.json", "{\"items\": [", "is not valid JSON"),
        ("array.json", "[1, 2]", "is not a JSON object"),
        (
            "no-items.json",
            r#"{"apiVersion": "v1"}"#,
            "has neither items nor kind",
        ),
        (
            "no-namespace.json",
            r#"{"kind": "List", "items": [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"}}]}"#,
            "item 1: Service api without metadata.namespace (take the snapshot with -A)",
        ),
        (
            "not-an-object.json",
            r#"{"kind": "List", "items": [3]}"#,
            "item 1: not a Kubernetes object",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(name, text);
        assert_one_line_error(
            scan().arg("--snapshot").arg(&path).arg(&shop).assert(),
            expected,
        );
    }
    assert_one_line_error(
        scan()
            .arg("--snapshot")
            .arg(dir.join("missing.json"))
            .arg(&shop)
            .assert(),
        "cannot read snapshot",
    );
    let names = write("names.txt", "secret/db-password\n");
    assert_one_line_error(
        scan().arg("--secret-names").arg(&names).arg(&shop).assert(),
        "line 1: \"secret/db-password\" names no namespace (`kubectl get secrets -A -o name` drops it)",
    );
    let names = write("bad-names.txt", "shop db a b\n");
    assert_one_line_error(
        scan().arg("--secret-names").arg(&names).arg(&shop).assert(),
        "line 1: expected \"<namespace> <name>\"",
    );
}

#[test]
fn a_policy_that_is_not_a_kubewarden_module() {
    let dir = temp_dir();
    let shop = data("scan/shop");
    let text = dir.join("policy.txt");
    std::fs::write(&text, "not a module").unwrap();
    assert_one_line_error(
        Command::new(env!("CARGO_BIN_EXE_dangling-references"))
            .args(["scan", "--policy"])
            .arg(&text)
            .arg(&shop)
            .assert(),
        "is not a WebAssembly module (a Kubewarden policy is a .wasm file)",
    );
    let truncated = dir.join("truncated.wasm");
    std::fs::write(&truncated, b"\0asm\x01\0\0\0\x01").unwrap();
    assert_one_line_error(
        Command::new(env!("CARGO_BIN_EXE_dangling-references"))
            .args(["scan", "--policy"])
            .arg(&truncated)
            .arg(&shop)
            .assert(),
        "is not a valid WebAssembly module",
    );
    let plain = dir.join("plain.wat");
    std::fs::write(&plain, "(module (memory (export \"memory\") 1))").unwrap();
    assert_one_line_error(
        Command::new(env!("CARGO_BIN_EXE_dangling-references"))
            .args(["scan", "--policy"])
            .arg(&plain)
            .arg(&shop)
            .assert(),
        "is not a Kubewarden policy",
    );
    assert_one_line_error(
        Command::new(env!("CARGO_BIN_EXE_dangling-references"))
            .args(["scan", "--policy"])
            .arg(dir.join("missing.wasm"))
            .arg(&shop)
            .assert(),
        "cannot read policy",
    );
}

#[test]
fn a_call_the_model_cannot_answer_is_an_evaluation_error() {
    // a snapshot without Secret names: the cluster's Secrets are unknown
    let workload = r#"{"checkWorkloadReferences": true, "checkSecretReferences": true}"#;
    scan()
        .args(["--settings", workload, "--snapshot"])
        .arg(data("scan/cluster-snapshot.json"))
        .arg(data("scan/seed.yaml"))
        .assert()
        .code(2)
        .stdout(
            contains("  Deployment kubernaut-system/datastorage (document 2, line 29): error\n")
                .and(contains(
                    "    cannot evaluate against the model cluster: cannot list the v1/Secret objects of namespace kubernaut-system: the snapshot has no Secret names (give them with --secret-names)",
                ))
                .and(contains("1 error")),
        );
    // a policy that asks for a kind the model does not hold
    let guest = common::host_call_guest(
        "get_resource",
        &json!({"api_version": "apps/v1", "kind": "DaemonSet", "name": "web", "namespace": "shop",
                "disable_cache": false, "field_masks": null}),
        common::OnHostError::Accept,
    )
    .write();
    let assert = Command::new(env!("CARGO_BIN_EXE_dangling-references"))
        .args(["scan", "-n", "shop", "-o", "json", "--policy"])
        .arg(&guest)
        .arg(data("scan/shop/configmap.yaml"))
        .assert()
        .code(2);
    let report = stdout_json(&assert);
    assert_eq!(report["objects"][0]["verdict"], "error", "{report:#}");
    assert_eq!(
        report["objects"][0]["error"],
        "cannot evaluate against the model cluster: cannot get apps/v1/DaemonSet shop/web: the model cluster holds only v1 Services, ConfigMaps, ServiceAccounts, Secret names, PersistentVolumeClaims and ReplicationControllers, apps/v1 Deployments, StatefulSets and ReplicaSets, and rbac.authorization.k8s.io/v1 Roles and ClusterRoles"
    );
}

#[test]
fn usage_errors_exit_two() {
    Command::new(env!("CARGO_BIN_EXE_dangling-references"))
        .arg("scan")
        .assert()
        .code(2)
        .stderr(contains("<PATH>"));
    Command::new(env!("CARGO_BIN_EXE_dangling-references"))
        .args(["scan", "--output", "xml", "-"])
        .assert()
        .code(2)
        .stderr(contains("invalid value 'xml'"));
}

#[test]
fn empty_stdin_is_an_error_not_a_clean_scan() {
    let assert = scan().arg("-").write_stdin("  \n").assert();
    assert_one_line_error(assert, "stdin is empty: nothing to scan");
}

/// The identity of the warning on the chart's headless Service when its
/// Pods (those of Deployment `api`) are not in the set.
const SELECTS_NO_POD: &str = r#"Service shop/api-headless: its selector app.kubernetes.io/component=api selects no Pod of the set in namespace "shop""#;

/// A Service whose selector matches no Pod template of the set (nor a Pod
/// of the snapshot) in its namespace is a warning of `scan`, never a
/// rejection: each case is a stream, a snapshot of Pods (or none) and the
/// warnings on its Services (`Service ns/name: identity`).
#[test]
fn a_service_that_selects_no_pod_is_a_warning() {
    let dir = temp_dir();
    let pods = dir.join("pods.json");
    // `kubectl get pods -A -o json`: a Pod of the api Deployment, made by
    // its ReplicaSet
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "api-7d9f8-x2x9q", "namespace": "shop",
                     "labels": {"app.kubernetes.io/component": "api", "pod-template-hash": "7d9f8"}},
        "spec": {"containers": [{"name": "api", "image": "registry.example.com/shop/api:1.4.2",
                                 "ports": [{"name": "http", "containerPort": 8080}]}]}});
    std::fs::write(
        &pods,
        json!({"apiVersion": "v1", "kind": "List", "items": [pod]}).to_string(),
    )
    .unwrap();
    let without_selector = "---\napiVersion: v1\nkind: Service\nmetadata: {name: legacy-db}\n\
                            spec: {ports: [{port: 5432}]}\n---\napiVersion: v1\nkind: Service\n\
                            metadata: {name: external}\nspec: {type: ExternalName, externalName: db.example.com, selector: {app: db}}\n";
    // kube-prometheus: prometheus-operator makes the Pods of a Prometheus,
    // with its podMetadata labels and its own (the instance `k8s`)
    let prometheus = "---\napiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: k8s}\n\
                      spec:\n  podMetadata:\n    labels: {app.kubernetes.io/component: prometheus}\n---\n\
                      apiVersion: v1\nkind: Service\nmetadata: {name: prometheus-k8s}\nspec:\n  ports: [{port: 9090}]\n  \
                      selector: {app.kubernetes.io/component: prometheus, app.kubernetes.io/instance: k8s}\n";
    let api_to_web = r#"Service shop/api: its selector app.kubernetes.io/component=api selects no Pod of the set in namespace "shop" (closest: Deployment shop/web, with app.kubernetes.io/component=web): the Service has no endpoints until Pods with these labels exist"#;
    let cases: Vec<(&str, String, Option<&Path>, Vec<&str>)> = vec![
        (
            "the selector matches a Deployment's Pod template",
            shop_stream(&["deployment-api", "service", "service-headless"]),
            None,
            vec![],
        ),
        (
            "the selector matches nothing: the selector and the closest labels",
            shop_stream(&["deployment", "service"]),
            None,
            vec![api_to_web],
        ),
        (
            "no Pod template in the namespace at all",
            shop_stream(&["service-headless"]),
            None,
            vec![
                r#"Service shop/api-headless: its selector app.kubernetes.io/component=api selects no Pod of the set in namespace "shop", which has none: "#,
            ],
        ),
        (
            "a Service without selector (manual Endpoints), an ExternalName",
            without_selector.to_owned(),
            None,
            vec![],
        ),
        (
            "a Pod of the snapshot makes it match",
            shop_stream(&["deployment", "service"]),
            Some(pods.as_path()),
            vec![],
        ),
        (
            "a custom resource's Pods, with the labels its operator adds",
            prometheus.to_owned(),
            None,
            vec![],
        ),
    ];
    for (name, stream, snapshot, expected) in cases {
        let mut cmd = scan();
        if let Some(snapshot) = snapshot {
            cmd.arg("--snapshot").arg(snapshot);
        }
        let assert = cmd
            .args(["-n", "shop", "-o", "json", "-"])
            .write_stdin(stream)
            .assert()
            .code(0);
        let report = stdout_json(&assert);
        let warnings: Vec<String> = report["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["kind"] == "Service")
            .flat_map(|o| o["warnings"].as_array().unwrap().iter())
            .map(|w| w["message"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(warnings.len(), expected.len(), "{name}: {warnings:#?}");
        for (warning, identity) in warnings.iter().zip(&expected) {
            assert!(warning.starts_with(identity), "{name}: {warning}");
        }
        assert_eq!(
            report["summary"]["ignoredWithWarnings"],
            expected.len(),
            "{name}"
        );
    }
    // as text: under the Service, at the line of its selector; the exit
    // code is 0
    scan()
        .args(["-n", "shop", "-"])
        .write_stdin(shop_stream(&["deployment", "service"]))
        .assert()
        .code(0)
        .stdout(
            contains("  Service shop/api (document 2, line 38): warned\n")
                .and(contains("    from shop/templates/service.yaml\n"))
                .and(contains(format!("    warning: line 45: {api_to_web}")))
                .and(contains(
                    "1 object checked in 1 file: 0 rejected, 0 with warnings, 1 accepted; 1 object of other kinds not judged by the policy (1 with warnings of scan's own rules)\n",
                )),
        );
}

/// Route backends in a set (`checkRoutes`, the default): each case is one
/// Ingress, HTTPRoute or GRPCRoute beside the Services of namespaces `shop`
/// (`api`: 8080 "http"; `legacy`: ExternalName) and `backend` (`grpc`:
/// 9090), and the identity of its rejection (`None`: exit 0).
#[test]
fn route_backends_must_name_a_service_and_its_port() {
    let services = "---\napiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\n\
                    spec: {selector: {app: api}, ports: [{name: http, port: 8080}]}\n\
                    ---\napiVersion: v1\nkind: Service\nmetadata: {name: legacy, namespace: shop}\n\
                    spec: {type: ExternalName, externalName: legacy.example.com}\n\
                    ---\napiVersion: v1\nkind: Service\nmetadata: {name: grpc, namespace: backend}\n\
                    spec: {ports: [{name: grpc, port: 9090}]}\n\
                    ---\napiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: shop, labels: {app: api}}\n\
                    spec: {containers: [{name: api, image: registry.example.com/api:1}]}\n";
    let ingress = |backend: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: web, namespace: shop}}\n\
             spec:\n  rules:\n  - host: shop.example.com\n    http:\n      paths:\n      - path: /\n        \
             pathType: Prefix\n        backend:\n          service: {backend}\n"
        )
    };
    let route = |kind: &str, backend: &str| {
        format!(
            "---\napiVersion: gateway.networking.k8s.io/v1\nkind: {kind}\nmetadata: {{name: web, namespace: shop}}\n\
             spec:\n  parentRefs: [{{name: gw}}]\n  rules:\n  - backendRefs: [{backend}]\n"
        )
    };
    let default_backend = |name: &str| {
        format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {{name: web, namespace: shop}}\n\
             spec:\n  defaultBackend:\n    service: {{name: {name}, port: {{number: 8080}}}}\n"
        )
    };
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        (
            "Ingress, existing name and port number",
            ingress("{name: api, port: {number: 8080}}"),
            None,
        ),
        (
            "Ingress, missing name",
            ingress("{name: apii, port: {number: 8080}}"),
            Some(r#"Service "apii" does not exist in namespace "shop"; did you mean "api"?"#),
        ),
        (
            "Ingress, port number",
            ingress("{name: api, port: {number: 80}}"),
            Some(r#"Service "api" in namespace "shop" has no port 80 (it exposes 8080)"#),
        ),
        (
            "Ingress, existing port name",
            ingress("{name: api, port: {name: http}}"),
            None,
        ),
        (
            "Ingress, port name",
            ingress("{name: api, port: {name: https}}"),
            Some(r#"has no port named "https" (its named ports: "http")"#),
        ),
        (
            "Ingress, ExternalName accepts any port",
            ingress("{name: legacy, port: {number: 5432}}"),
            None,
        ),
        (
            "Ingress, defaultBackend exists",
            default_backend("api"),
            None,
        ),
        (
            "Ingress, defaultBackend missing",
            default_backend("default-http-backend"),
            Some(r#"spec.defaultBackend.service: Service "default-http-backend" does not exist"#),
        ),
        (
            "HTTPRoute, existing",
            route("HTTPRoute", "{name: api, port: 8080}"),
            None,
        ),
        (
            "HTTPRoute, missing name",
            route("HTTPRoute", "{name: apii, port: 8080}"),
            Some(
                r#"spec.rules[0].backendRefs[0]: Service "apii" does not exist in namespace "shop""#,
            ),
        ),
        (
            "HTTPRoute, port",
            route("HTTPRoute", "{name: api, port: 8443}"),
            Some(r#"Service "api" in namespace "shop" has no port 8443"#),
        ),
        (
            "HTTPRoute, cross-namespace",
            route("HTTPRoute", "{name: grpc, namespace: backend, port: 9090}"),
            None,
        ),
        (
            "HTTPRoute, cross-namespace missing",
            route("HTTPRoute", "{name: grpcc, namespace: backend, port: 9090}"),
            Some(r#"Service "grpcc" does not exist in namespace "backend"; did you mean "grpc"?"#),
        ),
        (
            "HTTPRoute, a backend of another kind is not judged",
            route(
                "HTTPRoute",
                "{group: storage.example, kind: Bucket, name: nothing}",
            ),
            None,
        ),
        (
            "GRPCRoute, existing",
            route("GRPCRoute", "{name: grpc, namespace: backend, port: 9090}"),
            None,
        ),
        (
            "GRPCRoute, missing name",
            route("GRPCRoute", "{name: grcp, namespace: backend, port: 9090}"),
            Some(
                r#"GRPCRoute shop/web, spec.rules[0].backendRefs[0]: Service "grcp" does not exist in namespace "backend""#,
            ),
        ),
    ];
    let mut failed = Vec::new();
    for (name, object, rejection) in &cases {
        let out = scan()
            .args(["--namespace", "shop", "-"])
            .write_stdin(format!("{services}{object}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let ok = match rejection {
            None => out.status.code() == Some(0) && !text.contains("rejected\n"),
            Some(identity) => out.status.code() == Some(1) && text.contains(identity),
        };
        if !ok {
            failed.push(format!("{name}: exit {:?}\n{text}", out.status.code()));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Every kind of finding is at the line and column of the field that holds
/// it, in the text, the JSON and the SARIF, in a multi-document file where
/// each value also occurs earlier (test_data/scan/positions/set.yaml).
#[test]
fn findings_are_at_their_fields() {
    const SETTINGS: &str = r#"{"checkWorkloadReferences": true, "checkSecretReferences": true}"#;
    // (the start of the message, line, column)
    let table: &[(&str, usize, usize)] = &[
        // the MetalLB shape: a port named memberlist-tcp 16 lines before
        (
            "DaemonSet shop/speaker, volumes[0].secret: Secret \"memberlist\" does not exist",
            38,
            23,
        ),
        (
            "container \"speaker\" (DaemonSet shop/speaker), env[0].valueFrom.configMapKeyRef: ConfigMap \"settings\" has no key \"level\"",
            29,
            20,
        ),
        (
            "container \"speaker\" (DaemonSet shop/speaker), env[1].value (variable \"CART_ADDR\"): \"http://cart.shop.svc:7070\"",
            31,
            18,
        ),
        (
            "container \"speaker\" (DaemonSet shop/speaker), args[1]: \"http://payments.shop.svc:80\"",
            34,
            11,
        ),
        // a container named like the ServiceAccount, three lines before
        (
            "CronJob shop/report, serviceAccountName: ServiceAccount \"reporter\" does not exist",
            56,
            31,
        ),
        // inside the block scalar, not at the comment above it
        (
            "ConfigMap shop/settings, key \"app.yaml\": \"http://search.shop.svc:9200\"",
            69,
            13,
        ),
        (
            "Ingress shop/web, spec.rules[0].http.paths[0].backend.service: Service \"storefront\" does not exist",
            84,
            27,
        ),
        (
            "container \"tool\" (Pod shop/tool): KUBECONFIG path \"/home/me/.kube/config\"",
            99,
            14,
        ),
    ];
    let file = data("scan/positions/set.yaml");
    let run = |format: &str| {
        scan()
            .args(["--settings", SETTINGS, "-o", format])
            .arg(&file)
            .assert()
            .code(1)
    };
    let report = stdout_json(&run("json"));
    let findings: Vec<(String, Value, Value)> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| {
            o["problems"]
                .as_array()
                .unwrap()
                .iter()
                .chain(o["warnings"].as_array().unwrap())
        })
        .map(|f| {
            (
                f["message"].as_str().unwrap().to_owned(),
                f["line"].clone(),
                f["column"].clone(),
            )
        })
        .collect();
    assert_eq!(findings.len(), table.len(), "{findings:#?}");
    let sarif = stdout_json(&run("sarif"));
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let text = String::from_utf8(run("text").get_output().stdout.clone()).unwrap();
    for (start, line, column) in table {
        let found = findings
            .iter()
            .find(|(m, _, _)| m.starts_with(start))
            .unwrap_or_else(|| panic!("no finding {start}: {findings:#?}"));
        assert_eq!(
            (&found.1, &found.2),
            (&json!(line), &json!(column)),
            "{start}"
        );
        let result = results
            .iter()
            .find(|r| r["message"]["text"].as_str().unwrap().starts_with(start))
            .unwrap_or_else(|| panic!("no SARIF result {start}"));
        assert_eq!(
            result["locations"][0]["physicalLocation"]["region"],
            json!({"startLine": line, "startColumn": column}),
            "{start}"
        );
        assert!(
            text.contains(&format!("line {line}: {start}")),
            "{start}\n{text}"
        );
    }
}

/// Hostile YAML (an alias bomb, nesting 10,000 deep) is refused as an
/// unreadable document by the parser's budgets, and the other documents are
/// checked on: the bomb (9^9 nodes expanded) stops at the node budget, one
/// node past 250,000, and the nesting at the depth limit, so the work done
/// is bounded by the budgets, not by what the documents expand to.
#[test]
fn hostile_yaml_is_refused_by_the_budgets() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\nx:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, prev) in ('b'..='i').zip('a'..='h') {
        bomb.push_str(&format!(
            "  {i}: &{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    let deep = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: deep}}\nx: {}1{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let dir = temp_dir();
    let file = dir.join("hostile.yaml");
    std::fs::write(
        &file,
        format!("{bomb}---\n{deep}---\n{}", read("scan/shop/configmap.yaml")),
    )
    .unwrap();
    let assert = scan()
        .args(["-n", "shop", "-o", "json"])
        .arg(&file)
        .assert()
        .code(2);
    let report = stdout_json(&assert);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{report:#}");
    let budgets = [
        "invalid YAML: budget breached: Nodes { nodes: 250001 }",
        "invalid YAML: recursion limit exceeded",
    ];
    for ((e, document), budget) in errors.iter().zip([1, 2]).zip(budgets) {
        assert_eq!(e["document"], document);
        assert!(e["message"].as_str().unwrap().starts_with(budget), "{e}");
    }
    assert_eq!(report["objects"].as_array().unwrap().len(), 1, "{report:#}");
}

/// A fault of a ConfigMap consumed by three workloads is reported once by
/// `scan`, on the ConfigMap, with the three consumers; each workload is
/// still rejected (one line pointing at the ConfigMap), and each is rejected
/// by the compiled policy at admission, where it is its own request
/// (test_data/scan/consumed/set.yaml).
#[test]
fn a_configmap_fault_is_reported_once() {
    use dangling_references::scan::{
        ManifestSet, ModelCluster, Snapshot, Source, evaluate, load_policy,
    };
    const SETTINGS: &str = r#"{"checkWorkloadReferences": true}"#;
    const FAULT: &str = "ConfigMap shop/urls, key \"API_URL\": \"http://gone.shop.svc:8080\" names Service \"gone\"";
    const CONSUMERS: &str =
        " (consumed by Deployment shop/web, Deployment shop/worker, Deployment shop/cron)";
    let file = data("scan/consumed/set.yaml");
    let report = stdout_json(
        &scan()
            .args(["--settings", SETTINGS, "-o", "json"])
            .arg(&file)
            .assert()
            .code(1),
    );
    assert_eq!(report["summary"]["rejected"], 4, "{report:#}");
    let objects = report["objects"].as_array().unwrap();
    let config_map = &objects[0]["problems"];
    assert_eq!(config_map.as_array().unwrap().len(), 1, "{report:#}");
    let message = config_map[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(FAULT) && message.ends_with(CONSUMERS),
        "{message}"
    );
    for (workload, line) in objects[1..].iter().zip([31, 50, 69]) {
        assert_eq!(workload["verdict"], "rejected");
        assert_eq!(
            workload["problems"],
            json!([{
                "message": "because of ConfigMap shop/urls, key \"API_URL\" (read here; reported once, on the ConfigMap)",
                "line": line, "column": 19, "reportedOn": "ConfigMap shop/urls"
            }]),
            "{report:#}"
        );
    }
    // the text and SARIF name the fault once too
    let text = scan()
        .args(["--settings", SETTINGS])
        .arg(&file)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        String::from_utf8(text)
            .unwrap()
            .matches("names Service")
            .count(),
        1
    );
    let sarif = stdout_json(
        &scan()
            .args(["--settings", SETTINGS, "-o", "sarif"])
            .arg(&file)
            .assert()
            .code(1),
    );
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif:#}");
    assert!(
        results[0]["message"]["text"]
            .as_str()
            .unwrap()
            .ends_with(CONSUMERS)
    );

    // at admission, the compiled policy rejects each workload for the key
    let set = ManifestSet::parse(
        &[Source::new("set.yaml", read("scan/consumed/set.yaml"))],
        "shop",
    );
    let model = Arc::new(ModelCluster::new(&set, &Snapshot::new()));
    let policy = load_policy(policy(), None).unwrap();
    let settings: Value = serde_json::from_str(SETTINGS).unwrap();
    let outcomes = evaluate(&policy, &set, &model, &settings, 2, None);
    assert_eq!(outcomes.len(), 4);
    for (i, outcome) in &outcomes[1..] {
        let response = &outcome.as_ref().unwrap().response;
        assert!(!response.accepted, "{}", set.objects[*i].name);
        assert!(
            response.message.as_deref().unwrap().contains(
                "envFrom[0].configMapRef: ConfigMap \"urls\", key \"API_URL\": \"http://gone.shop.svc:8080\" names Service \"gone\""
            ),
            "{response:?}"
        );
    }
}

/// The Deployment `api` (Pod labels `app: api`, container ports `http` and
/// `metrics`) and its Service `api` (labels `app: api`, ports `http` and
/// `metrics` to the same-named container ports), in namespace shop: what
/// the cases of [`scan_rules_of_selectors_and_named_ports_warn`] add to.
const API_SET: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\n\
    spec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    \
    spec:\n      containers:\n      - name: api\n        image: registry.example.com/shop/api:1.4.2\n        \
    ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9090}]\n---\n\
    apiVersion: v1\nkind: Service\nmetadata: {name: api, labels: {app: api}}\n\
    spec:\n  selector: {app: api}\n  ports: [{name: http, port: 80, targetPort: http}, {name: metrics, port: 9090, targetPort: metrics}]\n---\n";

/// `scan -n shop -o sarif -` on `stream`: the exit code must be 0; the
/// rule and message of every result.
fn sarif_warnings(stream: &str, snapshot: Option<&Path>) -> Vec<(String, String)> {
    let mut cmd = scan();
    if let Some(snapshot) = snapshot {
        cmd.arg("--snapshot").arg(snapshot);
    }
    let assert = cmd
        .args(["-n", "shop", "-o", "sarif", "-"])
        .write_stdin(stream.to_owned())
        .assert()
        .code(0);
    let sarif = stdout_json(&assert);
    sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["level"], "warning", "{r:#}");
            (
                r["ruleId"].as_str().unwrap().to_owned(),
                r["message"]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The rules of `scan` alone on selectors and named ports: each an object
/// added to [`API_SET`] and the rule and start of the warning it gets
/// (`None`: no warning). Every one is a warning: the exit code is 0.
#[rstest::rstest]
#[case::target_port_declared(
    "apiVersion: v1\nkind: Service\nmetadata: {name: api-web}\nspec: {selector: {app: api}, ports: [{port: 80, targetPort: http}]}\n",
    None
)]
#[case::target_port_not_declared(
    "apiVersion: v1\nkind: Service\nmetadata: {name: api-web}\nspec: {selector: {app: api}, ports: [{port: 80, targetPort: htp}]}\n",
    Some(("service-target-port-not-declared", "Service shop/api-web: its spec.ports[0].targetPort \"htp\" is declared by no container of the Pods it selects (Deployment shop/api declares \"http\", \"metrics\"; closest: \"http\")"))
)]
#[case::pdb_selects(
    "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: api}\nspec: {minAvailable: 1, selector: {matchLabels: {app: api}}}\n",
    None
)]
#[case::pdb_selects_nothing(
    "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: api}\nspec: {minAvailable: 1, selector: {matchLabels: {app: apo}}}\n",
    Some(("pdb-selects-no-pods", "PodDisruptionBudget shop/api: its spec.selector app=apo selects no Pod of the set in namespace \"shop\" (closest: Deployment shop/api, with app=api): the budget protects no Pod"))
)]
#[case::networkpolicy_selects(
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api}\nspec: {podSelector: {matchExpressions: [{key: app, operator: In, values: [api, web]}]}}\n",
    None
)]
#[case::networkpolicy_selects_nothing(
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api}\nspec: {podSelector: {matchLabels: {app: ap}}}\n",
    Some(("networkpolicy-selects-no-pods", "NetworkPolicy shop/api: its spec.podSelector app=ap selects no Pod of the set in namespace \"shop\" (closest: Deployment shop/api, with app=api): the policy applies to no Pod"))
)]
#[case::networkpolicy_peer_selects(
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api}\nspec: {podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]}\n",
    None
)]
#[case::networkpolicy_peer_selects_nothing(
    "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api}\nspec: {podSelector: {}, ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]}\n",
    Some(("networkpolicy-peer-selects-no-pods", "NetworkPolicy shop/api: its spec.ingress[0].from[0].podSelector app=web selects no Pod of the set in namespace \"shop\" (closest: Deployment shop/api, with app=api): the rule lets in no Pod"))
)]
#[case::servicemonitor_selects(
    "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: api}\nspec: {selector: {matchLabels: {app: api}}, endpoints: [{port: metrics}]}\n",
    None
)]
#[case::servicemonitor_selects_nothing(
    "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: api}\nspec: {namespaceSelector: {any: true}, selector: {matchLabels: {app: apii}}, endpoints: [{port: metrics}]}\n",
    Some(("servicemonitor-selects-no-services", "ServiceMonitor shop/api: its spec.selector app=apii selects no Service of the set in any namespace (closest: Service shop/api, with app=api): Prometheus scrapes nothing for it"))
)]
#[case::podmonitor_selects(
    "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: api}\nspec: {selector: {matchLabels: {app: api}}, podMetricsEndpoints: [{port: metrics}]}\n",
    None
)]
#[case::podmonitor_selects_nothing(
    "apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: api}\nspec: {selector: {matchExpressions: [{key: app, operator: DoesNotExist}]}}\n",
    Some(("podmonitor-selects-no-pods", "PodMonitor shop/api: its spec.selector !app selects no Pod of the set in namespace \"shop\" (closest: Deployment shop/api, with app=api): Prometheus scrapes nothing for it"))
)]
#[case::servicemonitor_port_found(
    "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: api}\nspec: {selector: {matchLabels: {app: api}}, endpoints: [{port: http}, {targetPort: 9090}]}\n",
    None
)]
#[case::servicemonitor_port_not_found(
    "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: api}\nspec: {selector: {matchLabels: {app: api}}, endpoints: [{port: https}]}\n",
    Some(("servicemonitor-port-not-found", "ServiceMonitor shop/api: its spec.endpoints[0].port \"https\" is no port name of the Services it selects (Service shop/api has the ports \"http\", \"metrics\"; closest: \"http\")"))
)]
fn scan_rules_of_selectors_and_named_ports_warn(
    #[case] object: &str,
    #[case] expected: Option<(&str, &str)>,
) {
    let found = sarif_warnings(&format!("{API_SET}{object}"), None);
    match expected {
        None => assert_eq!(found, [], "{object}"),
        Some((rule, start)) => {
            assert_eq!(found.len(), 1, "{found:#?}");
            assert_eq!(found[0].0, rule);
            assert!(found[0].1.starts_with(start), "{}", found[0].1);
        }
    }
}

/// `test_data/scan/servicemonitor-selects-nothing`: a ServiceMonitor whose
/// selector matches no Service, and one whose endpoint port no Service it
/// selects has; warnings at their lines, the exit code 0.
#[test]
fn a_servicemonitor_that_selects_nothing_is_a_warning() {
    let set = data("scan/servicemonitor-selects-nothing");
    let assert = scan().arg(&set).arg("-o").arg("sarif").assert().code(0);
    let sarif = stdout_json(&assert);
    let results: Vec<(&str, &str, &Value)> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ruleId"].as_str().unwrap(),
                r["message"]["text"].as_str().unwrap(),
                &r["locations"][0]["physicalLocation"]["region"],
            )
        })
        .collect();
    assert_eq!(results.len(), 2, "{sarif:#}");
    assert_eq!(results[0].0, "servicemonitor-selects-no-services");
    assert_eq!(
        results[0].1,
        "ServiceMonitor shop/api-typo: its spec.selector app.kubernetes.io/name=apj selects no Service \
         of the set in namespace \"shop\" (closest: Service shop/api, with app.kubernetes.io/name=api): \
         Prometheus scrapes nothing for it until Services with these labels exist; correct the \
         selector or the Service labels, unless something else creates these Services"
    );
    assert_eq!(results[0].2["startLine"], 55);
    assert_eq!(results[1].0, "servicemonitor-port-not-found");
    assert_eq!(
        results[1].1,
        "ServiceMonitor shop/api: its spec.endpoints[0].port \"metric\" is no port name of the \
         Services it selects (Service shop/api has the ports \"http\", \"metrics\"; closest: \
         \"metrics\"): Prometheus scrapes nothing on this endpoint; correct the port, or name the \
         Service's port \"metric\""
    );
    assert_eq!(results[1].2["startLine"], 71);
    // the SARIF rules list every rule of scan's own
    let rules: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for rule in [
        "service-selects-no-pods",
        "service-target-port-not-declared",
        "pdb-selects-no-pods",
        "networkpolicy-selects-no-pods",
        "networkpolicy-peer-selects-no-pods",
        "servicemonitor-selects-no-services",
        "podmonitor-selects-no-pods",
        "servicemonitor-port-not-found",
    ] {
        assert!(rules.contains(&rule), "{rule}: {rules:?}");
    }
    // as text: under each ServiceMonitor
    scan().arg(&set).assert().code(0).stdout(
        contains("  ServiceMonitor shop/api-typo (document 3, line 49): warned\n").and(contains(
            "  ServiceMonitor shop/api (document 4, line 61): warned\n",
        )),
    );
}

/// The Pods of a snapshot count for named target ports: their containers'
/// port names, as for the set's templates.
#[test]
fn a_snapshots_pods_declare_target_ports() {
    let dir = temp_dir();
    let snapshot = |port: &str| {
        let path = dir.join(format!("pods-{port}.json"));
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-7d9-x", "namespace": "shop", "labels": {"app": "web", "pod-template-hash": "7d9"}},
            "spec": {"containers": [{"name": "web", "ports": [{"name": port, "containerPort": 8080}]}]}});
        std::fs::write(
            &path,
            json!({"apiVersion": "v1", "kind": "List", "items": [pod]}).to_string(),
        )
        .unwrap();
        path
    };
    let service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n\
                   spec: {selector: {app: web}, ports: [{port: 80, targetPort: http}]}\n";
    assert_eq!(
        sarif_warnings(service, Some(&snapshot("http"))),
        Vec::<(String, String)>::new()
    );
    let found = sarif_warnings(service, Some(&snapshot("web")));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, "service-target-port-not-declared");
    assert!(
        found[0]
            .1
            .contains("(Pod shop/web-7d9-x declares \"web\"; closest: \"web\")"),
        "{}",
        found[0].1
    );
}

/// `--help` gives the one kubectl line that takes a snapshot of every kind
/// scan reads, as the error on a bad snapshot does.
#[test]
fn the_snapshot_help_gives_the_kubectl_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_dangling-references"))
        .args(["scan", "--help"])
        .assert()
        .code(0);
    let help = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    let command = dangling_references::scan::model::SNAPSHOT_COMMAND;
    assert!(help.contains(command), "{command} not in: {help}");
    for kind in [
        "pods",
        "deployments",
        "persistentvolumeclaims",
        "roles",
        "clusterroles",
        "serviceaccounts",
        "services",
    ] {
        assert!(command.contains(kind), "{kind}");
    }
    let dir = temp_dir();
    std::fs::write(dir.join("bad.json"), "[1]").unwrap();
    let assert = scan()
        .arg("--snapshot")
        .arg(dir.join("bad.json"))
        .arg(data("scan/shop"))
        .assert();
    assert_one_line_error(assert, command);
}

/// `test_data/scan/webhook-service-missing`: a ValidatingWebhookConfiguration
/// whose Service is misspelt is rejected at the line of the Service, under
/// SARIF rule `webhook-service`, with the name that exists; exit code 1.
#[test]
fn a_dangling_webhook_service_is_rejected() {
    let set = data("scan/webhook-service-missing");
    let assert = scan().arg(&set).arg("-o").arg("sarif").assert().code(1);
    let sarif = stdout_json(&assert);
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{sarif:#}");
    assert_eq!(results[0]["ruleId"], "webhook-service");
    assert_eq!(results[0]["level"], "error");
    assert_eq!(
        results[0]["message"]["text"],
        "ValidatingWebhookConfiguration policy-webhook, webhooks[0].clientConfig.service: Service \
         \"policy-webhok\" does not exist in namespace \"policy-system\" (did you mean \
         \"policy-webhook\"?); the API server cannot call the webhook, so every request it \
         matches fails (or skips the webhook with failurePolicy Ignore); create the Service or \
         correct the name"
    );
    assert_eq!(
        results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        54
    );
}

#[test]
fn what_is_not_a_manifest_is_skipped_and_counted() {
    // a repository's files, as the pre-commit hook passes them (issue 23)
    let dir = temp_dir();
    let files = [
        (
            "values.yaml",
            "replicaCount: 2\nimage: {repository: nginx}\n",
        ),
        ("ci.yml", "name: ci\non: [push]\njobs: {}\n"),
        // (a kustomization.yaml would make the folder a kustomize folder:
        // a_kustomize_folder_is_skipped_with_its_build_command)
        (
            "template.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n---\n{{- if .Values.x }}\nkind: [\n{{- end }}\n",
        ),
    ];
    let mut args = Vec::new();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
        args.push(dir.join(name));
    }
    std::fs::write(dir.join("shop.yaml"), shop_stream(SHOP)).unwrap();
    args.push(dir.join("shop.yaml"));
    let template = dir.join("template.yaml").display().to_string();
    let assert = scan().args(["-n", "shop"]).args(&args).assert().code(0);
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    // the template: one line, not an error per document
    assert_eq!(
        out,
        format!(
            "{template}\n  line 4: skipped: a Helm template ({{{{ … }}}}): render it first: \
             helm template RELEASE CHART | dangling-references scan -\n\n\
             3 objects checked in 4 files: 0 rejected, 0 with warnings, 3 accepted; \
             3 objects of other kinds not judged by the policy; 2 documents that are not Kubernetes \
             objects skipped; 1 Helm template skipped (render it first)\n"
        )
    );
    // -v lists the documents that are not objects
    scan()
        .args(["-n", "shop", "-v"])
        .args(&args)
        .assert()
        .code(0)
        .stdout(
            contains("  document 1, line 1: skipped: not a Kubernetes object (a mapping with no apiVersion and kind)\n")
                .count(2),
        );
    // on stdin too
    scan()
        .arg("-")
        .write_stdin(files[2].1)
        .assert()
        .code(0)
        .stdout(contains("<stdin>\n  line 4: skipped: a Helm template"));
}

/// `dangling-references scan --no-progress`, without `--policy`: the
/// policy built into this program.
fn scan_built_in() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dangling-references"));
    cmd.env_remove("DANGLING_REFERENCES_POLICY")
        .args(["scan", "--no-progress"]);
    cmd
}

/// The settings the reference graph reads Pod templates with.
const WORKLOAD_REFERENCES: &str = r#"{"checkWorkloadReferences": true}"#;

/// `test_data/scan/reference-graph/set.yaml` scanned with `settings` (exit
/// code `code`), as JSON and as SARIF.
fn reference_graph_scan(settings: &str, code: i32) -> (Value, Value) {
    let set = data("scan/reference-graph/set.yaml");
    let run = |format: &str| {
        stdout_json(
            &scan_built_in()
                .args(["--settings", settings, "-o", format])
                .arg(&set)
                .assert()
                .code(code),
        )
    };
    (run("json"), run("sarif"))
}

/// [`reference_graph_scan`] with [`WORKLOAD_REFERENCES`], scanned once
/// for every case.
fn reference_graph() -> &'static (Value, Value) {
    static REPORTS: OnceLock<(Value, Value)> = OnceLock::new();
    REPORTS.get_or_init(|| reference_graph_scan(WORKLOAD_REFERENCES, 1))
}

/// The verdict of the object `kind` `name` in a JSON report, and the
/// (rule, level, message, line, column) of its SARIF results.
type Sarif = (String, String, String, Value, Value);
fn judged(json: &Value, sarif: &Value, kind: &str, name: &str) -> (String, Vec<Sarif>) {
    let object = json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}: {json:#}"));
    let results = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["properties"]["kind"] == kind && r["properties"]["name"] == name)
        .map(|r| {
            let region = &r["locations"][0]["physicalLocation"]["region"];
            (
                r["ruleId"].as_str().unwrap().to_owned(),
                r["level"].as_str().unwrap().to_owned(),
                r["message"]["text"].as_str().unwrap().to_owned(),
                region["startLine"].clone(),
                region["startColumn"].clone(),
            )
        })
        .collect();
    (object["verdict"].as_str().unwrap().to_owned(), results)
}

/// Every row of the reference graph (src/graph/extract.rs), each with an
/// object whose reference resolves (in the set, or built into every
/// cluster) and one whose reference dangles
/// (`test_data/scan/reference-graph`): the verdict, the SARIF rule, the
/// start of the message, and the line and column of the field that holds
/// the name (the full path of the message read from the object's root,
/// workloads too), in SARIF and in JSON.
#[rstest::rstest]
#[case::apiservice_resolves("APIService", "v1beta1.metrics.k8s.io", "accepted", None)]
#[case::apiservice_dangles(
    "APIService",
    "v1beta1.custom.metrics.k8s.io",
    "warned",
    Some(("webhook-service", "APIService v1beta1.custom.metrics.k8s.io, spec.service: Service \"custom-metrics\" does not exist in namespace \"shop\" (did you mean \"metrics-server\"?); the aggregated API is unavailable", 120, 11))
)]
#[case::crd_conversion_resolves(
    "CustomResourceDefinition",
    "widgets.example.com",
    "accepted",
    None
)]
#[case::crd_conversion_dangles(
    "CustomResourceDefinition",
    "gadgets.example.com",
    "warned",
    Some(("webhook-service", "CustomResourceDefinition gadgets.example.com, spec.conversion.webhook.clientConfig.service: Service \"conversion-webhok\" does not exist in namespace \"shop\" (did you mean \"conversion\"?); the API server cannot convert", 159, 17))
)]
#[case::crd_without_conversion_webhook_calls_nothing(
    "CustomResourceDefinition",
    "gizmos.example.com",
    "accepted",
    None
)]
#[case::webhook_service_resolves("ValidatingWebhookConfiguration", "widgets", "accepted", None)]
#[case::webhook_service_port_dangles(
    "MutatingWebhookConfiguration",
    "gadgets",
    "rejected",
    Some(("webhook-service", "MutatingWebhookConfiguration gadgets, webhooks[0].clientConfig.service: Service \"conversion\" in namespace \"shop\" has no port 8443 (it exposes 443); the API server cannot call the webhook", 207, 15))
)]
#[case::claim_and_probe_port_resolve("Deployment", "web", "accepted", None)]
#[case::claim_dangles(
    "Deployment",
    "web-claim",
    "rejected",
    Some(("workload-reference", "Deployment shop/web-claim, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim \"date\" does not exist in namespace \"shop\" (did you mean \"data\"?); its Pods stay Pending", 254, 24))
)]
#[case::probe_port_dangles(
    "Deployment",
    "web-probe",
    "rejected",
    Some(("probe-port", "Deployment shop/web-probe, spec.template.spec.containers[0].readinessProbe.httpGet.port: container \"app\" has no port named \"healthz\" (it declares \"http\"); the kubelet cannot run the probe", 277, 21))
)]
#[case::governing_service_resolves("StatefulSet", "db", "accepted", None)]
#[case::governing_service_dangles(
    "StatefulSet",
    "cache",
    "warned",
    Some(("governing-service", "StatefulSet shop/cache, spec.serviceName: Service \"cache\" does not exist in namespace \"shop\"; its Pods run, but their per-Pod DNS names", 305, 16))
)]
#[case::scale_target_resolves("HorizontalPodAutoscaler", "web", "accepted", None)]
#[case::scale_target_dangles(
    "HorizontalPodAutoscaler",
    "api",
    "warned",
    Some(("scale-target", "HorizontalPodAutoscaler shop/api, spec.scaleTargetRef: Deployment \"api\" does not exist in namespace \"shop\"; the autoscaler cannot read its scale", 338, 11))
)]
#[case::role_and_service_accounts_resolve("RoleBinding", "reader", "accepted", None)]
#[case::role_ref_dangles(
    "RoleBinding",
    "writer",
    "warned",
    Some(("binding-reference", "RoleBinding shop/writer, roleRef: Role \"writer\" does not exist in namespace \"shop\"; the binding grants nothing until it exists", 365, 9))
)]
#[case::built_in_cluster_role_system_auth_delegator(
    "RoleBinding",
    "auth-delegator",
    "accepted",
    None
)]
#[case::built_in_cluster_role_view_and_default_service_account(
    "ClusterRoleBinding",
    "shop-view",
    "accepted",
    None
)]
#[case::service_account_subject_dangles(
    "ClusterRoleBinding",
    "shop-readers",
    "warned",
    Some(("binding-reference", "ClusterRoleBinding shop-readers, subjects[1]: ServiceAccount \"readr\" does not exist in namespace \"shop\" (did you mean \"reader\"?); the binding grants that ServiceAccount nothing", 408, 5))
)]
fn every_reference_of_the_graph_is_judged_at_its_field(
    #[case] kind: &str,
    #[case] name: &str,
    #[case] verdict: &str,
    #[case] expected: Option<(&str, &str, usize, usize)>,
) {
    let (json, sarif) = reference_graph();
    let (found, results) = judged(json, sarif, kind, name);
    assert_eq!(found, verdict, "{kind} {name}: {results:#?}");
    let Some((rule, start, line, column)) = expected else {
        assert_eq!(results, [], "{kind} {name}");
        return;
    };
    assert_eq!(results.len(), 1, "{kind} {name}: {results:#?}");
    let (found_rule, level, message, found_line, found_column) = &results[0];
    assert_eq!(found_rule, rule, "{message}");
    let level_of = if verdict == "rejected" {
        "error"
    } else {
        "warning"
    };
    assert_eq!(level, level_of, "{message}");
    assert!(message.starts_with(start), "{message:?} lacks {start:?}");
    assert_eq!(
        (found_line, found_column),
        (&json!(line), &json!(column)),
        "{message}"
    );
    // the JSON report places it at the same field
    let object = json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == kind && o["name"] == name)
        .unwrap();
    let list = if verdict == "rejected" {
        "problems"
    } else {
        "warnings"
    };
    let finding = &object[list][0];
    assert_eq!(finding["message"].as_str(), Some(message.as_str()));
    assert_eq!(
        (&finding["line"], &finding["column"]),
        (&json!(line), &json!(column))
    );
}

/// `test_data/scan/reference-graph` as a whole: the findings of
/// [`every_reference_of_the_graph_is_judged_at_its_field`] and no other,
/// the summary; without `checkWorkloadReferences` the Pod templates are
/// not read (the claim and probe port pass); with the `missing*` settings
/// at `deny`, every warning of the graph rejects.
#[test]
fn the_reference_graph_set_as_a_whole() {
    let (json, sarif) = reference_graph();
    let rules: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ruleId"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "webhook-service",
            "webhook-service",
            "webhook-service",
            "workload-reference",
            "probe-port",
            "governing-service",
            "scale-target",
            "binding-reference",
            "binding-reference",
        ]
    );
    assert_eq!(json["summary"]["checked"], 19, "{:#}", json["summary"]);
    assert_eq!(json["summary"]["ignored"], 6, "{:#}", json["summary"]);
    scan_built_in()
        .args(["--settings", WORKLOAD_REFERENCES])
        .arg(data("scan/reference-graph/set.yaml"))
        .assert()
        .code(1)
        .stdout(contains(
            "19 objects checked in 1 file: 3 rejected, 6 with warnings, 10 accepted; 6 objects of other kinds not judged by the policy\n",
        ));
    // by default the graph reads no Pod template: only the webhook port
    // rejects
    let (json, sarif) = reference_graph_scan("{}", 1);
    for (kind, name, verdict) in [
        ("Deployment", "web-claim", "accepted"),
        ("Deployment", "web-probe", "accepted"),
        ("StatefulSet", "cache", "accepted"),
        ("MutatingWebhookConfiguration", "gadgets", "rejected"),
        ("RoleBinding", "writer", "warned"),
    ] {
        assert_eq!(
            judged(&json, &sarif, kind, name).0,
            verdict,
            "{kind} {name}"
        );
    }
    // the warnings of the graph reject when the settings say deny, at
    // the same fields
    let (json, sarif) = reference_graph_scan(
        r#"{"checkWorkloadReferences": true, "missingExtensionServices": "deny",
            "missingGoverningServices": "deny", "missingScaleTargets": "deny",
            "missingBindingReferences": "deny"}"#,
        1,
    );
    for (kind, name, line) in [
        ("APIService", "v1beta1.custom.metrics.k8s.io", 120),
        ("CustomResourceDefinition", "gadgets.example.com", 159),
        ("StatefulSet", "cache", 305),
        ("HorizontalPodAutoscaler", "api", 338),
        ("RoleBinding", "writer", 365),
        ("ClusterRoleBinding", "shop-readers", 408),
    ] {
        let (verdict, results) = judged(&json, &sarif, kind, name);
        assert_eq!(verdict, "rejected", "{kind} {name}");
        assert_eq!(results.len(), 1, "{results:#?}");
        assert_eq!(
            (results[0].1.as_str(), &results[0].3),
            ("error", &json!(line))
        );
    }
    assert_eq!(json["summary"]["rejected"], 9, "{:#}", json["summary"]);
    assert_eq!(json["summary"]["accepted"], 10, "{:#}", json["summary"]);
}

/// `test_data/scan/reference-graph-snapshot`: a PersistentVolumeClaim, a
/// Role and a ClusterRole that only the cluster has (a `kubectl get … -o
/// json` List) resolve the claim and the bindings' `roleRef`s; a claim
/// the snapshot has in another namespace does not.
#[test]
fn a_snapshot_resolves_graph_references() {
    let set = data("scan/reference-graph-snapshot/set.yaml");
    let snapshot = data("scan/reference-graph-snapshot/cluster.json");
    let run = |snapshot: Option<&Path>| {
        let mut cmd = scan_built_in();
        if let Some(snapshot) = snapshot {
            cmd.arg("--snapshot").arg(snapshot);
        }
        let assert = cmd
            .args(["--settings", WORKLOAD_REFERENCES, "-o", "json"])
            .arg(&set)
            .assert()
            .code(1);
        let json = stdout_json(&assert);
        json["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let findings: Vec<(String, Value)> = o["problems"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .chain(o["warnings"].as_array().unwrap())
                    .map(|f| (f["message"].as_str().unwrap().to_owned(), f["line"].clone()))
                    .collect();
                (
                    format!(
                        "{} {}",
                        o["kind"].as_str().unwrap(),
                        o["name"].as_str().unwrap()
                    ),
                    o["verdict"].as_str().unwrap().to_owned(),
                    findings,
                )
            })
            .collect::<Vec<_>>()
    };
    let cache_reader = "Deployment shop/cache-reader, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim \"cache\" does not exist in namespace \"shop\"; its Pods stay Pending";
    // the set alone resolves nothing
    let alone = run(None);
    let expected = [
        (
            "Deployment worker",
            "rejected",
            "Deployment shop/worker, spec.template.spec.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim \"snap-data\" does not exist in namespace \"shop\"",
            29,
        ),
        ("Deployment cache-reader", "rejected", cache_reader, 49),
        (
            "RoleBinding worker",
            "warned",
            "RoleBinding shop/worker, roleRef: Role \"snap-reader\" does not exist in namespace \"shop\"",
            59,
        ),
        (
            "ClusterRoleBinding worker-admin",
            "warned",
            "ClusterRoleBinding worker-admin, roleRef: ClusterRole \"snap-admin\" does not exist;",
            71,
        ),
    ];
    assert_eq!(alone.len(), expected.len(), "{alone:#?}");
    for ((object, verdict, findings), (e_object, e_verdict, start, line)) in
        alone.iter().zip(expected)
    {
        assert_eq!((object.as_str(), verdict.as_str()), (e_object, e_verdict));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0].0.starts_with(start),
            "{:?} lacks {start:?}",
            findings[0].0
        );
        assert_eq!(findings[0].1, json!(line), "{start}");
    }
    // with the snapshot, only the claim of the other namespace dangles
    let with = run(Some(&snapshot));
    let verdicts: Vec<(&str, &str)> = with
        .iter()
        .map(|(o, v, _)| (o.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("Deployment worker", "accepted"),
            ("Deployment cache-reader", "rejected"),
            ("RoleBinding worker", "accepted"),
            ("ClusterRoleBinding worker-admin", "accepted"),
        ]
    );
    assert!(with[1].2[0].0.starts_with(cache_reader), "{:#?}", with[1]);
    assert_eq!(with[1].2[0].1, json!(49));
}

/// The files of a kustomize folder are kustomize's input (patches are
/// partial objects): the folder is skipped once, with the command that
/// renders it, whether the folder or its files one by one (as pre-commit
/// passes them) are given; the exit code is 0.
#[rstest::rstest]
#[case::the_folder(&[""])]
#[case::its_files_one_by_one(&["deployment.yaml", "patch.yaml"])]
fn a_kustomize_folder_is_skipped_with_its_build_command(#[case] inputs: &[&str]) {
    // one folder per case: the cases run in parallel in this process
    let dir = tempfile_dir(&format!("kustomize-{}", inputs.len()));
    std::fs::write(
        dir.join("kustomization.yaml"),
        "resources: [deployment.yaml]\npatches: [{path: patch.yaml}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("deployment.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, image: web}]\n",
    )
    .unwrap();
    // a patch: a partial object, with the same name as the Deployment
    std::fs::write(
        dir.join("patch.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers: [{name: web, readinessProbe: {tcpSocket: {port: pg}}}]\n",
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dangling-references"));
    cmd.args([
        "scan",
        "--no-progress",
        "--settings",
        r#"{"checkWorkloadReferences": true}"#,
    ])
    .env_remove("DANGLING_REFERENCES_POLICY");
    for input in inputs {
        cmd.arg(dir.join(input));
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let folder = dir.to_string_lossy();
    let folder = folder.trim_end_matches('/');
    assert!(
        stdout.contains(&format!(
            "render it first: kustomize build {folder} | dangling-references scan -"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("0 objects checked") && stdout.contains("1 kustomize folder skipped"),
        "{stdout}"
    );
}

/// A fresh folder under the target directory's tmp for one test.
fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
