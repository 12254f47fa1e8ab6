//! One resolver for every kind of reference: the host is asked once per
//! (kind, namespace) that a reference needs, in the order of [`Target`]
//! then namespace (so that sessions replay), and every reference is
//! answered from those listings. Services come from the Service source
//! (their ports too); every other kind is listed by name only
//! (`metadata.name` field mask); cluster-scoped kinds are listed once.
//! What every cluster has ([`is_built_in`]) is never looked up.

use super::{Reference, Target};
use crate::object_lookup::ObjectSource;
use crate::service_lookup::{ServiceSource, Services};

/// ClusterRoles every cluster has besides the `system:` ones: the
/// user-facing roles the API server bootstraps (RBAC "Default roles and
/// role bindings").
pub const BUILT_IN_CLUSTER_ROLES: &[&str] = &["cluster-admin", "admin", "edit", "view"];
/// Roles of `kube-system` every cluster has besides the `system:` ones.
pub const BUILT_IN_KUBE_SYSTEM_ROLES: &[&str] = &["extension-apiserver-authentication-reader"];

/// Whether every cluster has what `reference` names: the API server's
/// bootstrap ClusterRoles and `kube-system` and `kube-public` Roles, and the `default`
/// ServiceAccount the ServiceAccount controller makes in every namespace.
pub fn is_built_in(reference: &Reference) -> bool {
    let name = reference.name.as_str();
    match reference.target {
        Target::ClusterRole => {
            name.starts_with("system:") || BUILT_IN_CLUSTER_ROLES.contains(&name)
        }
        // the bootstrap Roles of kube-system and kube-public
        // (`system:controller:bootstrap-signer` is in both)
        Target::Role => match reference.namespace.as_str() {
            "kube-system" => {
                name.starts_with("system:") || BUILT_IN_KUBE_SYSTEM_ROLES.contains(&name)
            }
            "kube-public" => name.starts_with("system:"),
            _ => false,
        },
        Target::ServiceAccount => name == "default",
        _ => false,
    }
}

/// What the host answered for one (kind, namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    Services(Services),
    /// Sorted names.
    Names(Vec<String>),
}

/// The host's answers to the lookups the references needed.
#[derive(Debug, Default)]
pub struct Resolution {
    /// (kind, namespace) → listing or the host's error, in call order.
    pub answers: Vec<((Target, String), Result<Listing, String>)>,
    /// More namespaces than allowed: (how many, the bound). Nothing was
    /// looked up.
    pub too_many_namespaces: Option<(usize, usize)>,
}

impl Resolution {
    /// The answer for `reference`'s kind and namespace, if it was asked.
    pub fn answer(&self, reference: &Reference) -> Option<&Result<Listing, String>> {
        self.answers
            .iter()
            .find(|((t, ns), _)| *t == reference.target && *ns == reference.namespace)
            .map(|(_, a)| a)
    }
}

/// Asks the host for what `references` need: one call per distinct
/// (kind, namespace), none for container ports and built-ins, none at
/// all when the references span more than `max_namespaces` namespaces.
pub fn resolve(
    references: &[Reference],
    max_namespaces: usize,
    services: &dyn ServiceSource,
    objects: &dyn ObjectSource,
) -> Resolution {
    // Sorted vectors filled by insertion rather than sets or sorts: every
    // collection type and sort routine instantiated grows the wasm that
    // ships to every cluster, and there are a handful of keys.
    let mut lookups: Vec<(Target, &str)> = Vec::new();
    let mut namespaces: Vec<&str> = Vec::new();
    for r in references {
        if r.target == Target::ContainerPort || is_built_in(r) {
            continue;
        }
        let key = (r.target, r.namespace.as_str());
        if let Err(at) = lookups.binary_search(&key) {
            lookups.insert(at, key);
        }
        if !r.target.is_cluster_scoped()
            && let Err(at) = namespaces.binary_search(&key.1)
        {
            namespaces.insert(at, key.1);
        }
    }
    if namespaces.len() > max_namespaces {
        return Resolution {
            answers: Vec::new(),
            too_many_namespaces: Some((namespaces.len(), max_namespaces)),
        };
    }
    let answers = lookups
        .into_iter()
        .map(|(target, namespace)| {
            let answer = match target {
                Target::Service => services.services_in(namespace).map(Listing::Services),
                _ => objects
                    .object_names(target.api_version(), target.kind(), namespace)
                    .map(Listing::Names),
            };
            ((target, namespace.to_string()), answer)
        })
        .collect();
    Resolution {
        answers,
        too_many_namespaces: None,
    }
}
