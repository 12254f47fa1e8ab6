//! Check 3: what a workload's Pod template names must exist when the
//! workload is admitted, which installers (Helm, kustomize, Argo CD) do
//! last: the ServiceAccount, the ConfigMaps and keys its containers and
//! volumes consume (and the Services those keys name), and, with
//! `checkSecretReferences`, its Secrets (names only). The KUBECONFIG check
//! runs here too, with values read from the consumed ConfigMaps.
//!
//! Host calls, in this order so that sessions replay: the ServiceAccount
//! (one GET), each consumed ConfigMap by name (one GET each), the Secret
//! names (one listing), then one Service listing per namespace named by
//! the consumed keys. On UPDATE only the references the edit adds are
//! looked up.

use std::collections::HashSet;

use crate::json_tree::Value;

use crate::env_expansion::{self, ConfigMapState, EffectiveValue};
use crate::ignore_annotation::IgnoreList;
use crate::kubeconfig_check;
use crate::object_lookup::{ConfigMapData, ObjectSource, slot};
use crate::service_check::Problem;
use crate::service_check::{self, KeyedRef};
use crate::service_lookup::OncePerNamespace;
use crate::service_lookup::ServiceSource;
use crate::service_refs::Form;
use crate::service_refs::{Port, Record, ScanOptions, ServiceRef, Zone};
use crate::settings::Compiled;
use crate::workload::{self, ContainerKind, PodSpecView};
use crate::workload_refs::{self, Consumer, ObjectKind, Reference, Usage};

/// At most this many distinct ConfigMaps are read for one request: a Pod
/// template naming more is far outside real use, and each is a host call.
pub const MAX_CONFIG_MAPS: usize = 64;
/// At most this many existing keys are named in a missing-key message.
pub const MAX_KEYS_LISTED: usize = 10;
/// At most this many bytes of a workload's `env` values, `args` and
/// `command` (after `$(VAR)` expansion) are scanned for Services: more
/// than any object the API server stores (etcd's 1.5 MiB), which only
/// `$(VAR)` expansion can pass.
pub const MAX_SCANNED_BYTES: usize = 2 * 1024 * 1024;

/// What is wrong with one reference of the Pod template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A required object does not exist.
    Missing { reference: Reference },
    /// A required key of an existing ConfigMap does not exist; `existing`
    /// holds at most [`MAX_KEYS_LISTED`] of its `total` keys.
    MissingKey {
        reference: Reference,
        key: String,
        existing: Vec<String>,
        total: usize,
        /// The key is in `binaryData`, which `configMapKeyRef` cannot read.
        in_binary_data: bool,
    },
}

/// A lookup the host could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupFailure {
    /// Reading `kind/name` failed with the host's `error`.
    Host {
        kind: ObjectKind,
        name: String,
        error: String,
    },
    /// More than [`MAX_CONFIG_MAPS`] distinct ConfigMaps: none was read.
    TooManyConfigMaps { count: usize },
    /// The containers' `env` values, `args` and `command` come to more
    /// than [`MAX_SCANNED_BYTES`] (at least `bytes`): none was scanned.
    TooMuchText { bytes: usize },
}

/// Where a container reads a text scanned for Services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSite {
    pub container: Consumer,
    /// `env[3].value`, `args[1]`, `command[0]`.
    pub field: String,
    /// The variable, for an `env` value.
    pub variable: Option<String>,
}

/// A Service finding in a container's `env` value, `args` or `command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextFinding {
    pub site: TextSite,
    pub finding: service_check::Finding<'static>,
}

/// The request as the workload check needs it.
pub struct Request<'a> {
    pub object: &'a Value<'a>,
    /// The previous object on UPDATE.
    pub old_object: Option<&'a Value<'a>>,
    pub kind: &'a str,
    pub namespace: &'a str,
    /// `pods/ephemeralcontainers`: judge only the ephemeral containers,
    /// since `kubectl debug` cannot change the others.
    pub only_ephemeral: bool,
}

/// A Service finding in a ConfigMap key the workload consumes: the
/// reference that consumes the key, the ConfigMap and the finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFinding {
    pub reference: Reference,
    pub config_map: String,
    pub finding: service_check::Finding<'static>,
}

/// A reference that could not be verified, in the order it happened:
/// they follow `onLookupError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unverified {
    /// An object of the Pod template could not be read.
    Object(LookupFailure),
    /// The Services named by the consumed keys could not be listed.
    Services(service_check::LookupFailure),
    /// A watched variable's `$(VAR)` expansion is too long to judge.
    TooLong(kubeconfig_check::Unresolved),
}

/// Everything the workload check found, for `render` to turn into a
/// verdict: the KUBECONFIG findings that reject it (none when they were
/// removed), missing objects and keys, the Services of the consumed keys,
/// what could not be verified, the variables that cannot be resolved at
/// admission, and the variables removed with the object that results.
#[derive(Debug, Default)]
pub struct Report {
    pub kubeconfig: Vec<kubeconfig_check::Finding>,
    pub findings: Vec<Finding>,
    pub key_findings: Vec<KeyFinding>,
    /// Services named by the containers' `env` values, `args`, `command`.
    pub text_findings: Vec<TextFinding>,
    pub unverified: Vec<Unverified>,
    /// Variables from `valueFrom`/`envFrom` that cannot be judged (warned
    /// with `warnOnUnresolvedValues`).
    pub unresolved: Vec<kubeconfig_check::Unresolved>,
    pub removed: Vec<kubeconfig_check::Removed>,
    /// The object with the offending variables removed
    /// (`removeOffendingVariables`).
    pub mutated: Option<serde_json::Value>,
}

/// Checks one workload: reads what its Pod template names (with
/// `checkWorkloadReferences`) and judges its KUBECONFIG values; removes
/// offending variables instead of reporting them when
/// `removeOffendingVariables` is on and the removal is final. Errors: why
/// the Pod template cannot be read, for a 400.
pub fn check(
    request: &Request,
    compiled: &Compiled,
    services: &dyn ServiceSource,
    objects: &dyn ObjectSource,
) -> Result<Report, String> {
    let settings = &compiled.settings;
    let spec = workload::read_pod_spec(request.kind, request.object)?;
    let (mut references, kubeconfig_sources) = if settings.check_workload_references {
        references_to_check(request, &spec, compiled)
    } else {
        (Vec::new(), Vec::new())
    };
    // What the workload's owners opted out of is never looked up.
    let ignore = match workload::pod_spec_pointer(request.kind) {
        Some(pointer) if settings.check_workload_references => {
            IgnoreList::of(request.object, pointer)?
        }
        _ => IgnoreList::default(),
    };
    references.retain(|r| !ignore.ignores_reference(r));
    let mut looked_up = LookedUp::read(
        &references,
        &kubeconfig_sources,
        request.namespace,
        compiled,
        objects,
    );

    let mut report = Report {
        findings: looked_up.findings(&references),
        unverified: looked_up
            .failures
            .iter()
            .cloned()
            .map(Unverified::Object)
            .collect(),
        ..Report::default()
    };

    // The Services named by the consumed keys, each (ConfigMap, key)
    // scanned once, and by the containers' env values, args and command:
    // one judgement, so one listing per namespace for all of them.
    let consumed = looked_up.consumed_keys(&references);
    let options = service_check::scan_options(compiled, request.namespace);
    let mut refs: Vec<KeyedRef> = consumed
        .iter()
        .enumerate()
        .flat_map(|(origin, c)| {
            service_check::scan_value(c.key, c.value, origin, true, compiled, &options)
        })
        .collect();
    let texts = if settings.check_workload_references {
        let state = |name: &str| looked_up.state(name);
        match container_texts(&spec, request.only_ephemeral, compiled, &state) {
            Ok(texts) => texts,
            Err(bytes) => {
                report
                    .unverified
                    .push(Unverified::Object(LookupFailure::TooMuchText { bytes }));
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    // On UPDATE, a reference the old containers already made is not new.
    let old_texts = match request.old_object.filter(|_| !texts.is_empty()) {
        Some(old) => match workload::read_pod_spec(request.kind, old) {
            Ok(old_spec) => {
                let state = |name: &str| looked_up.state(name);
                container_texts(&old_spec, request.only_ephemeral, compiled, &state)
                    .unwrap_or_default()
            }
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    let text_options = ScanOptions {
        short_names: true,
        ..service_check::scan_options(compiled, request.namespace)
    };
    let old_refs: Vec<KeyedRef> = old_texts
        .iter()
        .flat_map(|t| t.scan(0, &text_options))
        .collect();
    let already_there: HashSet<_> = old_refs.iter().map(|k| text_ref_id(&k.reference)).collect();
    refs.extend(
        texts
            .iter()
            .enumerate()
            .flat_map(|(i, t)| t.scan(consumed.len() + i, &text_options))
            .filter(|k| {
                already_there.is_empty() || !already_there.contains(&text_ref_id(&k.reference))
            }),
    );
    refs.retain(|k| !ignore.ignores_service(&k.reference.service, &k.reference.namespace));
    // A Pod's /etc/hosts answers its hostAliases before cluster DNS.
    if !spec.host_aliases.is_empty() {
        refs.retain(|k| {
            k.reference.short_host().is_none_or(|host| {
                !spec
                    .host_aliases
                    .iter()
                    .any(|alias| alias.eq_ignore_ascii_case(&host))
            })
        });
    }
    let services = OncePerNamespace::new(services);
    let mut services_report = service_check::judge(refs, compiled, &services);
    // `a.b:port` is first `a.b.<namespace>.svc`: Pod `a` behind a headless
    // Service `b` of the workload's own namespace (a StatefulSet's Pod),
    // before it is Service `a` of namespace `b`.
    if services_report
        .findings
        .iter()
        .any(|f| f.form == Form::BareWithNamespace && matches!(f.problem, Problem::Missing { .. }))
        && let Ok(own) = services.services_in(request.namespace)
    {
        services_report.findings.retain(|f| {
            !(f.form == Form::BareWithNamespace
                && matches!(f.problem, Problem::Missing { .. })
                && own.iter().any(|s| s.headless && s.name == f.namespace))
        });
    }
    for f in services_report.findings {
        match consumed.get(f.origin) {
            Some(c) => report.key_findings.push(KeyFinding {
                reference: references[c.reference].clone(),
                config_map: c.config_map.to_string(),
                finding: f.into_owned(),
            }),
            None => {
                let text = &texts[f.origin - consumed.len()];
                report.text_findings.push(TextFinding {
                    site: text.site.clone(),
                    finding: f.into_owned(),
                });
            }
        }
    }
    report.unverified.extend(
        services_report
            .failures
            .into_iter()
            .map(Unverified::Services),
    );

    // KUBECONFIG, with the values of the ConfigMaps that were read.
    let config_maps = |name: &str| looked_up.state(name);
    let mut kubeconfig = kubeconfig_check::check_with(&spec, settings, &config_maps);
    if request.only_ephemeral {
        let ephemeral = ContainerKind::EphemeralContainer;
        kubeconfig
            .findings
            .retain(|f| f.container_kind == ephemeral);
        kubeconfig
            .unresolved
            .retain(|u| u.container_kind == ephemeral);
    }
    // A value too long to expand cannot be judged: as `onLookupError` says.
    let (too_long, unresolved): (Vec<_>, Vec<_>) =
        kubeconfig.unresolved.into_iter().partition(|u| u.too_long);
    report
        .unverified
        .extend(too_long.into_iter().map(Unverified::TooLong));
    report.unresolved = unresolved;
    if !kubeconfig.findings.is_empty() {
        let removal =
            remove_offending(request, &kubeconfig.findings, compiled).filter(|(object, _)| {
                removal_is_final(
                    request,
                    &Value::from(object),
                    &kubeconfig.findings,
                    &mut looked_up,
                    &mut report.unverified,
                    compiled,
                    objects,
                )
            });
        match removal {
            Some((object, removed)) => {
                report.removed = removed;
                report.mutated = Some(object);
            }
            None => report.kubeconfig = kubeconfig.findings,
        }
    }
    Ok(report)
}

/// A text a container reads, to scan for Services.
struct Text {
    site: TextSite,
    value: String,
    /// Where the part that may be a bare `host:port` starts (the whole
    /// value, or what follows `--flag=`); `None`: no bare value.
    bare_from: Option<usize>,
}

impl Text {
    fn scan<'t>(&'t self, origin: usize, options: &ScanOptions) -> Vec<KeyedRef<'t>> {
        let bare = self.bare_from.and_then(|at| self.value.get(at..));
        service_check::scan_text(&self.site.field, &self.value, origin, bare, options)
    }
}

/// The identity of a reference made by a container text, across the old
/// and new object of an UPDATE.
fn text_ref_id<'r>(r: &'r ServiceRef) -> (&'r str, &'r str, Port, &'r Record<'r>, &'r Zone<'r>) {
    (&r.service, &r.namespace, r.port, &r.record, &r.zone)
}

/// A flag or variable that names an image, whose `name:tag` (`postgres:15`)
/// is no `host:port`.
fn names_an_image(name: &str) -> bool {
    name.to_ascii_lowercase().contains("image")
}

/// Every text the containers of `spec` read that may name a Service: each
/// `env[].value` (after `$(VAR)` expansion; not `ignoredVariables`) and
/// each item of `command` and `args` (expanded with the container's
/// environment); only the ephemeral containers with `only_ephemeral`.
/// Errors: at least how many bytes they come to, past [`MAX_SCANNED_BYTES`].
fn container_texts(
    spec: &PodSpecView,
    only_ephemeral: bool,
    compiled: &Compiled,
    config_maps: &env_expansion::ConfigMaps,
) -> Result<Vec<Text>, usize> {
    let mut texts = Vec::new();
    let mut total = 0usize;
    for (kind, index, container) in spec.all_containers() {
        if only_ephemeral && kind != ContainerKind::EphemeralContainer {
            continue;
        }
        let consumer = Consumer {
            kind,
            index,
            name: container.name.clone(),
        };
        let mut env_values: Vec<(usize, String)> = Vec::new();
        let env = env_expansion::effective_env_visiting(container, config_maps, &mut |i, value| {
            let var = &container.env[i];
            let Some(written) = var.value.as_deref().filter(|w| !w.is_empty()) else {
                return;
            };
            if total > MAX_SCANNED_BYTES || compiled.is_ignored_variable(&var.name) {
                return;
            }
            // A value only known at run time: its `$(VAR)` stays, and
            // the scanner judges no name that carries one.
            let value = match value {
                EffectiveValue::Known { value, .. } => value.as_str(),
                EffectiveValue::Unresolved { .. } => written,
            };
            total += value.len();
            env_values.push((i, value.to_string()));
        });
        for (i, value) in env_values {
            let name = &container.env[i].name;
            texts.push(Text {
                site: TextSite {
                    container: consumer.clone(),
                    field: format!("env[{i}].value"),
                    variable: Some(name.clone()),
                },
                value,
                bare_from: (!names_an_image(name)).then_some(0),
            });
        }
        for (list, items) in [("command", &container.command), ("args", &container.args)] {
            let mut previous_flag: Option<&str> = None;
            for (i, item) in items.iter().enumerate() {
                if total > MAX_SCANNED_BYTES {
                    return Err(total);
                }
                let value = env.expand_text(item).unwrap_or_else(|| item.clone());
                total += value.len();
                // `--flag=value`: the value; `--flag value`: the next item.
                let (flag, bare_from) = match value.split_once('=') {
                    Some((flag, _)) if value.starts_with('-') => (Some(flag), flag.len() + 1),
                    _ => (previous_flag, 0),
                };
                // A bare `host:port` only as a flag's value: a positional
                // `name:number` is as often `chown redis:999 /data`.
                let bare_from = flag.filter(|f| !names_an_image(f)).map(|_| bare_from);
                previous_flag =
                    (item.starts_with('-') && !item.contains('=')).then_some(item.as_str());
                texts.push(Text {
                    site: TextSite {
                        container: consumer.clone(),
                        field: format!("{list}[{i}]"),
                        variable: None,
                    },
                    value,
                    bare_from,
                });
            }
        }
        if total > MAX_SCANNED_BYTES {
            return Err(total);
        }
    }
    Ok(texts)
}

/// The mutated object and what was removed, when
/// `removeOffendingVariables` is on.
fn remove_offending(
    request: &Request,
    findings: &[kubeconfig_check::Finding],
    compiled: &Compiled,
) -> Option<(serde_json::Value, Vec<kubeconfig_check::Removed>)> {
    // A value set by envFrom cannot be removed by editing `env`.
    if !compiled.settings.remove_offending_variables
        || !findings.iter().all(kubeconfig_check::Finding::is_removable)
    {
        return None;
    }
    let pointer = workload::pod_spec_pointer(request.kind)?;
    let mut object = request.object.to_serde();
    let pod_spec = object.pointer_mut(pointer)?;
    let removed = kubeconfig_check::remove_offending(pod_spec, findings);
    Some((object, removed))
}

/// Whether the object `remove_offending` made is final, as the API server
/// may call the policy on it again: what the removal uncovers (a value
/// that `envFrom` sets for the same variable, judged with the ConfigMaps
/// an UPDATE of the mutated object reads) passes too, and every variable
/// that stays keeps its value (a `$(VAR)` of a removed variable would stay
/// literal, or take what `envFrom` sets). Otherwise the object is rejected as if removal were off.
fn removal_is_final(
    request: &Request,
    mutated: &Value,
    removed: &[kubeconfig_check::Finding],
    looked_up: &mut LookedUp,
    unverified: &mut Vec<Unverified>,
    compiled: &Compiled,
    objects: &dyn ObjectSource,
) -> bool {
    let Ok(after) = workload::read_pod_spec(request.kind, mutated) else {
        return false;
    };
    if compiled.settings.check_workload_references {
        let again = Request {
            object: mutated,
            ..*request
        };
        let (_, feeds) = references_to_check(&again, &after, compiled);
        let feeds: Vec<&str> = feeds.iter().map(String::as_str).collect();
        let failures = looked_up.read_more(&feeds, request.namespace, objects);
        unverified.extend(failures.into_iter().map(Unverified::Object));
    }
    let state = |name: &str| looked_up.state(name);
    let left = kubeconfig_check::check_with(&after, &compiled.settings, &state);
    if left
        .findings
        .iter()
        .any(|f| !request.only_ephemeral || f.container_kind == ContainerKind::EphemeralContainer)
    {
        return false;
    }
    // Another value changes only through a `$(VAR)` of a removed variable
    // (ConfigMap values are never expanded): refuse any, even escaped.
    after.all_containers().all(|(kind, index, now)| {
        now.env
            .iter()
            .filter_map(|v| v.value.as_deref())
            .all(|value| {
                !removed.iter().any(|f| {
                    (f.container_kind, f.container_index) == (kind, index)
                        && value.contains(&format!("$({})", f.variable))
                })
            })
    })
}

/// The references of the request that need checking: on UPDATE only the
/// added ones; Secrets only with `checkSecretReferences`; on
/// `ephemeralcontainers` only those of ephemeral containers.
///
/// Also the names of ConfigMaps to read only to resolve watched variables
/// (KUBECONFIG): on an UPDATE that keeps a ConfigMap reference but changes
/// what its value is judged against (volumes, mounts, env), the value must
/// be judged again, though the reference itself is not checked again.
fn references_to_check(
    request: &Request,
    spec: &PodSpecView,
    compiled: &Compiled,
) -> (Vec<Reference>, Vec<String>) {
    let keep = |r: &Reference| {
        (r.kind != ObjectKind::Secret || compiled.settings.check_secret_references)
            && (!request.only_ephemeral
                || r.consumer
                    .as_ref()
                    .is_some_and(|c| c.kind == ContainerKind::EphemeralContainer))
    };
    let references: Vec<Reference> = workload_refs::extract(spec)
        .into_iter()
        .filter(|r| keep(r))
        .collect();
    let Some(old) = request.old_object.filter(|o| !o.is_null()) else {
        return (references, Vec::new());
    };
    let Ok(old_spec) = workload::read_pod_spec(request.kind, old) else {
        return (references, Vec::new());
    };
    let pointer = workload::pod_spec_pointer(request.kind).unwrap_or("/spec");
    let (new_json, old_json) = (request.object.pointer(pointer), old.pointer(pointer));
    let variables = &compiled.settings.variables;
    let feeds_variables: Vec<String> = references
        .iter()
        .filter(|r| r.kind == ObjectKind::ConfigMap)
        .filter(|r| match &r.usage {
            Usage::EnvFrom { .. } => true,
            Usage::EnvKey { variable, .. } => variables.contains(variable),
            _ => false,
        })
        .filter(|r| {
            r.consumer.as_ref().is_some_and(|c| {
                !kubeconfig_inputs_kept(new_json, old_json, c.kind, c.index, variables)
            })
        })
        .map(|r| r.name.clone())
        .collect();
    let added = workload_refs::added(references, &workload_refs::extract(&old_spec));
    (added, feeds_variables)
}

/// Whether what the watched variables of container `index` of list `kind`
/// are judged against is unchanged: the Pod's volumes and OS, and the
/// container's envFrom, volumeMounts and `env` entries of watched
/// variables, as some container of the same list in the old spec has them.
/// Other `env` entries cannot change a value read from a ConfigMap (the
/// kubelet expands no `$(VAR)` in it); renaming, removing, adding or
/// reordering containers changes nothing for it.
fn kubeconfig_inputs_kept(
    new: Option<&Value>,
    old: Option<&Value>,
    kind: ContainerKind,
    index: usize,
    variables: &[String],
) -> bool {
    let (Some(new), Some(old)) = (new, old) else {
        return false;
    };
    fn pod<'v>(spec: &'v Value<'v>) -> [Option<&'v Value<'v>>; 2] {
        [spec.get("volumes"), spec.get("os")]
    }
    type Inputs<'v> = (
        Option<&'v Value<'v>>,
        Option<&'v Value<'v>>,
        Vec<&'v Value<'v>>,
    );
    fn watched_inputs<'v>(c: &'v Value<'v>, variables: &[String]) -> Inputs<'v> {
        let watched = c
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|e| {
                e.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| variables.iter().any(|v| v == n))
            })
            .collect();
        (c.get("envFrom"), c.get("volumeMounts"), watched)
    }
    let inputs = |c| watched_inputs(c, variables);
    let Some(container) = new.get(kind.field()).and_then(|list| list.get(index)) else {
        return false;
    };
    let Some(old_list) = old.get(kind.field()).and_then(Value::as_array) else {
        return false;
    };
    let wanted = inputs(container);
    // Most edits keep the container where it was: look there first.
    pod(new) == pod(old)
        && (old_list.get(index).is_some_and(|c| inputs(c) == wanted)
            || old_list.iter().any(|c| inputs(c) == wanted))
}

/// One ConfigMap key a container or volume consumes, scanned for Services.
/// Ordered by ConfigMap, key, then reference: the fields' order matters.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct ConsumedKey<'a> {
    config_map: &'a str,
    key: &'a str,
    /// Index of the first reference that consumes it.
    reference: usize,
    value: &'a str,
}

/// What the host said about the objects the references name.
#[derive(Default)]
struct LookedUp {
    service_account: Option<bool>,
    /// Sorted by name; `None`: the host says it does not exist.
    config_maps: Vec<(String, Option<ConfigMapData>)>,
    /// Sorted.
    secrets: Option<Vec<String>>,
    failures: Vec<LookupFailure>,
}

impl LookedUp {
    /// Asks the host, in the documented order, once per object;
    /// `config_maps` are read besides those the references name.
    fn read(
        references: &[Reference],
        config_maps: &[String],
        namespace: &str,
        compiled: &Compiled,
        objects: &dyn ObjectSource,
    ) -> LookedUp {
        let mut looked_up = LookedUp::default();
        if let Some(account) = references
            .iter()
            .find(|r| r.kind == ObjectKind::ServiceAccount)
        {
            match objects.service_account_exists(namespace, &account.name) {
                Ok(exists) => looked_up.service_account = Some(exists),
                Err(error) => looked_up.failures.push(LookupFailure::Host {
                    kind: ObjectKind::ServiceAccount,
                    name: account.name.clone(),
                    error,
                }),
            }
        }
        let names: Vec<&str> = references
            .iter()
            .filter(|r| r.kind == ObjectKind::ConfigMap)
            .map(|r| r.name.as_str())
            .chain(config_maps.iter().map(String::as_str))
            .collect();
        let failures = looked_up.read_more(&names, namespace, objects);
        looked_up.failures.extend(failures);
        // Only a required Secret can change the verdict.
        let secrets = compiled.settings.check_secret_references
            && references
                .iter()
                .any(|r| r.kind == ObjectKind::Secret && !r.optional);
        if secrets {
            match objects.secret_names(namespace) {
                Ok(names) => looked_up.secrets = Some(names),
                Err(error) => looked_up.failures.push(LookupFailure::Host {
                    kind: ObjectKind::Secret,
                    name: String::new(),
                    error,
                }),
            }
        }
        looked_up
    }

    /// Reads the ConfigMaps of `names` not read (nor failed) yet, sorted,
    /// each once, unless the total would pass [`MAX_CONFIG_MAPS`].
    fn read_more(
        &mut self,
        names: &[&str],
        namespace: &str,
        objects: &dyn ObjectSource,
    ) -> Vec<LookupFailure> {
        let mut unread: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| self.config_map(n).is_none())
            .filter(|n| {
                !self.failures.iter().any(|f| {
                    matches!(f, LookupFailure::Host { kind: ObjectKind::ConfigMap, name, .. } if name == n)
                })
            })
            .collect();
        unread.sort_unstable();
        unread.dedup();
        if unread.is_empty() {
            return Vec::new();
        }
        if self.config_maps.len() + unread.len() > MAX_CONFIG_MAPS {
            let count = self.config_maps.len() + unread.len();
            return vec![LookupFailure::TooManyConfigMaps { count }];
        }
        let mut failures = Vec::new();
        for name in unread {
            match objects.config_map(namespace, name) {
                // At its sorted place: at most MAX_CONFIG_MAPS entries, and
                // no sort routine of its own in the wasm.
                Ok(data) => {
                    let at = slot(&self.config_maps, name).unwrap_or_else(|at| at);
                    self.config_maps.insert(at, (name.to_string(), data));
                }
                Err(error) => failures.push(LookupFailure::Host {
                    kind: ObjectKind::ConfigMap,
                    name: name.to_string(),
                    error,
                }),
            }
        }
        failures
    }

    /// What was read of ConfigMap `name`: `None` when it was not read,
    /// `Some(None)` when it does not exist.
    fn config_map(&self, name: &str) -> Option<(&str, Option<&ConfigMapData>)> {
        slot(&self.config_maps, name).ok().map(|i| {
            (
                self.config_maps[i].0.as_str(),
                self.config_maps[i].1.as_ref(),
            )
        })
    }

    /// What the KUBECONFIG check may read of ConfigMap `name`.
    fn state(&self, name: &str) -> ConfigMapState<'_> {
        match self.config_map(name).map(|(_, data)| data) {
            Some(Some(data)) => ConfigMapState::Data(data),
            Some(None) => ConfigMapState::Missing,
            None => ConfigMapState::Unknown,
        }
    }

    /// Missing objects and keys; optional references never count.
    fn findings(&self, references: &[Reference]) -> Vec<Finding> {
        let mut findings = Vec::new();
        for reference in references.iter().filter(|r| !r.optional) {
            match reference.kind {
                ObjectKind::ServiceAccount => {
                    if self.service_account == Some(false) {
                        findings.push(Finding::Missing {
                            reference: reference.clone(),
                        });
                    }
                }
                ObjectKind::Secret => {
                    if self
                        .secrets
                        .as_ref()
                        .is_some_and(|s| s.binary_search(&reference.name).is_err())
                    {
                        findings.push(Finding::Missing {
                            reference: reference.clone(),
                        });
                    }
                }
                ObjectKind::ConfigMap => match self.config_map(&reference.name).map(|(_, d)| d) {
                    Some(None) => findings.push(Finding::Missing {
                        reference: reference.clone(),
                    }),
                    Some(Some(data)) => {
                        for key in required_keys(reference, data) {
                            findings.push(missing_key(reference, key, data));
                        }
                    }
                    None => {}
                },
            }
        }
        findings
    }

    /// Every (ConfigMap, key) the references consume that exists, once,
    /// in reference order.
    fn consumed_keys<'a>(&'a self, references: &[Reference]) -> Vec<ConsumedKey<'a>> {
        let mut consumed = Vec::new();
        // ConfigMaps whose every key is already listed: many containers
        // often read the same one through envFrom.
        let mut whole: Vec<&str> = Vec::new();
        for (index, reference) in references.iter().enumerate() {
            if reference.kind != ObjectKind::ConfigMap {
                continue;
            }
            let Some((name, Some(data))) = self.config_map(&reference.name) else {
                continue;
            };
            let reads_all = matches!(
                reference.usage,
                Usage::EnvFrom { .. } | Usage::Volume { items: None }
            );
            if whole.contains(&name) {
                continue;
            }
            if reads_all {
                whole.push(name);
            }
            let mut push = |(key, value): (&'a str, &'a str)| {
                consumed.push(ConsumedKey {
                    reference: index,
                    config_map: name,
                    key,
                    value,
                })
            };
            match &reference.usage {
                Usage::EnvKey { key, .. } => data.entry(key).into_iter().for_each(&mut push),
                Usage::Volume { items: Some(items) } => items
                    .iter()
                    .filter_map(|i| data.entry(i))
                    .for_each(&mut push),
                Usage::EnvFrom { .. } | Usage::Volume { items: None } => data
                    .data
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .for_each(&mut push),
                Usage::ImagePull | Usage::PodIdentity => {}
            }
        }
        // Each (ConfigMap, key) once, for the first reference consuming it.
        // Entries equal in (config_map, key, reference) are equal in value
        // too, so an unstable sort orders them exactly as a stable one.
        consumed.sort_unstable();
        consumed.dedup_by(|a, b| (a.config_map, a.key) == (b.config_map, b.key));
        consumed
    }
}

/// The keys `reference` needs that `data` lacks. `configMapKeyRef` reads
/// `data` only; a volume's `items` may also name `binaryData` keys
/// (kubelet's configmap volume plugin).
fn required_keys<'r>(reference: &'r Reference, data: &ConfigMapData) -> Vec<&'r str> {
    match &reference.usage {
        Usage::EnvKey { key, .. } if data.get(key).is_none() => vec![key.as_str()],
        Usage::Volume { items: Some(items) } => items
            .iter()
            .filter(|k| !data.has_volume_key(k))
            .map(String::as_str)
            .collect(),
        _ => Vec::new(),
    }
}

fn missing_key(reference: &Reference, key: &str, data: &ConfigMapData) -> Finding {
    let all = data.keys();
    Finding::MissingKey {
        reference: reference.clone(),
        in_binary_data: data.binary_keys.iter().any(|k| k == key),
        key: key.to_string(),
        existing: all
            .iter()
            .take(MAX_KEYS_LISTED)
            .map(|k| k.to_string())
            .collect(),
        total: all.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Verdict;
    use serde_json::Value;

    /// The check and its rendering, as the router runs them, for the
    /// workload `Deployment shop/web` (or another `kind` in `shop`).
    fn rendered(
        request: &Request,
        compiled: &Compiled,
        services: &dyn ServiceSource,
        objects: &dyn ObjectSource,
    ) -> Verdict {
        let report = check(request, compiled, services, objects);
        let workload = format!("{} shop/web", request.kind);
        let graph = Ok(crate::graph::Report::default());
        crate::render::workload(report, graph, &workload, request.namespace, compiled)
    }
    use crate::fake_cluster::FakeCluster;
    use crate::settings::{MissingSecrets, OnLookupError, Settings};
    use rstest::rstest;
    use serde_json::json;

    /// A Deployment `shop/web` with one container "app" and `pod` merged
    /// into its Pod spec.
    fn deployment(container: Value, pod: Value) -> Value {
        let mut spec = json!({"containers": [container]});
        if let (Some(spec), Some(pod)) = (spec.as_object_mut(), pod.as_object()) {
            spec.extend(pod.clone());
        }
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"template": {"spec": spec}}})
    }

    fn app(fields: Value) -> Value {
        let mut c = json!({"name": "app", "image": "app:1"});
        if let (Some(c), Some(f)) = (c.as_object_mut(), fields.as_object()) {
            c.extend(f.clone());
        }
        c
    }

    fn on() -> Settings {
        Settings {
            check_workload_references: true,
            ..Default::default()
        }
    }

    fn secrets_on() -> Settings {
        Settings {
            check_secret_references: true,
            ..on()
        }
    }

    fn secrets_deny() -> Settings {
        Settings {
            missing_secrets: MissingSecrets::Deny,
            ..secrets_on()
        }
    }

    /// Secrets that installs write at run time, in the shapes of the real
    /// installs that name them (Argo CD's redis password, Contour's and
    /// ingress-nginx's certificates, MetalLB's memberlist key): a warning
    /// that the Pods wait (`missingSecrets: warn`, the default), a
    /// rejection with `missingSecrets: deny`.
    #[rstest]
    #[case::argo_cd_env_secret_key_ref(app(json!({"env": [{"name": "REDIS_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "argocd-redis", "key": "auth"}}}]})), json!({}),
        r#"container "app" (Deployment shop/web), env[0].valueFrom.secretKeyRef: Secret "argocd-redis" does not exist in namespace "shop" yet: the container waits (CreateContainerConfigError, retried) until it exists"#)]
    #[case::contour_certgen_volume(app(json!({})), json!({"volumes": [{"name": "contourcert", "secret": {"secretName": "contourcert"}}]}),
        r#"Deployment shop/web, volumes[0].secret: Secret "contourcert" does not exist in namespace "shop" yet: the Pods wait in ContainerCreating until it exists"#)]
    #[case::ingress_nginx_admission_volume(app(json!({})), json!({"volumes": [{"name": "webhook-cert", "secret": {"secretName": "ingress-nginx-admission"}}]}),
        r#"Secret "ingress-nginx-admission" does not exist in namespace "shop" yet: the Pods wait in ContainerCreating"#)]
    #[case::metallb_memberlist_volume(app(json!({})), json!({"volumes": [{"name": "memberlist", "secret": {"secretName": "memberlist", "defaultMode": 420}}]}),
        r#"Secret "memberlist" does not exist in namespace "shop" yet"#)]
    #[case::image_pull_secret(app(json!({})), json!({"imagePullSecrets": [{"name": "regcred"}]}),
        r#"Deployment shop/web, imagePullSecrets[0]: Secret "regcred" does not exist in namespace "shop" yet: the kubelet pulls without it until it exists"#)]
    fn secrets_made_at_run_time(
        #[case] container: Value,
        #[case] pod: Value,
        #[case] warning: &str,
    ) {
        let object = deployment(container, pod);
        let warned = run(&object, None, &secrets_on(), &shop());
        match &warned {
            Verdict::Accept { warnings } if warnings.len() == 1 => {
                assert!(warnings[0].contains(warning), "{}", warnings[0]);
                assert!(warnings[0].ends_with("if nothing writes it at run time, create it or mark the reference optional: true"));
            }
            other => panic!("expected one warning, got {other:?}"),
        }
        let denied = run(&object, None, &secrets_deny(), &shop());
        assert!(
            matches!(&denied, Verdict::Reject { message, .. } if message.contains("does not exist in namespace \"shop\":")),
            "{denied:?}"
        );
    }

    /// Accepted without warnings (`None`), or rejected with a message that
    /// contains `rejection`.
    fn assert_verdict(rejection: Option<&str>, verdict: &Verdict) {
        match (rejection, verdict) {
            (None, Verdict::Accept { warnings }) => assert!(warnings.is_empty(), "{warnings:?}"),
            (Some(part), Verdict::Reject { message, .. }) => {
                assert!(message.contains(part), "{message}")
            }
            _ => panic!("expected {rejection:?}, got {verdict:?}"),
        }
    }

    /// The opt-out annotation (`dangling-references.kubewarden.io/ignore`)
    /// on the workload or its Pod template: what it names is neither
    /// looked up nor reported; what it does not name still is; a malformed
    /// one is a 400.
    #[rstest]
    #[case::opted_out("/metadata", "secret/regcred, service/apii", None, &[])]
    #[case::in_the_pod_template("/spec/template/metadata", "secret/regcred, service/apii", None, &[])]
    #[case::service_of_that_namespace("/metadata", "secret/regcred, service/shop/apii", None, &[])]
    #[case::service_of_another_namespace("/metadata", "secret/regcred, service/other/apii",
        Some(r#"env[0].value (variable "API_ADDR"): "apii:8080" names Service "apii" in namespace "shop""#), &["list Service shop"])]
    #[case::another_secret("/metadata", "secret/regcreds, service/apii",
        Some(r#"Secret "regcred" does not exist in namespace "shop""#), &["list Secret shop"])]
    #[case::malformed("/metadata", "secrets/regcred",
        Some(r#"Deployment shop/web: annotation dangling-references.kubewarden.io/ignore: "secrets/regcred" has an unknown kind"#), &[])]
    fn opt_out_annotation(
        #[case] at: &str,
        #[case] annotation: &str,
        #[case] rejection: Option<&str>,
        #[case] calls: &[&str],
    ) {
        let mut object = deployment(
            app(json!({"env": [{"name": "API_ADDR", "value": "apii:8080"}]})),
            json!({"imagePullSecrets": [{"name": "regcred"}]}),
        );
        object["spec"]["template"]["metadata"] = json!({});
        let metadata = object.pointer_mut(at).unwrap_or_else(|| panic!("{at}"));
        metadata["annotations"] = json!({crate::ignore_annotation::ANNOTATION: annotation});
        let cluster = shop();
        let verdict = run(&object, None, &secrets_deny(), &cluster);
        assert_verdict(rejection, &verdict);
        assert_eq!(cluster.calls(), calls);
    }

    /// The shop namespace: Service api:8080, ConfigMap app-config with a
    /// good URL, ConfigMap kube-paths, ConfigMap certs (`ca.crt` in `data`,
    /// `ca.der` in `binaryData`), ServiceAccount builder, Secret tls.
    fn shop() -> FakeCluster {
        FakeCluster::new()
            .service("shop", "api", &[8080])
            .config_map(
                "shop",
                "app-config",
                &[
                    ("backend", "http://api.shop.svc.cluster.local:8080"),
                    ("level", "debug"),
                ],
            )
            .config_map(
                "shop",
                "bad-config",
                &[("backend", "http://apii.shop.svc.cluster.local:8080")],
            )
            .config_map(
                "shop",
                "kube-paths",
                &[
                    ("KUBECONFIG", "/Users/jgil/.kube/config"),
                    ("CONFIG", "/home/runner/.kube/config"),
                    ("mounted", "/etc/kube/config"),
                ],
            )
            .config_map(
                "shop",
                "certs",
                &[("ca.crt", "-----BEGIN CERTIFICATE-----")],
            )
            .binary_data("shop", "certs", &["ca.der"])
            .account("shop", "builder")
            .secret("shop", "tls")
    }

    fn run(
        object: &Value,
        old: Option<&Value>,
        settings: &Settings,
        cluster: &FakeCluster,
    ) -> Verdict {
        let compiled = settings.compile();
        let (object, old) = (object.into(), old.map(crate::json_tree::Value::from));
        let request = Request {
            object: &object,
            old_object: old.as_ref(),
            kind: "Deployment",
            namespace: "shop",
            only_ephemeral: false,
        };
        rendered(&request, &compiled, cluster, cluster)
    }

    fn env_cm(name: &str, config_map: &str, key: &str, optional: bool) -> Value {
        json!({"name": name, "valueFrom": {"configMapKeyRef": {"name": config_map, "key": key, "optional": optional}}})
    }

    fn env_from(config_map: &str, prefix: &str, optional: bool) -> Value {
        json!({"prefix": prefix, "configMapRef": {"name": config_map, "optional": optional}})
    }

    #[rstest]
    #[case::dangling_url(app(json!({"envFrom": [env_from("bad-config", "", false)]})), json!({}), on(),
        Some(r#"container "app" (Deployment shop/web), envFrom[0].configMapRef: ConfigMap "bad-config", key "backend": "http://apii.shop.svc.cluster.local:8080" names Service "apii" in namespace "shop", which does not exist; did you mean "api"?"#),
        &["get ConfigMap shop/bad-config", "list Service shop"])]
    #[case::service_exists(app(json!({"envFrom": [env_from("app-config", "", false)]})), json!({}), on(), None,
        &["get ConfigMap shop/app-config", "list Service shop"])]
    #[case::only_consumed_keys_scanned(app(json!({"env": [env_cm("LEVEL", "bad-config", "nope", true)]})), json!({}), on(), None,
        &["get ConfigMap shop/bad-config"])]
    #[case::missing_config_map(app(json!({"envFrom": [env_from("gone", "", false)]})), json!({}), on(),
        Some(r#"container "app" (Deployment shop/web), envFrom[0].configMapRef: ConfigMap "gone" does not exist in namespace "shop": the container cannot start (CreateContainerConfigError)"#),
        &["get ConfigMap shop/gone"])]
    #[case::missing_optional_config_map(app(json!({"envFrom": [env_from("gone", "", true)]})), json!({}), on(), None,
        &["get ConfigMap shop/gone"])]
    #[case::missing_key(app(json!({"env": [env_cm("URL", "app-config", "url", false)]})), json!({}), on(),
        Some(r#"container "app" (Deployment shop/web), env[0].valueFrom.configMapKeyRef: ConfigMap "app-config" has no key "url" (it has "backend", "level")"#),
        &["get ConfigMap shop/app-config"])]
    #[case::missing_optional_key(app(json!({"env": [env_cm("URL", "app-config", "url", true)]})), json!({}), on(), None,
        &["get ConfigMap shop/app-config"])]
    #[case::volume_items_missing_key(app(json!({})), json!({"volumes": [{"name": "cfg", "configMap": {"name": "app-config", "items": [{"key": "app.yaml", "path": "app.yaml"}]}}]}), on(),
        Some(r#"Deployment shop/web, volumes[0].configMap: ConfigMap "app-config" has no key "app.yaml" (it has "backend", "level"): the volume cannot be mounted"#),
        &["get ConfigMap shop/app-config"])]
    // A volume's items may name keys of data and of binaryData; env reads data only.
    #[case::volume_items_key_in_data(app(json!({})), json!({"volumes": [{"name": "cfg", "configMap": {"name": "certs", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}), on(), None,
        &["get ConfigMap shop/certs"])]
    #[case::volume_items_key_in_binary_data(app(json!({})), json!({"volumes": [{"name": "cfg", "configMap": {"name": "certs", "items": [{"key": "ca.der", "path": "ca.der"}]}}]}), on(), None,
        &["get ConfigMap shop/certs"])]
    #[case::env_key_in_binary_data(app(json!({"env": [env_cm("CA", "certs", "ca.der", false)]})), json!({}), on(),
        Some(r#"container "app" (Deployment shop/web), env[0].valueFrom.configMapKeyRef: ConfigMap "certs" has no key "ca.der" ("ca.der" is in binaryData, which env cannot read)"#),
        &["get ConfigMap shop/certs"])]
    #[case::env_key_in_data(app(json!({"env": [env_cm("CA", "certs", "ca.crt", false)]})), json!({}), on(), None,
        &["get ConfigMap shop/certs"])]
    #[case::env_from_prefix_kubeconfig(app(json!({"envFrom": [env_from("kube-paths", "KUBE", false)]})), json!({}), on(),
        Some(r#"container "app" (Deployment shop/web): KUBECONFIG path "/home/runner/.kube/config" (from ConfigMap "kube-paths", key "CONFIG", envFrom[0].configMapRef) is not inside any volumeMount"#),
        &["get ConfigMap shop/kube-paths"])]
    #[case::key_ref_kubeconfig_host_path(app(json!({"env": [env_cm("KUBECONFIG", "kube-paths", "KUBECONFIG", false)]})), json!({}), on(),
        Some(r#"KUBECONFIG path "/Users/jgil/.kube/config" (from ConfigMap "kube-paths", key "KUBECONFIG", env[0].valueFrom.configMapKeyRef) is not inside any volumeMount"#),
        &["get ConfigMap shop/kube-paths"])]
    #[case::key_ref_kubeconfig_mounted(app(json!({"env": [env_cm("KUBECONFIG", "kube-paths", "mounted", false)],
            "volumeMounts": [{"name": "kube", "mountPath": "/etc/kube"}]})),
        json!({"volumes": [{"name": "kube", "secret": {"secretName": "kubeconfig"}}]}), on(), None,
        &["get ConfigMap shop/kube-paths"])]
    #[case::key_ref_unchecked_when_off(app(json!({"env": [env_cm("KUBECONFIG", "kube-paths", "KUBECONFIG", false)]})), json!({}), Settings::default(), None, &[])]
    #[case::missing_service_account(app(json!({})), json!({"serviceAccountName": "deployer"}), on(),
        Some(r#"Deployment shop/web, serviceAccountName: ServiceAccount "deployer" does not exist in namespace "shop": the API server refuses to create the Pods until it exists"#),
        &["get ServiceAccount shop/deployer"])]
    #[case::existing_service_account(app(json!({})), json!({"serviceAccountName": "builder"}), on(), None, &["get ServiceAccount shop/builder"])]
    #[case::default_service_account(app(json!({})), json!({"serviceAccountName": "default"}), on(), None, &[])]
    #[case::missing_secret(app(json!({})), json!({"imagePullSecrets": [{"name": "regcred"}]}), secrets_deny(),
        Some(r#"Deployment shop/web, imagePullSecrets[0]: Secret "regcred" does not exist in namespace "shop""#),
        &["list Secret shop"])]
    #[case::secrets_not_checked_by_default(app(json!({})), json!({"imagePullSecrets": [{"name": "regcred"}]}), on(), None, &[])]
    #[case::existing_secret(app(json!({"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "tls", "key": "k"}}}]})), json!({}), secrets_on(), None, &["list Secret shop"])]
    #[case::everything_in_order(app(json!({"envFrom": [env_from("kube-paths", "X_", false), env_from("app-config", "", false)]})),
        json!({"serviceAccountName": "builder", "imagePullSecrets": [{"name": "tls"}]}), secrets_on(), None,
        &["get ServiceAccount shop/builder", "get ConfigMap shop/app-config", "get ConfigMap shop/kube-paths", "list Secret shop", "list Service shop"])]
    fn references(
        #[case] container: Value,
        #[case] pod: Value,
        #[case] settings: Settings,
        #[case] rejection: Option<&str>,
        #[case] calls: &[&str],
    ) {
        let cluster = shop();
        let verdict = run(&deployment(container, pod), None, &settings, &cluster);
        assert_verdict(rejection, &verdict);
        assert_eq!(cluster.calls(), calls);
    }

    /// What a container-text case expects.
    #[derive(Debug, Clone, Copy)]
    enum Expect {
        Accept,
        /// Rejected, the message containing this.
        Reject(&'static str),
        /// Accepted with one warning containing this.
        Warn(&'static str),
    }

    /// `shop` with Service `api` (8080) and `payments` with `ledger` (9000).
    fn services_cluster() -> FakeCluster {
        let mut cluster = shop()
            .service("payments", "ledger", &[9000])
            .config_map("shop", "addrs", &[("API_ADDR", "apii:8080")])
            .config_map(
                "shop",
                "addr-list",
                &[("BROKERS", "api:8080, ledger.payments:9000\n")],
            )
            .config_map("shop", "absent-addr", &[("ZIPKIN_ADDR", "zipkin:9411")]);
        // a StatefulSet's governing Service: its Pods are redis-0.redis
        cluster.add_service(
            "shop",
            crate::service_lookup::ServiceInfo {
                name: "redis".into(),
                headless: true,
                ..Default::default()
            },
        );
        cluster
    }

    fn env(vars: &[(&str, &str)]) -> Value {
        let env: Vec<Value> = vars
            .iter()
            .map(|(n, v)| json!({"name": n, "value": v}))
            .collect();
        app(json!({ "env": env }))
    }

    fn ignoring_variables() -> Settings {
        Settings {
            ignored_variables: vec!["API_*".into()],
            ..on()
        }
    }

    fn ignoring_hosts() -> Settings {
        Settings {
            ignored_hosts: vec!["apii".into()],
            ..on()
        }
    }

    /// Services named by a container's env values, args and command, and
    /// bare `host:port` values of consumed keys (issue 18): each form with
    /// an accepting and a rejecting row.
    #[rstest]
    // Bare host:port, the Pod's namespace.
    #[case::bare_exists(env(&[("API_ADDR", "api:8080")]), json!({}), on(), Expect::Accept)]
    #[case::bare_typo(env(&[("API_ADDR", "apii:8080")]), json!({}), on(),
        Expect::Reject(r#"container "app" (Deployment shop/web), env[0].value (variable "API_ADDR"): "apii:8080" names Service "apii" in namespace "shop", which does not exist; did you mean "api"?"#))]
    #[case::bare_wrong_port(env(&[("API_ADDR", "api:9090")]), json!({}), on(),
        Expect::Reject(r#"env[0].value (variable "API_ADDR"): "api:9090" names Service "api" in namespace "shop", but port 9090 is not exposed: the Service exposes only port(s) 8080"#))]
    #[case::bare_absent(env(&[("ZIPKIN_ADDR", "zipkin:9411")]), json!({}), on(),
        Expect::Warn(r#"container "app" (Deployment shop/web), env[0].value (variable "ZIPKIN_ADDR"): "zipkin:9411" names Service "zipkin" in namespace "shop", which does not exist: the Pods' connections to it will fail until it is created"#))]
    #[case::bare_list(env(&[("BROKERS", "api:8080,ledger.payments:9000")]), json!({}), on(), Expect::Accept)]
    #[case::bare_list_typo(env(&[("BROKERS", "api:8080, apii:8080")]), json!({}), on(),
        Expect::Reject(r#""apii:8080" names Service "apii""#))]
    // name.namespace:port and name.namespace.svc:port.
    #[case::bare_with_namespace(env(&[("LEDGER", "ledger.payments:9000")]), json!({}), on(), Expect::Accept)]
    #[case::bare_with_namespace_wrong_port(env(&[("LEDGER", "ledger.payments:9001")]), json!({}), on(),
        Expect::Reject(r#""ledger.payments:9001" names Service "ledger" in namespace "payments", but port 9001 is not exposed"#))]
    #[case::bare_with_namespace_absent(env(&[("ZIPKIN", "zipkin.jaeger:9411")]), json!({}), on(),
        Expect::Warn(r#""zipkin.jaeger:9411" names Service "zipkin" in namespace "jaeger", which does not exist"#))]
    #[case::svc_name(env(&[("LEDGER", "ledger.payments.svc:9000")]), json!({}), on(), Expect::Accept)]
    #[case::svc_name_typo(env(&[("LEDGER", "ledgr.payments.svc:9000")]), json!({}), on(),
        Expect::Reject(r#"names Service "ledgr" in namespace "payments", which does not exist; did you mean "ledger"?"#))]
    #[case::cluster_domain_absent(env(&[("ZIPKIN", "zipkin.jaeger.svc.cluster.local")]), json!({}), on(),
        Expect::Warn(r#""zipkin.jaeger.svc.cluster.local" names Service "zipkin" in namespace "jaeger", which does not exist"#))]
    // URLs of any scheme, short names judged by default.
    #[case::short_url(env(&[("API_URL", "http://api:8080/v1")]), json!({}), on(), Expect::Accept)]
    #[case::short_url_typo(env(&[("API_URL", "http://apii:8080/v1")]), json!({}), on(),
        Expect::Reject(r#""http://apii:8080" names Service "apii" in namespace "shop", which does not exist; did you mean "api"?"#))]
    #[case::short_url_scheme_port(env(&[("API_URL", "https://api")]), json!({}), on(),
        Expect::Reject(r#"port 443 (implied by the URL scheme) is not exposed"#))]
    #[case::short_url_absent(env(&[("AI_SERVICE_URL", "http://ai-service:5001/")]), json!({}), on(),
        Expect::Warn(r#""http://ai-service:5001" names Service "ai-service" in namespace "shop", which does not exist"#))]
    #[case::expanded(env(&[("PORT", "8080"), ("API_URL", "http://api:$(PORT)")]), json!({}), on(), Expect::Accept)]
    #[case::expanded_wrong_port(env(&[("PORT", "9090"), ("API_URL", "http://api:$(PORT)")]), json!({}), on(),
        Expect::Reject(r#"env[1].value (variable "API_URL"): "http://api:9090" names Service "api""#))]
    // Not references.
    #[case::localhost(env(&[("A", "localhost:8080"), ("B", "http://localhost:9090")]), json!({}), on(), Expect::Accept)]
    #[case::listen_addresses(env(&[("A", "0.0.0.0:8080"), ("B", ":8080"), ("C", "10.0.0.1:80")]), json!({}), on(), Expect::Accept)]
    #[case::public_names(env(&[("A", "api.example.com:443"), ("B", "github.com:22"), ("C", "https://example.com")]), json!({}), on(), Expect::Accept)]
    #[case::not_host_port(env(&[("A", "apii:8080 and more"), ("B", "apii:8080/x"), ("C", "12:30")]), json!({}), on(), Expect::Accept)]
    #[case::placeholders(env(&[("A", "${API_HOST}:8080"), ("B", "http://{{ .host }}:8080"), ("C", "%(host)s:8080"), ("D", "$(UNDEFINED):8080")]), json!({}), on(), Expect::Accept)]
    #[case::comment(env(&[("A", "# http://apii:8080\nlevel: debug")]), json!({}), on(), Expect::Accept)]
    #[case::host_alias(env(&[("A", "apii:8080"), ("B", "http://apii:8080")]), json!({"hostAliases": [{"ip": "10.0.0.1", "hostnames": ["apii"]}]}), on(), Expect::Accept)]
    #[case::ignored_host(env(&[("A", "apii:8080")]), json!({}), ignoring_hosts(), Expect::Accept)]
    #[case::ignored_variable(env(&[("API_ADDR", "apii:8080")]), json!({}), ignoring_variables(), Expect::Accept)]
    #[case::not_ignored_variable(env(&[("CART_ADDR", "apii:8080")]), json!({}), ignoring_variables(),
        Expect::Reject(r#""apii:8080" names Service "apii""#))]
    #[case::image_tag(env(&[("SIDECAR_IMAGE", "api:15")]), json!({}), on(), Expect::Accept)]
    // `name:number` below 1024 that no Service listens on: a version, a
    // count, a flag, a user and group; a well-known port is an address
    // `redis-0.redis:6379` is first Pod redis-0 of the headless Service
    // redis of the workload's namespace
    #[case::pod_of_own_headless_service(env(&[("REDIS", "redis-0.redis:6379"), ("REPLICAS", "redis-0.redis:6379,redis-1.redis:6379")]), json!({}), on(), Expect::Accept)]
    #[case::pod_of_a_missing_headless_service(env(&[("CACHE", "cache-0.cachee:6379")]), json!({}), on(),
        Expect::Warn(r#""cache-0.cachee:6379" names Service "cache-0" in namespace "cachee", which does not exist"#))]
    // however many optional Services come first, a typo is still one
    #[case::typo_after_many_absent(
        env(&(0..30).map(|i| (format!("OPT{i:02}"), format!("http://optional-{i:02}:80"))).chain([("API_ADDR".to_string(), "apii:8080".to_string())])
            .collect::<Vec<_>>().iter().map(|(n, v)| (n.as_str(), v.as_str())).collect::<Vec<_>>()),
        json!({}), on(),
        Expect::Reject(r#"env[30].value (variable "API_ADDR"): "apii:8080" names Service "apii" in namespace "shop", which does not exist; did you mean "api"?"#))]
    #[case::small_numbers(env(&[("DB_ENGINE", "api:15"), ("SCALE", "api:2,web:1"), ("FEATURES", "apii:1")]), json!({}), on(), Expect::Accept)]
    #[case::well_known_port(env(&[("API_ADDR", "api:80")]), json!({}), on(),
        Expect::Reject(r#""api:80" names Service "api" in namespace "shop", but port 80 is not exposed"#))]
    #[case::positional_item(app(json!({"command": ["chown", "-R", "api:1000", "/data"], "args": ["wait-for", "apii:8080"]})), json!({}), on(), Expect::Accept)]
    #[case::off_by_default(env(&[("API_ADDR", "apii:8080")]), json!({}), Settings::default(), Expect::Accept)]
    // args and command.
    #[case::flag_equals(app(json!({"args": ["--backend=api:8080"]})), json!({}), on(), Expect::Accept)]
    #[case::flag_equals_typo(app(json!({"args": ["--backend=apii:8080"]})), json!({}), on(),
        Expect::Reject(r#"container "app" (Deployment shop/web), args[0]: "apii:8080" names Service "apii""#))]
    #[case::flag_next_item(app(json!({"args": ["--backend", "api:8080"]})), json!({}), on(), Expect::Accept)]
    #[case::flag_next_item_typo(app(json!({"args": ["--backend", "apii:8080"]})), json!({}), on(),
        Expect::Reject(r#"container "app" (Deployment shop/web), args[1]: "apii:8080" names Service "apii""#))]
    #[case::image_flag(app(json!({"args": ["--image=api:15", "--sidecar-image", "api:16"]})), json!({}), on(), Expect::Accept)]
    #[case::command_url(app(json!({"command": ["curl", "http://api:8080/healthz"]})), json!({}), on(), Expect::Accept)]
    #[case::command_url_typo(app(json!({"command": ["curl", "http://apii:8080/healthz"]})), json!({}), on(),
        Expect::Reject(r#"container "app" (Deployment shop/web), command[1]: "http://apii:8080" names Service "apii""#))]
    #[case::shell_script(app(json!({"command": ["sh", "-c"], "args": ["until nc -z api.shop.svc 8080; do sleep 1; done; curl http://api:8080/x"]})), json!({}), on(), Expect::Accept)]
    #[case::shell_script_typo(app(json!({"command": ["sh", "-c"], "args": ["curl -s http://apii:8080/x && echo ok"]})), json!({}), on(),
        Expect::Reject(r#"args[0]: "http://apii:8080" names Service "apii""#))]
    #[case::args_expanded(app(json!({"env": [{"name": "HOST", "value": "apii"}], "args": ["--backend=$(HOST):8080"]})), json!({}), on(),
        Expect::Reject(r#"args[0]: "apii:8080" names Service "apii""#))]
    #[case::init_container(json!({"name": "app", "image": "a"}), json!({"initContainers": [{"name": "wait", "image": "b", "args": ["--backend=apii:8080"]}]}), on(),
        Expect::Reject(r#"init container "wait" (Deployment shop/web), args[0]: "apii:8080""#))]
    #[case::ephemeral_container(json!({"name": "app", "image": "a"}), json!({"ephemeralContainers": [{"name": "debug", "image": "b", "env": [{"name": "T", "value": "apii:8080"}]}]}), on(),
        Expect::Reject(r#"ephemeral container "debug" (Deployment shop/web), env[0].value (variable "T")"#))]
    // Consumed ConfigMap keys: the same bare rule.
    #[case::consumed_bare_list(app(json!({"envFrom": [env_from("addr-list", "", false)]})), json!({}), on(), Expect::Accept)]
    #[case::consumed_bare_typo(app(json!({"envFrom": [env_from("addrs", "", false)]})), json!({}), on(),
        Expect::Reject(r#"container "app" (Deployment shop/web), envFrom[0].configMapRef: ConfigMap "addrs", key "API_ADDR": "apii:8080" names Service "apii" in namespace "shop", which does not exist; did you mean "api"?"#))]
    #[case::consumed_bare_absent(app(json!({"envFrom": [env_from("absent-addr", "", false)]})), json!({}), on(),
        Expect::Warn(r#"ConfigMap "absent-addr", key "ZIPKIN_ADDR": "zipkin:9411" names Service "zipkin" in namespace "shop", which does not exist: the Pods' connections"#))]
    fn container_references(
        #[case] container: Value,
        #[case] pod: Value,
        #[case] settings: Settings,
        #[case] expect: Expect,
    ) {
        let cluster = services_cluster();
        let verdict = run(&deployment(container, pod), None, &settings, &cluster);
        match (expect, &verdict) {
            (Expect::Accept, Verdict::Accept { warnings }) => {
                assert!(warnings.is_empty(), "{warnings:?}")
            }
            (Expect::Reject(part), Verdict::Reject { message, .. }) => {
                assert!(message.contains(part), "{message}")
            }
            (Expect::Warn(part), Verdict::Accept { warnings }) => {
                assert_eq!(warnings.len(), 1, "{warnings:?}");
                assert!(warnings[0].contains(part), "{warnings:?}");
            }
            _ => panic!("expected {expect:?}, got {verdict:?}"),
        }
    }

    /// The consumed keys and the containers' texts share one listing per
    /// namespace, in name order, after the ConfigMap reads.
    #[test]
    fn texts_and_consumed_keys_share_the_listings() {
        let cluster = services_cluster();
        let container = app(json!({"envFrom": [env_from("bad-config", "", false)],
            "env": [{"name": "L", "value": "ledger.payments:9000"}, {"name": "A", "value": "api:8080"}],
            "args": ["--ledger=http://ledger.payments:9000"]}));
        assert!(matches!(
            run(&deployment(container, json!({})), None, &on(), &cluster),
            Verdict::Reject { .. }
        ));
        assert_eq!(
            cluster.calls(),
            vec![
                "get ConfigMap shop/bad-config",
                "list Service payments",
                "list Service shop"
            ]
        );
    }

    /// On UPDATE only the references the edit adds are judged.
    #[rstest]
    #[case::kept(&[("A", "apii:8080")], &[("A", "apii:8080"), ("LEVEL", "debug")], None)]
    #[case::moved(&[("A", "apii:8080")], &[("B", "x"), ("A", "apii:8080")], None)]
    #[case::added(&[("LEVEL", "debug")], &[("A", "apii:8080")], Some("list Service shop"))]
    fn updates_judge_only_added_texts(
        #[case] old: &[(&str, &str)],
        #[case] new: &[(&str, &str)],
        #[case] call: Option<&str>,
    ) {
        let cluster = services_cluster();
        let old = deployment(env(old), json!({}));
        let new = deployment(env(new), json!({}));
        let verdict = run(&new, Some(&old), &on(), &cluster);
        assert_eq!(
            matches!(verdict, Verdict::Reject { .. }),
            call.is_some(),
            "{verdict:?}"
        );
        assert_eq!(cluster.calls(), call.into_iter().collect::<Vec<_>>());
    }

    /// Limits table: at most `MAX_SCANNED_BYTES` of container texts are
    /// scanned; past it none is, as `onLookupError` says.
    #[rstest]
    #[case::at_the_bound(MAX_SCANNED_BYTES, None)]
    #[case::past_the_bound(MAX_SCANNED_BYTES + 1, Some("more than the 2097152 the policy scans"))]
    fn text_bound(#[case] size: usize, #[case] rejection: Option<&str>) {
        let cluster = services_cluster();
        let filler = "a".repeat(size - "--x=apii:8080".len());
        let container = app(json!({"env": [{"name": "F", "value": filler}],
            "args": ["--x=apii:8080"]}));
        let verdict = run(&deployment(container, json!({})), None, &on(), &cluster);
        match (rejection, verdict) {
            (None, Verdict::Reject { message, .. }) => {
                assert!(
                    message.contains(r#""apii:8080" names Service "apii""#),
                    "{message}"
                )
            }
            (Some(part), Verdict::Reject { message, .. }) => {
                assert!(message.contains(part), "{message}");
                assert!(cluster.calls().is_empty(), "{:?}", cluster.calls());
            }
            (_, other) => panic!("{other:?}"),
        }
    }

    #[rstest]
    #[case::deny(OnLookupError::Deny, false)]
    #[case::allow(OnLookupError::Allow, true)]
    fn lookup_errors(#[case] on_error: OnLookupError, #[case] accepted: bool) {
        let cluster = shop().failing("error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: kube::Client was not initialized properly");
        let settings = Settings {
            on_lookup_error: on_error,
            ..on()
        };
        let object = deployment(
            app(json!({"envFrom": [env_from("app-config", "", false)]})),
            json!({}),
        );
        let expected = r#"Deployment shop/web: cannot verify ConfigMap "app-config" in namespace "shop": error invoking host capability kubernetes.get_resource: Host error: Callback evaluation failure: kube::Client was not initialized properly"#;
        match run(&object, None, &settings, &cluster) {
            Verdict::Reject { message, .. } => {
                assert!(!accepted && message == expected, "{message}")
            }
            Verdict::Accept { warnings } => assert!(
                accepted && warnings == vec![expected.to_string()],
                "{warnings:?}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(cluster.calls(), vec!["get ConfigMap shop/app-config"]);
    }

    #[test]
    fn update_that_adds_nothing_makes_no_host_call() {
        let cluster = shop();
        let old = deployment(
            app(json!({"envFrom": [env_from("gone", "", false)]})),
            json!({"serviceAccountName": "deployer"}),
        );
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(3);
        assert_eq!(run(&new, Some(&old), &on(), &cluster), Verdict::accept());
        assert!(cluster.calls().is_empty(), "{:?}", cluster.calls());
    }

    #[test]
    fn update_checks_what_it_adds() {
        let cluster = shop();
        let old = deployment(
            app(json!({"envFrom": [env_from("app-config", "", false)]})),
            json!({}),
        );
        let new = deployment(
            app(
                json!({"envFrom": [env_from("app-config", "", false), env_from("gone", "", false)]}),
            ),
            json!({}),
        );
        assert!(matches!(
            run(&new, Some(&old), &on(), &cluster),
            Verdict::Reject { .. }
        ));
        // app-config is read again only because an envFrom source may set
        // KUBECONFIG and the container's envFrom changed; it is not judged.
        assert_eq!(
            cluster.calls(),
            vec!["get ConfigMap shop/app-config", "get ConfigMap shop/gone"]
        );
    }

    #[test]
    fn update_changing_mounts_judges_kubeconfig_from_config_maps_again() {
        let cluster = shop();
        let container = |mount: &str| {
            app(
                json!({"env": [env_cm("KUBECONFIG", "kube-paths", "mounted", false)],
                       "volumeMounts": [{"name": "kube", "mountPath": mount}]}),
            )
        };
        let volumes =
            json!({"volumes": [{"name": "kube", "secret": {"secretName": "kubeconfig"}}]});
        let old = deployment(container("/etc/kube"), volumes.clone());
        let new = deployment(container("/etc/other"), volumes);
        match run(&new, Some(&old), &on(), &cluster) {
            Verdict::Reject { message, .. } => assert!(
                message.contains(r#"KUBECONFIG path "/etc/kube/config" (from ConfigMap "kube-paths", key "mounted""#),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
        // Read for the value only: the reference itself is not new.
        assert_eq!(cluster.calls(), vec!["get ConfigMap shop/kube-paths"]);
    }

    #[rstest]
    #[case::unrelated_env_value(json!([{"name": "A", "value": "2"}]), "app")]
    #[case::renamed_container(json!([{"name": "A", "value": "1"}]), "web")]
    fn update_not_touching_kubeconfig_inputs_reads_nothing(#[case] env: Value, #[case] name: &str) {
        let cluster = shop().failing("forbidden");
        let old = deployment(
            app(
                json!({"env": [{"name": "A", "value": "1"}], "envFrom": [env_from("app-config", "", false)]}),
            ),
            json!({}),
        );
        let mut container =
            app(json!({"env": env, "envFrom": [env_from("app-config", "", false)]}));
        container["name"] = json!(name);
        let new = deployment(container, json!({}));
        assert_eq!(run(&new, Some(&old), &on(), &cluster), Verdict::accept());
        assert!(cluster.calls().is_empty(), "{:?}", cluster.calls());
    }

    #[test]
    fn optional_secrets_alone_are_not_looked_up() {
        let cluster = shop().failing("unreachable");
        let container = app(
            json!({"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db", "key": "k", "optional": true}}}]}),
        );
        assert_eq!(
            run(
                &deployment(container, json!({})),
                None,
                &secrets_on(),
                &cluster
            ),
            Verdict::accept()
        );
        assert!(cluster.calls().is_empty());
    }

    #[test]
    fn warn_action_warns_about_references() {
        let cluster = shop();
        let settings = Settings {
            action: crate::settings::Action::Warn,
            ..on()
        };
        let object = deployment(
            app(json!({"envFrom": [env_from("gone", "", false)]})),
            json!({}),
        );
        match run(&object, None, &settings, &cluster) {
            Verdict::Accept { warnings } => {
                assert!(warnings[0].contains(r#"ConfigMap "gone" does not exist"#))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_config_map_is_read_once() {
        let cluster = shop();
        let container = app(json!({
            "env": [env_cm("A", "app-config", "backend", false), env_cm("B", "app-config", "level", false)],
            "envFrom": [env_from("app-config", "P_", false)]}));
        let pod = json!({"volumes": [{"name": "v", "configMap": {"name": "app-config"}}]});
        assert_eq!(
            run(&deployment(container, pod), None, &on(), &cluster),
            Verdict::accept()
        );
        assert_eq!(
            cluster.calls(),
            vec!["get ConfigMap shop/app-config", "list Service shop"]
        );
    }

    /// At the bound every ConfigMap is read; past it none is, and that is
    /// a lookup error.
    #[rstest]
    #[case::at_the_bound(MAX_CONFIG_MAPS, None)]
    #[case::past_the_bound(MAX_CONFIG_MAPS + 1, Some("names 65 ConfigMaps, more than the 64"))]
    fn config_map_count_is_bounded(#[case] count: usize, #[case] rejection: Option<&str>) {
        let cluster = (0..count).fold(shop(), |cluster, i| {
            cluster.config_map("shop", &format!("c{i:02}"), &[("LEVEL", "info")])
        });
        let env_from: Vec<Value> = (0..count)
            .map(|i| env_from(&format!("c{i:02}"), "", false))
            .collect();
        let object = deployment(app(json!({ "envFrom": env_from })), json!({}));
        match (rejection, run(&object, None, &on(), &cluster)) {
            (None, verdict) => {
                assert_eq!(verdict, Verdict::accept());
                assert_eq!(cluster.calls().len(), count);
            }
            (Some(part), Verdict::Reject { message, .. }) => {
                assert!(message.contains(part), "{message}");
                assert!(cluster.calls().is_empty(), "{:?}", cluster.calls());
            }
            (_, other) => panic!("{other:?}"),
        }
    }

    /// A KUBECONFIG the policy cannot read at admission is named, as a
    /// warning, only under `warnOnUnresolvedValues`.
    #[rstest]
    #[case::quiet(false, &[])]
    #[case::warned(true, &["KUBECONFIG comes from valueFrom.secretKeyRef and cannot be checked at admission"])]
    fn unresolved_values_are_warned_only_when_asked(#[case] warn: bool, #[case] parts: &[&str]) {
        let container = app(
            json!({"env": [{"name": "KUBECONFIG", "valueFrom": {"secretKeyRef": {"name": "kc", "key": "config"}}}]}),
        );
        let settings = Settings {
            warn_on_unresolved_values: warn,
            ..Default::default()
        };
        match run(&deployment(container, json!({})), None, &settings, &shop()) {
            Verdict::Accept { warnings } => {
                assert_eq!(warnings.len(), parts.len(), "{warnings:?}");
                for (warning, part) in warnings.iter().zip(parts) {
                    assert!(warning.contains(part), "{warning}");
                }
            }
            other => panic!("{other:?}"),
        }
    }

    fn removing() -> Settings {
        Settings {
            remove_offending_variables: true,
            ..on()
        }
    }

    /// `removeOffendingVariables` never touches an object with nothing to remove.
    #[test]
    fn removal_never_mutates_a_good_object() {
        let cluster = shop();
        let container = app(
            json!({"env": [{"name": "KUBECONFIG", "value": "/etc/kube/config"}],
            "volumeMounts": [{"name": "kube", "mountPath": "/etc/kube"}]}),
        );
        let pod = json!({"volumes": [{"name": "kube", "secret": {"secretName": "kubeconfig"}}]});
        assert_eq!(
            run(&deployment(container, pod), None, &removing(), &cluster),
            Verdict::accept()
        );
        assert!(cluster.calls().is_empty(), "{:?}", cluster.calls());
    }

    /// Found by the `validate` fuzz target: removing `env` KUBECONFIG let
    /// the value `envFrom` sets for it through, unjudged.
    #[test]
    fn removal_that_uncovers_an_env_from_value_is_not_final() {
        let cluster = shop();
        let container = app(json!({"envFrom": [env_from("kube-paths", "", false)],
            "env": [{"name": "KUBECONFIG", "value": "/home/me/.kube/config"}]}));
        match run(
            &deployment(container, json!({})),
            None,
            &removing(),
            &cluster,
        ) {
            Verdict::Reject { message, .. } => assert!(
                message.contains(
                    r#"KUBECONFIG path "/home/me/.kube/config" is not inside any volumeMount"#
                ),
                "{message}"
            ),
            other => panic!("{other:?}"),
        }
    }

    /// Found by the `validate` fuzz target: an UPDATE that adds nothing
    /// reads no ConfigMap, but the mutated object changes `env`, so the API
    /// server calling the policy again on it reads the ConfigMaps that feed
    /// KUBECONFIG; the first answer must already be that one.
    #[rstest]
    #[case::env_from_value_uncovered(shop(), "is not inside any volumeMount")]
    #[case::feeding_config_map_unreadable(shop().failing("forbidden"), r#"cannot verify ConfigMap "kube-paths""#)]
    fn removal_on_update_reads_what_a_second_call_would(
        #[case] cluster: FakeCluster,
        #[case] part: &str,
    ) {
        let object = deployment(
            app(json!({"envFrom": [env_from("kube-paths", "", false)],
                "env": [{"name": "KUBECONFIG", "value": "/home/me/.kube/config"}]})),
            json!({}),
        );
        match run(&object, Some(&object), &removing(), &cluster) {
            Verdict::Reject { message, .. } => assert!(message.contains(part), "{message}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(cluster.calls(), vec!["get ConfigMap shop/kube-paths"]);
    }

    /// Found by the mutation property (tests/properties.rs): removing
    /// KUBECONFIG would change `$(KUBECONFIG)` in another variable.
    #[test]
    fn removal_that_changes_another_variable_is_not_final() {
        let cluster = shop();
        let env = |other: &str| {
            app(
                json!({"env": [{"name": "KUBECONFIG", "value": "/home/me/.kube/config"},
                {"name": "CACHE", "value": other}]}),
            )
        };
        let refers = deployment(env("$(KUBECONFIG).cache"), json!({}));
        assert!(matches!(
            run(&refers, None, &removing(), &cluster),
            Verdict::Reject { .. }
        ));
        let independent = deployment(env("/tmp/cache"), json!({}));
        assert!(matches!(
            run(&independent, None, &removing(), &cluster),
            Verdict::Mutate { .. }
        ));
    }

    /// Found by the UPDATE property (tests/properties.rs): removing a
    /// sidecar changes nothing another container's KUBECONFIG is judged
    /// against, so no ConfigMap is read again (and a failing host cannot
    /// reject an UPDATE that adds nothing).
    #[test]
    fn update_removing_a_container_reads_nothing_again() {
        let cluster = shop().failing("forbidden");
        let main = app(json!({"env": [env_cm("KUBECONFIG", "kube-paths", "mounted", false)]}));
        let mut sidecar = app(json!({"envFrom": [env_from("app-config", "", false)]}));
        sidecar["name"] = json!("sidecar");
        let old = deployment(main.clone(), json!({}));
        let mut old_two = old.clone();
        old_two["spec"]["template"]["spec"]["containers"] = json!([sidecar, main]);
        assert_eq!(
            run(&old, Some(&old_two), &on(), &cluster),
            Verdict::accept()
        );
        assert!(cluster.calls().is_empty(), "{:?}", cluster.calls());
    }

    /// Removing `env[0]` moves the entries after it; their values stay.
    #[test]
    fn removal_before_other_entries_is_final() {
        let cluster = shop();
        let container = app(
            json!({"env": [{"name": "KUBECONFIG", "value": "/home/me/.kube/config"},
            env_cm("LEVEL", "app-config", "level", false)]}),
        );
        assert!(matches!(
            run(
                &deployment(container, json!({})),
                None,
                &removing(),
                &cluster
            ),
            Verdict::Mutate { .. }
        ));
    }

    /// Limits table: a KUBECONFIG that expands past `MAX_EXPANDED` cannot be
    /// judged, which is a lookup error (never a silent accept).
    #[rstest]
    #[case::at_the_limit(crate::env_expansion::MAX_EXPANDED, None)]
    #[case::past_it_deny(crate::env_expansion::MAX_EXPANDED + 1, Some(OnLookupError::Deny))]
    #[case::past_it_allow(crate::env_expansion::MAX_EXPANDED + 1, Some(OnLookupError::Allow))]
    fn expansion_bound(#[case] size: usize, #[case] past: Option<OnLookupError>) {
        let long = format!("/{}", "a".repeat(size - 1));
        let container = app(json!({"env": [{"name": "D", "value": long},
            {"name": "KUBECONFIG", "value": "$(D)"}],
            "volumeMounts": [{"name": "scratch", "mountPath": "/"}]}));
        let object = deployment(
            container,
            json!({"volumes": [{"name": "scratch", "emptyDir": {}}]}),
        );
        let settings = Settings {
            on_lookup_error: past.unwrap_or_default(),
            ..Default::default()
        };
        let verdict = run(&object, None, &settings, &shop());
        match (past, verdict) {
            (None, v) => assert_eq!(v, Verdict::accept()),
            (Some(OnLookupError::Deny), Verdict::Reject { message, .. }) => {
                assert!(
                    message.contains("an expansion longer than 65536 bytes"),
                    "{message}"
                )
            }
            (Some(OnLookupError::Allow), Verdict::Accept { warnings }) => {
                assert!(
                    warnings[0].contains("an expansion longer than 65536 bytes"),
                    "{warnings:?}"
                )
            }
            (_, v) => panic!("{v:?}"),
        }
    }
}
