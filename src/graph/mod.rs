//! The reference graph: the names one object gives another that the
//! cluster must find, for every kind of reference that needs no reading
//! of text: webhook, APIService and CRD conversion Services, a
//! StatefulSet's governing Service, PersistentVolumeClaims, named probe
//! ports, HPA scale targets, and RBAC `roleRef`s and subjects.
//!
//! One path for every kind: [`extract`] says what names what (one row per
//! source kind), [`resolve`] batches the host lookups (one listing per
//! kind and namespace, in a fixed order), [`judge`] turns each answer into
//! a typed [`Finding`] with its verdict class, and `render` words them
//! (`messages::graph`). Adding a kind of reference is one extractor row,
//! one [`Via`], one judge arm and one message.

pub mod extract;
pub mod judge;
pub mod resolve;

use crate::json_tree::Value;

use crate::object_lookup::ObjectSource;
use crate::service_lookup::ServiceSource;
use crate::settings::Compiled;

/// At most this many distinct references are judged for one object: a
/// webhook configuration with 50 webhooks or a binding with 500 subjects
/// is far below it (and many webhooks calling one Service are one). Past
/// it, nothing is looked up and the object is reported unverified (as
/// `onLookupError` says).
pub const MAX_REFERENCES: usize = 4096;

/// What a reference names: the kind of object, and how it is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A `v1` Service (its ports too), listed through the Service source.
    Service,
    /// A `v1` PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// A `v1` ServiceAccount.
    ServiceAccount,
    /// An `apps/v1` Deployment.
    Deployment,
    /// An `apps/v1` StatefulSet.
    StatefulSet,
    /// An `apps/v1` ReplicaSet.
    ReplicaSet,
    /// A `v1` ReplicationController.
    ReplicationController,
    /// An `rbac.authorization.k8s.io/v1` Role.
    Role,
    /// An `rbac.authorization.k8s.io/v1` ClusterRole (cluster-scoped).
    ClusterRole,
    /// A port name of the same container: judged without any lookup.
    ContainerPort,
}

impl Target {
    /// The apiVersion it is listed with.
    pub fn api_version(self) -> &'static str {
        match self {
            Target::Deployment | Target::StatefulSet | Target::ReplicaSet => "apps/v1",
            Target::Role | Target::ClusterRole => "rbac.authorization.k8s.io/v1",
            _ => "v1",
        }
    }

    /// Its kind, as the API names it.
    pub fn kind(self) -> &'static str {
        match self {
            Target::Service => "Service",
            Target::PersistentVolumeClaim => "PersistentVolumeClaim",
            Target::ServiceAccount => "ServiceAccount",
            Target::Deployment => "Deployment",
            Target::StatefulSet => "StatefulSet",
            Target::ReplicaSet => "ReplicaSet",
            Target::ReplicationController => "ReplicationController",
            Target::Role => "Role",
            Target::ClusterRole => "ClusterRole",
            Target::ContainerPort => "port",
        }
    }

    /// Whether it is cluster-scoped (listed once, with `list_resources_all`).
    pub fn is_cluster_scoped(self) -> bool {
        self == Target::ClusterRole
    }
}

/// The field that holds a reference: decides its verdict class and the
/// failure the message explains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Via {
    /// `webhooks[].clientConfig.service` of a webhook configuration.
    WebhookService,
    /// `spec.service` of an APIService.
    ApiService,
    /// `spec.conversion.webhook.clientConfig.service` of a CRD.
    ConversionService,
    /// `spec.serviceName` of a StatefulSet.
    GoverningService,
    /// `volumes[].persistentVolumeClaim.claimName` of a Pod template.
    ClaimName,
    /// A probe's or lifecycle hook's `httpGet`/`tcpSocket` `port`, by name.
    ProbePort,
    /// `spec.scaleTargetRef` of a HorizontalPodAutoscaler.
    ScaleTarget,
    /// `roleRef` of a RoleBinding or ClusterRoleBinding.
    RoleRef,
    /// A ServiceAccount in `subjects[]` of a binding.
    Subject,
}

/// One name an object gives another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub via: Via,
    pub target: Target,
    /// The namespace it is looked up in; empty for cluster-scoped targets
    /// and container ports.
    pub namespace: String,
    pub name: String,
    /// The Service port a webhook, APIService or conversion is called on.
    pub port: Option<i32>,
    /// Where it is: `webhooks[0].clientConfig.service`, `subjects[1]`.
    pub field: String,
    /// For a container port: the container and the port names it declares.
    pub container: Option<ContainerPorts>,
}

/// A container and the names of the ports it declares (`ports[].name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerPorts {
    pub container: String,
    pub declared: Vec<String>,
}

/// What makes two references the same (across an UPDATE, and for the
/// bound): all but the field path, since inserting into a list moves it.
type Key<'a> = (Via, Target, &'a str, &'a str, Option<i32>, Option<&'a str>);

impl Reference {
    fn key(&self) -> Key<'_> {
        (
            self.via,
            self.target,
            &self.namespace,
            &self.name,
            self.port,
            self.container.as_ref().map(|c| c.container.as_str()),
        )
    }
}

/// How a finding weighs: it rejects (as `action` says), or only warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Follows `action`: the cluster fails at once (a webhook that cannot
    /// be called, a Pod that stays Pending, a probe that always fails).
    Deny,
    /// Only warns: the cluster tolerates it, or an installer may create
    /// the object next (the settings `missingGoverningServices`,
    /// `missingScaleTargets` and `missingBindingReferences` turn it into
    /// [`Class::Deny`]).
    Warn,
}

/// What is wrong with one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Nothing of that kind has that name; `closest` is the existing name
    /// nearest to it, if one is close.
    Missing { closest: Option<String> },
    /// The Service exists but exposes none of its ports on `port`;
    /// `ports` are those it exposes.
    MissingPort { ports: Vec<i32> },
    /// The Service exists but is headless (`clusterIP: None`): the API
    /// server's default resolver cannot route a webhook or APIService to
    /// it.
    Headless,
}

/// A dangling reference, with its verdict class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub reference: Reference,
    pub problem: Problem,
    pub class: Class,
}

/// What could not be verified; follows `onLookupError` when a reference
/// it leaves unjudged is of [`Class::Deny`], else only warns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Listing `target` in `namespace` failed with the host's `error`.
    Lookup {
        target: Target,
        namespace: String,
        error: String,
        class: Class,
    },
    /// The object names more than [`MAX_REFERENCES`] objects.
    TooManyReferences { count: usize, class: Class },
    /// The references span more namespaces than `maxNamespacesPerRequest`.
    TooManyNamespaces {
        count: usize,
        max: usize,
        class: Class,
    },
}

impl Failure {
    /// The class of the references it leaves unjudged.
    pub fn class(&self) -> Class {
        match self {
            Failure::Lookup { class, .. }
            | Failure::TooManyReferences { class, .. }
            | Failure::TooManyNamespaces { class, .. } => *class,
        }
    }
}

/// Everything the reference graph found on one object, for `render`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// In the order of the object's fields.
    pub findings: Vec<Finding>,
    pub failures: Vec<Failure>,
}

/// The object under review as the graph needs it.
pub struct Request<'a> {
    pub kind: &'a str,
    pub object: &'a Value<'a>,
    /// The previous object on UPDATE: references it already had are not
    /// judged again.
    pub old_object: Option<&'a Value<'a>>,
    pub namespace: &'a str,
}

/// Extracts, resolves and judges the references of `request`. Errors: a
/// field of the wrong type, worded for a 400 (`webhooks[0].clientConfig
/// is not an object`).
pub fn check(
    request: &Request,
    compiled: &Compiled,
    services: &dyn ServiceSource,
    objects: &dyn ObjectSource,
) -> Result<Report, String> {
    let mut references = extract::references(
        request.kind,
        request.object,
        request.namespace,
        &compiled.settings,
    )?;
    if let Some(old) = request.old_object {
        // an old object that no longer reads adds nothing to compare with
        let before = extract::references(request.kind, old, request.namespace, &compiled.settings)
            .unwrap_or_default();
        // a port the container stops declaring is new damage: a container
        // port is old only if it was dangling before
        let mut old_keys: Vec<Key> = before
            .iter()
            .filter(|b| {
                b.container
                    .as_ref()
                    .is_none_or(|c| !judge::declares(c, &b.name))
            })
            .map(Reference::key)
            .collect();
        // sorted once and searched: linear-logarithmic, whatever the sizes
        old_keys.sort_unstable();
        references.retain(|r| old_keys.binary_search(&r.key()).is_err());
    }
    // The bound is on distinct references: 10,000 webhooks calling one
    // Service cost one lookup and are judged.
    let mut keys: Vec<Key> = references.iter().map(Reference::key).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > MAX_REFERENCES {
        return Ok(Report {
            findings: Vec::new(),
            failures: vec![Failure::TooManyReferences {
                count: keys.len(),
                class: judge::strictest(references.iter(), &compiled.settings),
            }],
        });
    }
    let resolved = resolve::resolve(
        &references,
        compiled.settings.max_namespaces_per_request,
        services,
        objects,
    );
    Ok(judge::judge(&references, &resolved, &compiled.settings))
}

#[cfg(test)]
mod tests;
