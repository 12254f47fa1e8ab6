//! The wording of the KUBECONFIG check's rejections, warnings and
//! mutation notes.

use crate::kubeconfig_check::{Finding, Reason, Unresolved};
use crate::workload::ContainerKind;

/// The rejection text for one finding; `workload` reads like "Deployment ns/name".
pub fn describe(finding: &Finding, workload: &str) -> String {
    let Finding {
        container_kind,
        container,
        variable,
        written,
        path,
        reason,
        ..
    } = finding;
    let expanded = written
        .as_ref()
        .map(|w| format!(" (expanded from {:?})", clip(w)))
        .unwrap_or_default();
    let subject = format!(
        "{} {container:?} ({workload}): {variable} path {:?}{expanded}",
        container_kind.describe(),
        clip(path)
    );
    let fix = format!(
        "remove {variable} to use the in-cluster ServiceAccount config, or mount the kubeconfig from a Secret"
    );
    match reason {
        Reason::NotMounted => format!(
            "{subject} is not inside any volumeMount, so it will not exist in the container; {fix}"
        ),
        Reason::NotAbsolute => format!(
            "{subject} is not an absolute path, so it depends on the working directory and is not inside any volumeMount; {fix} and use its absolute path"
        ),
        Reason::WindowsPath => {
            format!("{subject} is a Windows path, which never exists in a Linux container; {fix}")
        }
        Reason::HostPath {
            mount_path,
            volume,
            host_path,
        } => format!(
            "{subject} is inside volumeMount {:?} of hostPath volume {volume:?} (node path {:?}), which injects the node's credentials into the container; mount the kubeconfig from a Secret instead, or remove {variable} to use the in-cluster ServiceAccount config",
            clip(mount_path),
            clip(host_path)
        ),
    }
}

/// Longer values are cut in messages: a hostile object must not make the
/// response larger than the request.
pub const MAX_QUOTED: usize = 256;

pub fn clip(s: &str) -> String {
    if s.len() <= MAX_QUOTED {
        return s.to_string();
    }
    let mut cut = MAX_QUOTED;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes)", &s[..cut], s.len())
}

/// The warning for a variable that can only be resolved at runtime.
pub fn describe_unresolved(u: &Unresolved, workload: &str) -> String {
    format!(
        "{} {:?} ({workload}): {} comes from {} and cannot be checked at admission",
        u.container_kind.describe(),
        u.container,
        u.variable,
        u.source
    )
}

/// The note for a variable removed by `removeOffendingVariables`.
pub fn removed(kind: ContainerKind, container: &str, variable: &str, workload: &str) -> String {
    format!(
        "{} {container:?} ({workload}): removed {variable}, whose path would not work in the container; the client falls back to the in-cluster ServiceAccount config",
        kind.describe()
    )
}
