//! `pdb-selects-no-pods`: a PodDisruptionBudget whose `spec.selector`
//! matches no Pod template of its namespace protects nothing: a drain or
//! an upgrade can evict all the Pods it was meant for at once.
//!
//! Not judged: a budget without selector or with an empty one (`{}`, all
//! the Pods of the namespace in `policy/v1`), or with one the API server
//! refuses.

use super::super::input::ManifestSet;
use super::super::report::Finding;
use super::super::yaml::Seg;
use super::{Index, NoMatch, PodTemplate, Selector, finding, one_namespace};

/// The SARIF rule of the warning.
pub const RULE: &str = "pdb-selects-no-pods";

/// What the cluster does with such a budget.
const CONSEQUENCE: &str = "the budget protects no Pod until Pods with these labels exist, so \
     drains and upgrades may evict them all at once; correct the selector or the Pod labels, \
     unless an operator or controller creates these Pods";

/// The warnings of the rule on `set`: for each PodDisruptionBudget of the
/// set whose selector selects no Pod of `index` in its namespace, its
/// index in `set.objects` and the finding, at the line of its selector.
pub fn warnings(set: &ManifestSet, index: &Index) -> Vec<(usize, Finding)> {
    let mut found = Vec::new();
    for (i, pdb) in set.objects.iter().enumerate() {
        let Some(namespace) = super::namespaced(pdb, "policy", "PodDisruptionBudget") else {
            continue;
        };
        let Some(selector) = pdb
            .object
            .pointer("/spec/selector")
            .and_then(Selector::from_label_selector)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let path = [Seg::key("spec"), Seg::key("selector")];
        let here: Vec<&PodTemplate> = index.pods_in(namespace).iter().collect();
        let no_match = NoMatch {
            object: &pdb.display_name(),
            path: &path,
            selector: &selector,
            noun: "Pod",
            of: index.pods_of(),
            scope: &one_namespace(namespace),
            consequence: CONSEQUENCE,
        };
        let elsewhere = index.all_pods().filter(|_| here.is_empty());
        if let Some(message) = no_match.message(&here, elsewhere) {
            found.push((i, finding(pdb, &path, message, RULE)));
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

    const WEB: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    metadata:\n      labels: {app: web, tier: front}\n---\n";

    fn pdb(selector: &str) -> String {
        format!(
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: web}}\nspec:\n  minAvailable: 1\n  selector: {selector}\n"
        )
    }

    #[rstest]
    #[case::match_labels(pdb("{matchLabels: {app: web}}"), vec![])]
    #[case::match_expressions(pdb("{matchExpressions: [{key: tier, operator: In, values: [front, back]}]}"), vec![])]
    #[case::empty_selects_all(pdb("{}"), vec![])]
    #[case::no_selector("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {minAvailable: 1}\n".to_owned(), vec![])]
    #[case::refused_by_the_api_server(pdb("{matchExpressions: [{key: tier, operator: Equals}]}"), vec![])]
    #[case::a_controller_label(pdb("{matchLabels: {app: web, pod-template-hash: 7d9}}"), vec![])]
    #[case::a_typo(
        pdb("{matchLabels: {app: wbe}}"),
        vec!["PodDisruptionBudget shop/web: its spec.selector app=wbe selects no Pod of the set in namespace \"shop\" \
              (closest: Deployment shop/web, with app=web,tier=front): the budget protects no Pod until Pods with these \
              labels exist, so drains and upgrades may evict them all at once; correct the selector or the Pod labels, \
              unless an operator or controller creates these Pods"]
    )]
    #[case::an_expression_none_meets(
        pdb("{matchLabels: {app: web}, matchExpressions: [{key: tier, operator: NotIn, values: [front]}]}"),
        vec!["PodDisruptionBudget shop/web: its spec.selector app=web,tier notin (front) selects no Pod of the set in \
              namespace \"shop\" (closest: Deployment shop/web, with app=web,tier=front): the budget protects no Pod \
              until Pods with these labels exist, so drains and upgrades may evict them all at once; correct the \
              selector or the Pod labels, unless an operator or controller creates these Pods"]
    )]
    fn a_budget_must_select_pods(#[case] pdb: String, #[case] expected: Vec<&str>) {
        let set = set(&format!("{WEB}{pdb}"));
        let found = warnings(&set, &Index::new(&set, &Snapshot::new()));
        assert_eq!(messages(&found), expected);
        for (i, f) in &found {
            assert_eq!((*i, f.rule, f.line), (1, Some(RULE), Some(14)));
        }
    }

    #[test]
    fn custom_resources_pods_count() {
        // kube-prometheus: the budget of the Prometheus `k8s`
        let set = set(
            "apiVersion: monitoring.coreos.com/v1\nkind: Prometheus\nmetadata: {name: k8s, namespace: monitoring}\n\
                       spec:\n  podMetadata:\n    labels: {app.kubernetes.io/component: prometheus}\n---\n\
                       apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: prometheus-k8s, namespace: monitoring}\n\
                       spec:\n  selector:\n    matchLabels:\n      app.kubernetes.io/component: prometheus\n      \
                       app.kubernetes.io/instance: k8s\n      app.kubernetes.io/name: prometheus\n",
        );
        assert_eq!(warnings(&set, &Index::new(&set, &Snapshot::new())), []);
    }
}
