//! The budgets of `e2e::budget` (`e2e/src/budget.rs`), checked on the module
//! under test (`e2e::policy_wasm()`: the optimized `policy.wasm`).

use e2e::{
    CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET, ClusterState, POLICY_WASM_SIZE_BUDGET, Policy, policy_wasm,
};
use serde_json::{Value, json};

#[test]
fn policy_wasm_is_within_its_size_budget() {
    let path = policy_wasm().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(
        size <= POLICY_WASM_SIZE_BUDGET,
        "{} is {size} bytes, over the budget of {POLICY_WASM_SIZE_BUDGET} bytes \
         (e2e/src/budget.rs says why it is that number)",
        path.display()
    );
}

/// A ConfigMap with 1 MiB of data in 1 KiB values, one in-cluster Service URL
/// per 256 bytes (4096 URLs) over 16 namespaces: the densest case of
/// `make bench`.
fn configmap_1mib() -> (Value, Vec<(String, String)>) {
    const SIZE: usize = 1 << 20;
    const FILLER: &str = "lorem ipsum dolor sit amet, consectetur adipiscing elit. ";
    let mut data = serde_json::Map::new();
    let mut services = Vec::new();
    for entry in 0..SIZE / 1024 {
        let mut value = String::with_capacity(1024);
        for k in 0..4 {
            let i = entry * 4 + k;
            let (service, namespace) = (format!("svc-{i}"), format!("ns-{}", i % 16));
            value.push_str(&format!(
                "http://{service}.{namespace}.svc.cluster.local:8080\n"
            ));
            services.push((namespace, service));
        }
        while value.len() < 1024 {
            let take = (1024 - value.len()).min(FILLER.len());
            value.push_str(&FILLER[..take]);
        }
        data.insert(format!("entry-{entry:05}.txt"), Value::String(value));
    }
    let request = json!({
        "uid": "budget",
        "kind": {"group": "", "version": "v1", "kind": "ConfigMap"},
        "resource": {"group": "", "version": "v1", "resource": "configmaps"},
        "name": "big",
        "namespace": "bench",
        "operation": "CREATE",
        "userInfo": {"username": "budget"},
        "object": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "big", "namespace": "bench"},
            "data": data,
        },
    });
    (request, services)
}

/// The linear memory a fresh instance (after `wapc_init`) adds while it
/// evaluates `request`.
fn memory_growth(policy: &Policy, request: &Value, cluster: ClusterState) -> (u64, bool) {
    let mut instance = policy.instantiate(cluster).unwrap();
    let before = instance.memory_size().unwrap();
    let eval = instance.validate(request, &json!({})).unwrap();
    let after = instance.memory_size().unwrap();
    ((after - before) as u64, eval.accepted())
}

#[test]
fn a_1_mib_configmap_stays_within_the_memory_growth_budget() {
    let policy = Policy::load_measuring_memory(policy_wasm().unwrap())
        .unwrap()
        .with_timeout(None);
    let (request, services) = configmap_1mib();

    // every Service exists: 16 listings of 256 Services each
    let mut cluster = ClusterState::new();
    for (namespace, service) in &services {
        cluster.add_service(namespace, service, &[8080]);
    }
    let (growth, accepted) = memory_growth(&policy, &request, cluster);
    assert!(accepted);
    assert!(
        growth < CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET,
        "a 1 MiB ConfigMap whose Services exist grew the linear memory by {growth} bytes, \
         budget {CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET}"
    );

    // no Service exists: 4096 findings, the rejection message and its count
    let (growth, accepted) = memory_growth(&policy, &request, ClusterState::new());
    assert!(!accepted);
    assert!(
        growth < CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET,
        "a 1 MiB ConfigMap of dangling URLs grew the linear memory by {growth} bytes, \
         budget {CONFIGMAP_1MIB_MEMORY_GROWTH_BUDGET}"
    );
}

#[test]
fn memory_is_measured_only_on_the_measuring_engine() {
    let path = policy_wasm().unwrap();
    let plain = Policy::load(&path).unwrap();
    assert_eq!(
        plain
            .instantiate(ClusterState::new())
            .unwrap()
            .memory_size(),
        None
    );
    let measuring = Policy::load_measuring_memory(&path).unwrap();
    let instance = measuring.instantiate(ClusterState::new()).unwrap();
    let size = instance.memory_size().unwrap();
    assert!(size > 0 && size.is_multiple_of(65536), "{size}");
}
