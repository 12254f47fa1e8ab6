//! `networkpolicy-selects-no-pods`: a NetworkPolicy whose non-empty
//! `spec.podSelector` matches no Pod template of its namespace applies to
//! nothing.
//!
//! `networkpolicy-peer-selects-no-pods`: a peer of `spec.ingress[].from[]`
//! or `spec.egress[].to[]` with a non-empty `podSelector` and no
//! `namespaceSelector` (so, Pods of the policy's own namespace) that
//! matches no Pod template there: the callers (or the destinations) it
//! means are cut off once the policy isolates its Pods.
//!
//! Not judged: an empty `podSelector` (every Pod of the namespace), a peer
//! with a `namespaceSelector` (other namespaces, which the set rarely
//! holds) or an `ipBlock`, and selectors the API server refuses.

use serde_json::Value;

use super::super::input::ManifestSet;
use super::super::report::Finding;
use super::super::yaml::Seg;
use super::{Index, NoMatch, PodTemplate, Selector, finding, one_namespace};

/// The SARIF rule of the warning on `spec.podSelector`.
pub const RULE: &str = "networkpolicy-selects-no-pods";

/// The SARIF rule of the warning on a peer's `podSelector`.
pub const PEER_RULE: &str = "networkpolicy-peer-selects-no-pods";

/// What the cluster does with a policy that selects no Pod.
const APPLIES_TO_NONE: &str = "the policy applies to no Pod until Pods with these labels exist; \
     correct the selector or the Pod labels, unless an operator or controller creates these Pods";

/// What the cluster does with an ingress peer that selects no Pod.
const ADMITS_NONE: &str = "the rule lets in no Pod, so the callers it means are cut off; correct \
     the selector or the Pod labels, unless an operator or controller creates these Pods";

/// What the cluster does with an egress peer that selects no Pod.
const REACHES_NONE: &str = "the rule lets the policy's Pods reach no Pod, so their connections \
     to the Pods it means are cut off; correct the selector or the Pod labels, unless an operator \
     or controller creates these Pods";

/// The non-empty selector at `path` of `object`, if the API server takes it.
fn selector_at(object: &Value, path: &[Seg]) -> Option<Selector> {
    let mut value = object;
    for seg in path {
        value = match seg {
            Seg::Key(k) => value.get(k)?,
            Seg::Index(i) => value.get(*i)?,
        };
    }
    Selector::from_label_selector(value).filter(|s| !s.is_empty())
}

/// The peer selectors of `policy` this rule judges: the path of each
/// same-namespace peer's non-empty `podSelector`, and whether it is of an
/// ingress rule.
fn peers(policy: &Value) -> Vec<(Vec<Seg>, bool)> {
    let mut found = Vec::new();
    for (direction, list, ingress) in [("ingress", "from", true), ("egress", "to", false)] {
        let rules = policy
            .pointer(&format!("/spec/{direction}"))
            .and_then(Value::as_array);
        for (r, rule) in rules.into_iter().flatten().enumerate() {
            let peers = rule.get(list).and_then(Value::as_array);
            for (p, peer) in peers.into_iter().flatten().enumerate() {
                if peer.get("namespaceSelector").is_some() || peer.get("podSelector").is_none() {
                    continue;
                }
                let path = vec![
                    Seg::key("spec"),
                    Seg::key(direction),
                    Seg::Index(r),
                    Seg::key(list),
                    Seg::Index(p),
                    Seg::key("podSelector"),
                ];
                found.push((path, ingress));
            }
        }
    }
    found
}

/// The warnings of both rules on `set`: for each NetworkPolicy of the set
/// whose `podSelector`, or a same-namespace peer's, selects no Pod of
/// `index` in its namespace, its index in `set.objects` and the finding,
/// at the line of the selector.
pub fn warnings(set: &ManifestSet, index: &Index) -> Vec<(usize, Finding)> {
    let mut found = Vec::new();
    for (i, policy) in set.objects.iter().enumerate() {
        let Some(namespace) = super::namespaced(policy, "networking.k8s.io", "NetworkPolicy")
        else {
            continue;
        };
        let here: Vec<&PodTemplate> = index.pods_in(namespace).iter().collect();
        let scope = one_namespace(namespace);
        let name = policy.display_name();
        let mut judge = |path: &[Seg], consequence: &str, rule: &'static str| {
            let Some(selector) = selector_at(&policy.object, path) else {
                return;
            };
            let no_match = NoMatch {
                object: &name,
                path,
                selector: &selector,
                noun: "Pod",
                of: index.pods_of(),
                scope: &scope,
                consequence,
            };
            let elsewhere = index.all_pods().filter(|_| here.is_empty());
            if let Some(message) = no_match.message(&here, elsewhere) {
                found.push((i, finding(policy, path, message, rule)));
            }
        };
        judge(
            &[Seg::key("spec"), Seg::key("podSelector")],
            APPLIES_TO_NONE,
            RULE,
        );
        for (path, ingress) in peers(&policy.object) {
            let consequence = if ingress { ADMITS_NONE } else { REACHES_NONE };
            judge(&path, consequence, PEER_RULE);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::super::super::model::Snapshot;
    use super::super::tests::{messages, set};
    use super::*;
    use rstest::rstest;

    const PODS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: db}\nspec:\n  template:\n    metadata:\n      labels: {app: db}\n---\n\
                        apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      labels: {app: web}\n---\n";

    fn policy(spec: &str) -> String {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: db}}\nspec:\n{spec}"
        )
    }

    /// A policy beside the Deployments `db` and `web`, and the rules and
    /// messages of its warnings.
    #[rstest]
    #[case::selects_db(policy("  podSelector: {matchLabels: {app: db}}\n"), vec![])]
    #[case::selects_all(policy("  podSelector: {}\n"), vec![])]
    #[case::a_typo(
        policy("  podSelector: {matchLabels: {app: bd}}\n"),
        vec![(RULE, "NetworkPolicy shop/db: its spec.podSelector app=bd selects no Pod of the set in namespace \"shop\" \
                     (closest: Deployment shop/db, with app=db): the policy applies to no Pod until Pods with these \
                     labels exist; correct the selector or the Pod labels, unless an operator or controller creates \
                     these Pods")]
    )]
    #[case::a_peer_that_exists(
        policy("  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - podSelector: {matchLabels: {app: web}}\n"),
        vec![]
    )]
    #[case::an_ingress_peer_that_does_not(
        policy("  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8}\n    - podSelector: {matchLabels: {app: webb}}\n"),
        vec![(PEER_RULE, "NetworkPolicy shop/db: its spec.ingress[0].from[1].podSelector app=webb selects no Pod of the set \
                          in namespace \"shop\" (closest: Deployment shop/web, with app=web): the rule lets in no Pod, so \
                          the callers it means are cut off; correct the selector or the Pod labels, unless an operator or \
                          controller creates these Pods")]
    )]
    #[case::an_egress_peer_that_does_not(
        policy("  podSelector: {matchLabels: {app: web}}\n  egress:\n  - to:\n    - podSelector: {matchExpressions: [{key: app, operator: In, values: [dbb]}]}\n"),
        vec![(PEER_RULE, "NetworkPolicy shop/db: its spec.egress[0].to[0].podSelector app in (dbb) selects no Pod of the set \
                          in namespace \"shop\" (closest: Deployment shop/db, with app=db): the rule lets the policy's Pods \
                          reach no Pod, so their connections to the Pods it means are cut off; correct the selector or the \
                          Pod labels, unless an operator or controller creates these Pods")]
    )]
    // Pods of other namespaces: not judged
    #[case::a_peer_of_other_namespaces(
        policy("  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - namespaceSelector: {}\n      podSelector: {matchLabels: {app: prometheus}}\n"),
        vec![]
    )]
    #[case::an_empty_peer(
        policy("  podSelector: {matchLabels: {app: db}}\n  ingress:\n  - from:\n    - podSelector: {}\n"),
        vec![]
    )]
    fn selectors_of_a_network_policy_must_select_pods(
        #[case] policy: String,
        #[case] expected: Vec<(&str, &str)>,
    ) {
        let set = set(&format!("{PODS}{policy}"));
        let found = warnings(&set, &Index::new(&set, &Snapshot::new()));
        let rules: Vec<&str> = found.iter().map(|(_, f)| f.rule.unwrap()).collect();
        let expected_rules: Vec<&str> = expected.iter().map(|(r, _)| *r).collect();
        assert_eq!(rules, expected_rules);
        let expected: Vec<&str> = expected.iter().map(|(_, m)| *m).collect();
        assert_eq!(messages(&found), expected);
        assert!(
            found
                .iter()
                .all(|(i, _)| set.objects[*i].kind == "NetworkPolicy")
        );
    }

    #[test]
    fn the_warnings_are_at_their_selectors() {
        let set = set(&format!(
            "{PODS}{}",
            policy(
                "  podSelector:\n    matchLabels: {app: x}\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels: {app: y}\n"
            )
        ));
        let found = warnings(&set, &Index::new(&set, &Snapshot::new()));
        let lines: Vec<Option<usize>> = found.iter().map(|(_, f)| f.line).collect();
        assert_eq!(lines, [Some(21), Some(25)]);
    }

    #[test]
    fn custom_resources_pods_count() {
        // kube-prometheus: the Alertmanager's policy lets Prometheus in
        let set = set(
            "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: k8s, namespace: monitoring}\n\
                       spec:\n  podMetadata:\n    labels: {app.kubernetes.io/component: prometheus}\n---\n\
                       apiVersion: monitoring.coreos.com/v1\nkind: Alertmanager\nmetadata: {name: main, namespace: monitoring}\n\
                       spec:\n  podMetadata:\n    labels: {app.kubernetes.io/component: alert-router}\n---\n\
                       apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: alertmanager-main, namespace: monitoring}\n\
                       spec:\n  podSelector:\n    matchLabels: {app.kubernetes.io/component: alert-router, app.kubernetes.io/instance: main}\n  \
                       ingress:\n  - from:\n    - podSelector:\n        matchLabels: {app.kubernetes.io/name: prometheus}\n",
        );
        assert_eq!(warnings(&set, &Index::new(&set, &Snapshot::new())), []);
    }
}
