//! The wording of the KUBECONFIG check's rejections, warnings and
//! mutation notes.

use super::clip;
use crate::kubeconfig_check::{Finding, Reason, Removed, Unresolved};
use crate::mounts::{FileList, VolumeSource};

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
    let expanded = match (&finding.origin, written) {
        (Some(o), _) => format!(
            " (from ConfigMap {:?}, key {:?}, {})",
            clip(&o.config_map),
            clip(&o.key),
            o.field
        ),
        (None, Some(w)) => format!(" (expanded from {:?})", clip(w)),
        (None, None) => String::new(),
    };
    let subject = format!(
        "{} {:?} ({workload}): {variable} path {:?}{expanded}",
        container_kind.describe(),
        clip(container),
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
        Reason::IsDirectory {
            mount_path,
            volume,
            source,
            item_parent,
            files,
        } => {
            let volume = volume_label(volume, source);
            let what = if *item_parent {
                format!(
                    "is a directory that {volume}, mounted at {:?}, creates for its items",
                    clip(mount_path)
                )
            } else {
                format!(
                    "is the directory where {volume} puts {}",
                    contents(source, files.is_some())
                )
            };
            let suggestion = match files {
                Some(files) if files.total > 0 => {
                    format!("point {variable} at {}", one_of(files))
                }
                Some(_) => format!("it holds no files; {fix}"),
                None => match source {
                    VolumeSource::Secret { .. } | VolumeSource::ConfigMap { .. } => format!(
                        "point {variable} at {:?}, or mount the key with subPath",
                        clip(&join(mount_path, "<key>"))
                    ),
                    _ => format!(
                        "point {variable} at the kubeconfig file inside it ({:?})",
                        clip(&join(mount_path, "<file>"))
                    ),
                },
            };
            format!(
                "{subject} {what}, not a file: client-go fails with \"is a directory\"; {suggestion}"
            )
        }
        Reason::BelowFile {
            mount_path,
            volume,
            source,
        } => {
            let volume = match source {
                VolumeSource::HostPath { type_, .. } => {
                    format!("hostPath volume {:?} of type {}", clip(volume), clip(type_))
                }
                _ => volume_label(volume, source),
            };
            format!(
                "{subject} lies below volumeMount {:?} of {volume}, which is a file, so nothing exists below it; point {variable} at {:?} if that file is the kubeconfig",
                clip(mount_path),
                clip(mount_path)
            )
        }
        Reason::NotProjected {
            mount_path,
            volume,
            source,
            files,
        } => {
            let created = if files.total == 0 {
                "the volume creates no files".to_string()
            } else {
                format!("the volume creates only: {}", listed(files))
            };
            format!(
                "{subject} is inside volumeMount {:?}, but no item of {} creates it, so it will not exist in the container; {created}",
                clip(mount_path),
                volume_label(volume, source)
            )
        }
    }
}

/// `volume "v" (Secret "s")`: the volume and where it comes from.
fn volume_label(volume: &str, source: &VolumeSource) -> String {
    let origin = match source {
        VolumeSource::Secret { name } => format!(" (Secret {:?})", clip(name)),
        VolumeSource::ConfigMap { name } => format!(" (ConfigMap {:?})", clip(name)),
        VolumeSource::Projected => " (projected)".to_string(),
        VolumeSource::DownwardApi => " (downwardAPI)".to_string(),
        VolumeSource::HostPath { path, type_ } if type_.is_empty() => {
            format!(" (hostPath {:?})", clip(path))
        }
        VolumeSource::HostPath { path, type_ } => {
            format!(" (hostPath {:?} of type {})", clip(path), clip(type_))
        }
        VolumeSource::Other => String::new(),
    };
    format!("volume {:?}{origin}", clip(volume))
}

/// What the kubelet writes into a directory volume; `listed` when its items name the files.
fn contents(source: &VolumeSource, listed: bool) -> &'static str {
    match source {
        VolumeSource::Secret { .. } | VolumeSource::ConfigMap { .. } if listed => {
            "the items it lists"
        }
        VolumeSource::Secret { .. } => "the Secret's keys",
        VolumeSource::ConfigMap { .. } => "the ConfigMap's keys",
        VolumeSource::Projected => "the files of its sources",
        VolumeSource::DownwardApi => "the files of its items",
        VolumeSource::HostPath { .. } => "the node directory's files",
        VolumeSource::Other => "its files",
    }
}

/// `"/a"`, or `one of "/a", "/b"` (and how many more).
fn one_of(files: &FileList) -> String {
    if files.total == 1 {
        listed(files)
    } else {
        format!("one of {}", listed(files))
    }
}

/// `"/a", "/b" (and 3 more)`: the shown files, clipped, and how many are left out.
fn listed(files: &FileList) -> String {
    let mut text = files
        .shown
        .iter()
        .map(|f| format!("{:?}", clip(f)))
        .collect::<Vec<_>>()
        .join(", ");
    let more = files.total.saturating_sub(files.shown.len());
    if more > 0 {
        text.push_str(&format!(" (and {more} more)"));
    }
    text
}

/// `name` below the directory `dir`.
fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// The warning for a variable that can only be resolved at runtime.
pub fn describe_unresolved(u: &Unresolved, workload: &str) -> String {
    format!(
        "{} {:?} ({workload}): {} comes from {} and cannot be checked at admission",
        u.container_kind.describe(),
        clip(&u.container),
        u.variable,
        u.source
    )
}

/// The note for a variable removed by `removeOffendingVariables`.
pub fn removed(r: &Removed, workload: &str) -> String {
    format!(
        "{} {:?} ({workload}): removed {}, whose path would not work in the container; the client falls back to the in-cluster ServiceAccount config",
        r.container_kind.describe(),
        clip(&r.container),
        r.variable
    )
}
