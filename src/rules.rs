//! Both directions of every rule. Each typed finding a check returns has a
//! rule id, given by an exhaustive match (no `_` arm: a new variant does not
//! compile until it has a row), and each rule names its accepting cases
//! (the rule is considered and holds) and its rejecting cases (it fires,
//! or warns where that is all it does), as `module::test` or
//! `module::test::case` of the check modules' unit tests. The meta-test
//! fails when a rule lacks either, or names a case that does not exist.

use std::collections::BTreeSet;

use rstest::rstest;

use crate::kubeconfig_check::{Reason, Unresolved};
use crate::route_check::Problem as RouteProblem;
use crate::service_check::{LookupFailure as ServiceLookupFailure, Problem, Severity};
use crate::service_refs::Form;
use crate::workload_check::{Finding as WorkloadFinding, LookupFailure as WorkloadLookupFailure};
use crate::workload_refs::{ObjectKind, Reference};

/// One rule and the cases that show it both ways.
struct Rule {
    id: &'static str,
    accepting: &'static [&'static str],
    rejecting: &'static [&'static str],
}

/// `fn name(Type) { pattern => "id", [accepting...], [rejecting...]; ... }`:
/// one rule-id function per finding type and one [`Rule`] per row.
macro_rules! rules {
    ($(fn $name:ident($ty:ty) {
        $($pat:pat => $id:literal, [$($accepting:literal),*], [$($rejecting:literal),*];)*
    })*) => {
        $(
            /// The rule id of a finding.
            #[expect(dead_code, reason = "only its exhaustive match matters")]
            fn $name(finding: &$ty) -> &'static str {
                match finding {
                    $($pat => $id,)*
                }
            }
        )*
        const RULES: &[Rule] = &[$($(Rule {
            id: $id,
            accepting: &[$($accepting),*],
            rejecting: &[$($rejecting),*],
        },)*)*];
    };
}

rules! {
    fn kubeconfig_reason(Reason) {
        Reason::NotMounted => "kubeconfig.not_mounted",
            ["kubeconfig_check::paths::mounted_dir"], ["kubeconfig_check::paths::host_path_leak"];
        Reason::HostPath { .. } => "kubeconfig.host_path",
            ["kubeconfig_check::paths::deeper_secret_mount_over_host_path", "kubeconfig_check::allow_host_path_volumes"],
            ["kubeconfig_check::paths::host_path_volume"];
        Reason::IsDirectory { .. } => "kubeconfig.is_directory",
            ["kubeconfig_check::paths::empty_dir_below"],
            ["kubeconfig_check::paths::empty_dir_equal", "kubeconfig_check::paths::items_parent_dir"];
        Reason::BelowFile { .. } => "kubeconfig.below_file",
            ["kubeconfig_check::allowed_host_paths::file_equal"], ["kubeconfig_check::allowed_host_paths::file_below"];
        Reason::NotProjected { .. } => "kubeconfig.not_projected",
            ["kubeconfig_check::paths::projected_item"], ["kubeconfig_check::paths::projected_not_listed"];
        Reason::NotAbsolute => "kubeconfig.not_absolute",
            ["kubeconfig_check::paths::mounted_dir"], ["kubeconfig_check::paths::relative"];
        Reason::WindowsPath => "kubeconfig.windows_path",
            ["kubeconfig_check::windows_pods_are_not_checked"], ["kubeconfig_check::paths::windows_drive"];
    }
    fn kubeconfig_unresolved(Unresolved) {
        Unresolved { too_long: false, .. } => "kubeconfig.unresolved",
            ["workload_check::unresolved_values_are_warned_only_when_asked::quiet"],
            ["workload_check::unresolved_values_are_warned_only_when_asked::warned"];
        Unresolved { too_long: true, .. } => "kubeconfig.expansion_too_long",
            ["workload_check::expansion_bound::at_the_limit"], ["workload_check::expansion_bound::past_it_deny"];
    }
    fn service_problem(Problem) {
        Problem::Missing { .. } => "service.missing",
            ["service_check::accepted::other_namespace"], ["service_check::rejected::seed_missing"];
        Problem::PortNotExposed { .. } => "service.port_not_exposed",
            ["service_check::accepted::exists_right_port"], ["service_check::rejected::wrong_port"];
        Problem::NotHeadless { .. } => "service.not_headless",
            ["service_check::records_zones_and_comments::pod_name_headless"],
            ["service_check::records_zones_and_comments::pod_name_not_headless"];
        Problem::NoSuchSrv { .. } => "service.no_such_srv",
            ["service_check::records_zones_and_comments::srv_named_port"],
            ["service_check::records_zones_and_comments::srv_wrong_protocol"];
        Problem::ForeignZone { .. } => "service.foreign_zone",
            ["service_check::records_zones_and_comments::own_zone"],
            ["service_check::records_zones_and_comments::foreign_zone"];
    }
    fn service_severity(Severity) {
        Severity::Broken => "service.broken_follows_action",
            ["workload_check::container_references::bare_exists"],
            ["workload_check::container_references::bare_typo", "workload_check::container_references::bare_wrong_port"];
        Severity::Absent => "service.absent_warns",
            ["workload_check::container_references::short_url"],
            ["workload_check::container_references::bare_absent", "workload_check::container_references::short_url_absent",
             "workload_check::container_references::consumed_bare_absent"];
    }
    fn reference_form(Form) {
        Form::Qualified => "service.form_qualified",
            ["workload_check::container_references::svc_name"], ["workload_check::container_references::svc_name_typo"];
        Form::Short => "service.form_short_url",
            ["workload_check::container_references::short_url"], ["workload_check::container_references::short_url_typo"];
        Form::ShortWithNamespace => "service.form_short_url_with_namespace",
            ["service_check::short_names::short_other_namespace"], ["service_check::short_names::short_other_namespace_missing"];
        Form::Bare => "service.form_bare_host_port",
            ["workload_check::container_references::bare_exists", "workload_check::container_references::flag_next_item"],
            ["workload_check::container_references::bare_typo", "workload_check::container_references::flag_next_item_typo"];
        Form::BareWithNamespace => "service.form_bare_host_port_with_namespace",
            ["workload_check::container_references::bare_with_namespace"],
            ["workload_check::container_references::bare_with_namespace_wrong_port"];
    }
    fn route_problem(RouteProblem) {
        RouteProblem::Missing { .. } => "route.missing_service",
            ["route_check::backends::ingress_name_exists", "route_check::backends::http_route_exists",
             "route_check::backends::http_route_cross_namespace", "route_check::backends::grpc_route_exists",
             "route_check::backends::http_route_other_kind"],
            ["route_check::backends::ingress_name_missing", "route_check::backends::http_route_name",
             "route_check::backends::http_route_cross_namespace_missing", "route_check::backends::grpc_route_name",
             "route_check::default_backend_is_a_backend"];
        RouteProblem::PortNotExposed { .. } => "route.port_not_exposed",
            ["route_check::backends::ingress_external_name", "route_check::backends::http_route_exists"],
            ["route_check::backends::ingress_port_number", "route_check::backends::http_route_port"];
        RouteProblem::PortNameNotExposed { .. } => "route.port_name_not_exposed",
            ["route_check::backends::ingress_port_name_exists"], ["route_check::backends::ingress_port_name"];
    }
    fn service_lookup_failure(ServiceLookupFailure) {
        ServiceLookupFailure::TooManyNamespaces { .. } => "service.too_many_namespaces",
            ["service_check::namespace_bound::at_the_bound"], ["service_check::namespace_bound::past_the_bound"];
        ServiceLookupFailure::Host { .. } => "service.lookup_error",
            ["service_check::host_errors::allow"], ["service_check::host_errors::deny"];
    }
    fn workload_finding(WorkloadFinding) {
        WorkloadFinding::Missing { reference: Reference { kind: ObjectKind::ConfigMap, .. } } => "workload.missing_config_map",
            ["workload_check::references::service_exists", "workload_check::references::missing_optional_config_map"],
            ["workload_check::references::missing_config_map"];
        WorkloadFinding::Missing { reference: Reference { kind: ObjectKind::Secret, .. } } => "workload.missing_secret",
            ["workload_check::references::existing_secret"], ["workload_check::references::missing_secret"];
        WorkloadFinding::Missing { reference: Reference { kind: ObjectKind::ServiceAccount, .. } } => "workload.missing_service_account",
            ["workload_check::references::existing_service_account"],
            ["workload_check::references::missing_service_account"];
        WorkloadFinding::MissingKey { in_binary_data: false, .. } => "workload.missing_key",
            ["workload_check::references::env_key_in_data", "workload_check::references::volume_items_key_in_data",
             "workload_check::references::missing_optional_key"],
            ["workload_check::references::missing_key", "workload_check::references::volume_items_missing_key"];
        WorkloadFinding::MissingKey { in_binary_data: true, .. } => "workload.env_key_in_binary_data",
            ["workload_check::references::volume_items_key_in_binary_data"],
            ["workload_check::references::env_key_in_binary_data"];
    }
    fn workload_lookup_failure(WorkloadLookupFailure) {
        WorkloadLookupFailure::Host { .. } => "workload.lookup_error",
            ["workload_check::lookup_errors::allow"], ["workload_check::lookup_errors::deny"];
        WorkloadLookupFailure::TooMuchText { .. } => "workload.too_much_text",
            ["workload_check::text_bound::at_the_bound"], ["workload_check::text_bound::past_the_bound"];
        WorkloadLookupFailure::TooManyConfigMaps { .. } => "workload.too_many_config_maps",
            ["workload_check::config_map_count_is_bounded::at_the_bound"],
            ["workload_check::config_map_count_is_bounded::past_the_bound"];
    }
}

/// The source of a check module, where its unit tests are.
fn source(module: &str) -> Option<&'static str> {
    Some(match module {
        "kubeconfig_check" => include_str!("kubeconfig_check.rs"),
        "service_check" => include_str!("service_check.rs"),
        "workload_check" => include_str!("workload_check.rs"),
        "route_check" => include_str!("route_check.rs"),
        _ => return None,
    })
}

/// Whether `module::test` is a `#[test]`, or `module::test::case` a case
/// of the `#[rstest]` table `test`: the attributes between the item before
/// the function (a blank line) and the function are searched.
fn exists(path: &str) -> bool {
    let (module, test, case) = match path.split("::").collect::<Vec<_>>()[..] {
        [module, test] => (module, test, None),
        [module, test, case] => (module, test, Some(case)),
        _ => return false,
    };
    let Some(source) = source(module) else {
        return false;
    };
    let signature = format!(" fn {test}(");
    if source.matches(&signature).count() != 1 {
        return false;
    }
    let at = source.find(&signature).unwrap_or_default();
    let attributes = &source[source[..at].rfind("\n\n").unwrap_or(0)..at];
    match case {
        None => attributes.contains("#[test]"),
        Some(case) => {
            attributes.contains("#[rstest]") && attributes.contains(&format!("#[case::{case}("))
        }
    }
}

#[test]
fn every_rule_has_an_accepting_and_a_rejecting_case() {
    let mut problems = Vec::new();
    for rule in RULES {
        for (direction, cases) in [("accepting", rule.accepting), ("rejecting", rule.rejecting)] {
            if cases.is_empty() {
                problems.push(format!("{}: no {direction} case", rule.id));
            }
            for case in cases.iter().filter(|c| !exists(c)) {
                problems.push(format!(
                    "{}: {direction} case {case} does not exist",
                    rule.id
                ));
            }
        }
        for case in rule.accepting.iter().filter(|c| rule.rejecting.contains(c)) {
            problems.push(format!("{}: {case} cannot go both ways", rule.id));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let ids: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), RULES.len(), "rule ids must be unique");
}

/// The lookup of the meta-test finds what is there and only that.
#[rstest]
#[case::rstest_case("service_check::rejected::wrong_port", true)]
#[case::plain_test("kubeconfig_check::windows_pods_are_not_checked", true)]
#[case::no_such_case("service_check::rejected::no_such_case", false)]
#[case::case_of_another_table("service_check::accepted::wrong_port", false)]
#[case::test_is_no_table("kubeconfig_check::windows_pods_are_not_checked::x", false)]
#[case::table_is_no_test("service_check::rejected", false)]
#[case::no_such_module("nowhere::rejected::wrong_port", false)]
fn cases_are_looked_up_in_the_sources(#[case] path: &str, #[case] found: bool) {
    assert_eq!(exists(path), found, "{path}");
}
