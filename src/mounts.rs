//! What a container's volumeMounts make exist, and at which paths, as the
//! kubelet sets them up:
//!
//! - a volume mounted whole is a directory at its mountPath, except a
//!   `hostPath` of type `File`, `FileOrCreate`, `Socket`, `CharDevice` or
//!   `BlockDevice`, which is a file (and a `hostPath` without a type, which
//!   may be either);
//! - a `subPath`/`subPathExpr` mount shows one file or directory of the
//!   volume at its mountPath: which of the two is unknown at admission, so
//!   anything at or below it may exist;
//! - `secret`, `configMap`, `downwardAPI` and `projected` volumes are written
//!   by the kubelet's AtomicWriter: when their items (or projections) name
//!   the files, exactly those files exist, with their parent directories, and
//!   every top-level entry is also reachable through the `..data` directory.
//!   A Secret or ConfigMap without items writes one file per key, which is
//!   unknown at admission (Secrets are never read);
//! - every other volume (emptyDir, persistentVolumeClaim, ephemeral, csi,
//!   image, nfs...) is a directory whose content is unknown at admission.

use crate::workload::{
    ContainerView, HostPathView, KeyToPathView, PodSpecView, ProjectionView, VolumeView,
};

/// At most this many files are named in a [`FileList`].
pub const MAX_LISTED: usize = 10;

/// The AtomicWriter's directory through which every written file is also reachable.
const DATA_DIR: &str = "..data";

/// Where a mounted volume comes from, as messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// `secret` volume of Secret `name`.
    Secret { name: String },
    /// `configMap` volume of ConfigMap `name`.
    ConfigMap { name: String },
    /// `projected` volume.
    Projected,
    /// `downwardAPI` volume.
    DownwardApi,
    /// `hostPath` volume of node path `path`; `type_` is "" when unset.
    HostPath { path: String, type_: String },
    /// emptyDir, persistentVolumeClaim, csi... or a volume the Pod does not declare.
    Other,
}

/// What a whole-volume mount puts at its mountPath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A file or a directory: subPath mounts, `hostPath` without a type,
    /// volumes the Pod does not declare. Anything at or below it may exist.
    Unknown,
    /// A file (`hostPath` of a file type): nothing exists below it.
    File,
    /// A directory whose entries are unknown at admission.
    Directory,
    /// A directory holding exactly these files (relative, cleaned paths,
    /// sorted, each once) and their parent directories (AtomicWriter with
    /// items).
    Files(Vec<String>),
}

/// One volumeMount of a container, resolved against the Pod's volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The mountPath, lexically cleaned (see [`clean_path`]).
    pub mount_path: String,
    /// The volume's name.
    pub volume: String,
    /// Where the volume comes from.
    pub source: VolumeSource,
    /// What the mount puts at `mount_path`.
    pub shape: Shape,
    /// A `subPath`/`subPathExpr` mount: one file or directory of the
    /// volume, so anything at or below `mount_path` may exist.
    pub sub_path: bool,
}

/// Some of the files a volume creates (absolute paths, in path order), at
/// most [`MAX_LISTED`], and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileList {
    pub shown: Vec<String>,
    pub total: usize,
}

/// What exists at a path, seen through the mount that covers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A file, or something that may be one.
    MayBeFile,
    /// A directory: the mount itself (`item_parent` false) or a directory
    /// the volume creates for nested items (`item_parent` true). `files` are
    /// the files below it when the volume lists them.
    Directory {
        item_parent: bool,
        files: Option<FileList>,
    },
    /// Below a file mount: nothing exists there.
    BelowFile,
    /// Below a volume whose items list its files, none of which is the path
    /// or lies below it; `files` are the files the volume creates.
    NotCreated { files: FileList },
}

/// The mounts of one container.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    mounts: Vec<Mount>,
}

impl Mounts {
    /// Resolves every volumeMount of `container` against the volumes of `spec`.
    pub fn of(container: &ContainerView, spec: &PodSpecView) -> Mounts {
        let mounts = container
            .volume_mounts
            .iter()
            .map(|m| {
                let volume = spec.volume(&m.name);
                let sub_path = m.has_sub_path();
                let (source, shape) = describe_volume(volume);
                Mount {
                    mount_path: clean_path(&m.mount_path),
                    volume: m.name.clone(),
                    source,
                    // A subPath shows one entry of the volume, file or directory.
                    shape: if sub_path { Shape::Unknown } else { shape },
                    sub_path,
                }
            })
            .collect();
        Mounts { mounts }
    }

    /// The deepest mount covering `path` (absolute and cleaned, see
    /// [`clean_path`]) and what exists at `path` through it; `None` when no
    /// mount covers it.
    pub fn lookup(&self, path: &str) -> Option<(&Mount, Entry)> {
        let mount = self
            .mounts
            .iter()
            .filter(|m| m.covers(path))
            .max_by_key(|m| m.mount_path.len())?;
        Some((mount, mount.entry(path)))
    }
}

impl Mount {
    /// True when `path` (cleaned) is this mount's path or lies below it.
    pub fn covers(&self, path: &str) -> bool {
        // A subPath may name a file or a directory of the volume (one
        // PersistentVolumeClaim shared through per-app subPath directories
        // is common): its shape is unknown, so it covers what lies below too.
        is_within(path, &self.mount_path)
    }

    /// What exists at `path` (cleaned, covered by this mount).
    pub fn entry(&self, path: &str) -> Entry {
        let rel = relative(path, &self.mount_path);
        match &self.shape {
            Shape::Unknown => Entry::MayBeFile,
            Shape::File if rel.is_empty() => Entry::MayBeFile,
            Shape::File => Entry::BelowFile,
            Shape::Directory if rel.is_empty() => Entry::Directory {
                item_parent: false,
                files: None,
            },
            Shape::Directory => Entry::MayBeFile,
            Shape::Files(files) => self.entry_in(files, rel),
        }
    }

    /// `rel` inside an AtomicWriter directory holding exactly `files`.
    fn entry_in(&self, files: &[String], rel: &str) -> Entry {
        // `..data/x` is the same entry as `x`.
        let rel = match rel.strip_prefix(DATA_DIR) {
            Some("") => "",
            Some(rest) if rest.starts_with('/') => &rest[1..],
            _ => rel,
        };
        if rel.is_empty() {
            return Entry::Directory {
                item_parent: false,
                files: Some(self.list(files.iter())),
            };
        }
        if files.binary_search_by(|f| f.as_str().cmp(rel)).is_ok() {
            return Entry::MayBeFile;
        }
        let prefix = format!("{rel}/");
        let first = files.partition_point(|f| f.as_str() < prefix.as_str());
        let mut below = files[first..]
            .iter()
            .take_while(|f| f.starts_with(&prefix))
            .peekable();
        if below.peek().is_some() {
            return Entry::Directory {
                item_parent: true,
                files: Some(self.list(below)),
            };
        }
        Entry::NotCreated {
            files: self.list(files.iter()),
        }
    }

    /// The first [`MAX_LISTED`] of `files` joined onto the mountPath, and their count.
    fn list<'a>(&self, files: impl Iterator<Item = &'a String>) -> FileList {
        let mut list = FileList::default();
        for f in files {
            if list.shown.len() < MAX_LISTED {
                list.shown.push(join(&self.mount_path, f));
            }
            list.total += 1;
        }
        list
    }
}

/// The source of `volume` and what mounting it whole puts at the mountPath
/// (kubelet volume semantics; AtomicWriter for items and projections).
fn describe_volume(volume: Option<&VolumeView>) -> (VolumeSource, Shape) {
    let Some(volume) = volume else {
        return (VolumeSource::Other, Shape::Unknown);
    };
    if let Some(host) = &volume.host_path {
        return (
            VolumeSource::HostPath {
                path: host.path.clone(),
                type_: host.type_.clone().unwrap_or_default(),
            },
            host_path_shape(host),
        );
    }
    if let Some(secret) = &volume.secret {
        let mut files = Some(Vec::new());
        add_items(&mut files, secret.items.as_deref());
        return (
            VolumeSource::Secret {
                name: secret.name.clone(),
            },
            files_shape(files),
        );
    }
    if let Some(config_map) = &volume.config_map {
        let mut files = Some(Vec::new());
        add_items(&mut files, config_map.items.as_deref());
        return (
            VolumeSource::ConfigMap {
                name: config_map.name.clone(),
            },
            files_shape(files),
        );
    }
    if let Some(downward) = &volume.downward_api {
        let mut files = Some(Vec::new());
        add_paths(&mut files, downward.items.iter().map(|i| i.path.as_str()));
        return (VolumeSource::DownwardApi, files_shape(files));
    }
    if let Some(projected) = &volume.projected {
        let mut files = Some(Vec::new());
        for source in &projected.sources {
            add_projection(&mut files, source);
        }
        return (VolumeSource::Projected, files_shape(files));
    }
    (VolumeSource::Other, Shape::Directory)
}

/// `hostPath` types that are files; `Directory`/`DirectoryOrCreate` are
/// directories; no type (or an unknown one) may be either.
fn host_path_shape(host: &HostPathView) -> Shape {
    match host.type_.as_deref().unwrap_or_default() {
        "File" | "FileOrCreate" | "Socket" | "CharDevice" | "BlockDevice" => Shape::File,
        "Directory" | "DirectoryOrCreate" => Shape::Directory,
        _ => Shape::Unknown,
    }
}

/// `None` (any name possible) is an unknown directory.
fn files_shape(files: Option<Vec<String>>) -> Shape {
    files.map_or(Shape::Directory, |mut files| {
        files.sort_unstable();
        files.dedup();
        Shape::Files(files)
    })
}

/// Adds the files one projected source writes; `files` becomes `None` when
/// any name is possible.
fn add_projection(files: &mut Option<Vec<String>>, source: &ProjectionView) {
    if let Some(secret) = &source.secret {
        add_items(files, secret.items.as_deref());
    } else if let Some(config_map) = &source.config_map {
        add_items(files, config_map.items.as_deref());
    } else if let Some(downward) = &source.downward_api {
        add_paths(files, downward.items.iter().map(|i| i.path.as_str()));
    } else if let Some(token) = &source.service_account_token {
        add_paths(files, [token.path.as_str()]);
    } else if let Some(bundle) = &source.cluster_trust_bundle {
        add_paths(files, [bundle.path.as_str()]);
    } else if let Some(cert) = &source.pod_certificate {
        let named = [
            &cert.credential_bundle_path,
            &cert.key_path,
            &cert.certificate_chain_path,
        ];
        add_paths(files, named.into_iter().flatten().map(String::as_str));
    } else {
        // A projection this policy does not know may write any name.
        *files = None;
    }
}

/// The files of a Secret or ConfigMap source: its items, or (without items,
/// or with an empty list) one file per key, unknown at admission.
fn add_items(files: &mut Option<Vec<String>>, items: Option<&[KeyToPathView]>) {
    match items {
        Some(items) if !items.is_empty() => add_paths(files, items.iter().map(|i| i.path.as_str())),
        _ => *files = None,
    }
}

/// Adds relative file paths, cleaned; empty ones are skipped.
fn add_paths<'a>(files: &mut Option<Vec<String>>, paths: impl IntoIterator<Item = &'a str>) {
    let Some(files) = files else { return };
    for path in paths {
        let cleaned = clean_path(path);
        if cleaned != "/" {
            files.push(cleaned[1..].to_string());
        }
    }
}

/// `path` relative to `base` (which covers it): "" when equal.
fn relative<'a>(path: &'a str, base: &str) -> &'a str {
    if base == "/" {
        path.trim_start_matches('/')
    } else {
        path.get(base.len()..)
            .unwrap_or_default()
            .trim_start_matches('/')
    }
}

/// `rel` below the absolute directory `dir`.
fn join(dir: &str, rel: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{rel}")
    } else {
        format!("{dir}/{rel}")
    }
}

/// True when `path` is `base` or below it, on a path-component boundary.
pub fn is_within(path: &str, base: &str) -> bool {
    base == "/"
        || path == base
        || (path.len() > base.len()
            && path.starts_with(base)
            && path.as_bytes()[base.len()] == b'/')
}

/// Lexically cleans a path into an absolute one: no `.`, `..`, repeated or
/// trailing `/` (a relative path is read from `/`).
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut cleaned = String::with_capacity(path.len());
    for p in &parts {
        cleaned.push('/');
        cleaned.push_str(p);
    }
    if cleaned.is_empty() {
        cleaned.push('/');
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::read_pod_spec_of_json as read_pod_spec;
    use rstest::rstest;
    use serde_json::{Value, json};

    /// The mounts of a Pod's only container.
    fn mounts(mounts: Value, volumes: Value) -> Mounts {
        let spec = read_pod_spec(
            "Pod",
            &json!({"spec": {"containers": [{"name": "app", "volumeMounts": mounts}], "volumes": volumes}}),
        )
        .unwrap();
        Mounts::of(&spec.containers[0], &spec)
    }

    /// What exists at `path` with `volume` mounted whole at `/m`.
    fn at(path: &str, volume: Value) -> Option<Entry> {
        let mut volume = volume;
        volume["name"] = json!("v");
        mounts(json!([{"name": "v", "mountPath": "/m"}]), json!([volume]))
            .lookup(&clean_path(path))
            .map(|(_, entry)| entry)
    }

    fn files(shown: &[&str], total: usize) -> FileList {
        FileList {
            shown: shown.iter().map(|s| s.to_string()).collect(),
            total,
        }
    }

    fn dir(files: Option<FileList>) -> Option<Entry> {
        Some(Entry::Directory {
            item_parent: false,
            files,
        })
    }

    fn item_dir(files: FileList) -> Option<Entry> {
        Some(Entry::Directory {
            item_parent: true,
            files: Some(files),
        })
    }

    fn not_created(files: FileList) -> Option<Entry> {
        Some(Entry::NotCreated { files })
    }

    const FILE: Option<Entry> = Some(Entry::MayBeFile);

    #[rstest]
    // Secret / ConfigMap without items: one file per key, names unknown.
    #[case::secret_equal("/m", json!({"secret": {"secretName": "s"}}), dir(None))]
    #[case::secret_below("/m/config", json!({"secret": {"secretName": "s"}}), FILE)]
    #[case::secret_empty_items_below("/m/x", json!({"secret": {"secretName": "s", "items": []}}), FILE)]
    #[case::config_map_equal("/m", json!({"configMap": {"name": "c"}}), dir(None))]
    // Items decide which files exist.
    #[case::items_listed("/m/kube/config", json!({"configMap": {"name": "c", "items": [
        {"key": "k", "path": "kube/config"}, {"key": "ca", "path": "ca.crt"}]}}), FILE)]
    #[case::items_not_listed("/m/config", json!({"configMap": {"name": "c", "items": [
        {"key": "k", "path": "kube/config"}, {"key": "ca", "path": "ca.crt"}]}}),
        not_created(files(&["/m/ca.crt", "/m/kube/config"], 2)))]
    #[case::items_parent_dir("/m/kube", json!({"configMap": {"name": "c", "items": [
        {"key": "k", "path": "kube/config"}, {"key": "ca", "path": "ca.crt"}]}}),
        item_dir(files(&["/m/kube/config"], 1)))]
    #[case::items_equal("/m", json!({"secret": {"secretName": "s", "items": [{"key": "k", "path": "config"}]}}),
        dir(Some(files(&["/m/config"], 1))))]
    #[case::items_below_a_file("/m/config/x", json!({"secret": {"secretName": "s", "items": [{"key": "k", "path": "config"}]}}),
        not_created(files(&["/m/config"], 1)))]
    #[case::items_component_boundary("/m/kubex", json!({"secret": {"secretName": "s", "items": [{"key": "k", "path": "kube/config"}]}}),
        not_created(files(&["/m/kube/config"], 1)))]
    #[case::items_uncleaned_path("/m/a/b", json!({"secret": {"secretName": "s", "items": [{"key": "k", "path": "./a//b/"}]}}), FILE)]
    #[case::items_through_data_dir("/m/..data/config", json!({"secret": {"secretName": "s", "items": [{"key": "k", "path": "config"}]}}), FILE)]
    #[case::data_dir_is_a_directory("/m/..data", json!({"secret": {"secretName": "s", "items": [{"key": "k", "path": "config"}]}}),
        dir(Some(files(&["/m/config"], 1))))]
    // downwardAPI volumes list their files.
    #[case::downward_listed("/m/meta/labels", json!({"downwardAPI": {"items": [{"path": "meta/labels"}]}}), FILE)]
    #[case::downward_not_listed("/m/config", json!({"downwardAPI": {"items": [{"path": "meta/labels"}]}}),
        not_created(files(&["/m/meta/labels"], 1)))]
    #[case::downward_no_items("/m/config", json!({"downwardAPI": {}}), not_created(files(&[], 0)))]
    // Projected volumes: the union of their sources.
    #[case::projected_token("/m/token", json!({"projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}, {"configMap": {"name": "c", "items": [{"key": "k", "path": "config"}]}}]}}), FILE)]
    #[case::projected_item("/m/config", json!({"projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}, {"configMap": {"name": "c", "items": [{"key": "k", "path": "config"}]}}]}}), FILE)]
    #[case::projected_other("/m/kubeconfig", json!({"projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}, {"configMap": {"name": "c", "items": [{"key": "k", "path": "config"}]}}]}}),
        not_created(files(&["/m/config", "/m/token"], 2)))]
    #[case::projected_open_secret("/m/anything", json!({"projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}, {"secret": {"name": "s"}}]}}), FILE)]
    #[case::projected_open_equal("/m", json!({"projected": {"sources": [{"secret": {"name": "s"}}]}}), dir(None))]
    #[case::projected_downward_and_bundle("/m/ca.pem", json!({"projected": {"sources": [
        {"downwardAPI": {"items": [{"path": "labels"}]}}, {"clusterTrustBundle": {"path": "ca.pem"}}]}}), FILE)]
    #[case::projected_pod_certificate("/m/x", json!({"projected": {"sources": [
        {"podCertificate": {"keyPath": "tls.key", "certificateChainPath": "tls.crt"}}]}}),
        not_created(files(&["/m/tls.crt", "/m/tls.key"], 2)))]
    #[case::projected_unknown_source("/m/x", json!({"projected": {"sources": [{"futureSource": {}}]}}), FILE)]
    // hostPath: the type decides.
    #[case::host_file_equal("/m", json!({"hostPath": {"path": "/etc/k.conf", "type": "File"}}), FILE)]
    #[case::host_file_below("/m/x", json!({"hostPath": {"path": "/etc/k.conf", "type": "FileOrCreate"}}), Some(Entry::BelowFile))]
    #[case::host_socket_below("/m/x", json!({"hostPath": {"path": "/run/s", "type": "Socket"}}), Some(Entry::BelowFile))]
    #[case::host_dir_equal("/m", json!({"hostPath": {"path": "/etc/k", "type": "Directory"}}), dir(None))]
    #[case::host_dir_below("/m/x", json!({"hostPath": {"path": "/etc/k", "type": "DirectoryOrCreate"}}), FILE)]
    #[case::host_untyped_equal("/m", json!({"hostPath": {"path": "/etc/k"}}), FILE)]
    #[case::host_empty_type_below("/m/x", json!({"hostPath": {"path": "/etc/k", "type": ""}}), FILE)]
    // Everything else is a directory of unknown content.
    #[case::empty_dir_equal("/m", json!({"emptyDir": {}}), dir(None))]
    #[case::empty_dir_below("/m/x/y", json!({"emptyDir": {}}), FILE)]
    #[case::pvc_equal("/m", json!({"persistentVolumeClaim": {"claimName": "c"}}), dir(None))]
    #[case::outside("/n/x", json!({"emptyDir": {}}), None)]
    fn entries(#[case] path: &str, #[case] volume: Value, #[case] expected: Option<Entry>) {
        assert_eq!(at(path, volume), expected);
    }

    #[test]
    fn sub_path_may_be_a_file_or_a_directory() {
        let m = mounts(
            json!([{"name": "s", "mountPath": "/etc/kube/config", "subPath": "config"}]),
            json!([{"name": "s", "secret": {"secretName": "s"}}]),
        );
        let (mount, entry) = m.lookup("/etc/kube/config").unwrap();
        assert_eq!((mount.sub_path, entry), (true, Entry::MayBeFile));
        let (_, below) = m.lookup("/etc/kube/config/x").unwrap();
        assert_eq!(below, Entry::MayBeFile);
    }

    #[test]
    fn the_deepest_mount_wins() {
        let m = mounts(
            json!([{"name": "dir", "mountPath": "/a"}, {"name": "cm", "mountPath": "/a/b/"},
                   {"name": "one", "mountPath": "/a/b/c", "subPathExpr": "$(POD)"}]),
            json!([{"name": "dir", "emptyDir": {}},
                   {"name": "cm", "configMap": {"name": "c", "items": [{"key": "k", "path": "f"}]}},
                   {"name": "one", "emptyDir": {}}]),
        );
        assert_eq!(m.lookup("/a/b/f").unwrap().0.volume, "cm");
        assert_eq!(m.lookup("/a/b/c").unwrap().0.volume, "one");
        assert_eq!(m.lookup("/a/x").unwrap().0.volume, "dir");
        let (mount, entry) = m.lookup("/a/b/c/d").unwrap();
        assert_eq!((mount.volume.as_str(), entry), ("one", Entry::MayBeFile));
        let (mount, entry) = m.lookup("/a/b/g").unwrap();
        assert_eq!(mount.volume, "cm");
        assert!(matches!(entry, Entry::NotCreated { .. }));
    }

    #[test]
    fn sources_are_named() {
        let m = mounts(
            json!([{"name": "s", "mountPath": "/s"}, {"name": "h", "mountPath": "/h", "subPath": "x"},
                   {"name": "undeclared", "mountPath": "/u"}]),
            json!([{"name": "s", "secret": {"secretName": "kc"}},
                   {"name": "h", "hostPath": {"path": "/node", "type": "File"}}]),
        );
        let (s, _) = m.lookup("/s").unwrap();
        assert_eq!(s.source, VolumeSource::Secret { name: "kc".into() });
        // A subPath of any volume is a file or a directory; the source is kept.
        let (h, entry) = m.lookup("/h").unwrap();
        assert_eq!(
            (&h.source, &h.shape, entry),
            (
                &VolumeSource::HostPath {
                    path: "/node".into(),
                    type_: "File".into()
                },
                &Shape::Unknown,
                Entry::MayBeFile
            )
        );
        let (u, entry) = m.lookup("/u").unwrap();
        assert_eq!((&u.source, entry), (&VolumeSource::Other, Entry::MayBeFile));
    }

    #[test]
    fn root_mount() {
        let m = mounts(
            json!([{"name": "cm", "mountPath": "/"}]),
            json!([{"name": "cm", "configMap": {"name": "c", "items": [{"key": "k", "path": "etc/config"}]}}]),
        );
        assert_eq!(m.lookup("/etc/config").unwrap().1, Entry::MayBeFile);
        assert_eq!(
            m.lookup("/etc").unwrap().1,
            Entry::Directory {
                item_parent: true,
                files: Some(files(&["/etc/config"], 1))
            }
        );
    }

    #[test]
    fn listed_files_are_bounded() {
        let items: Vec<Value> = (0..25)
            .map(|i| json!({"key": "k", "path": format!("f{i:02}")}))
            .collect();
        let entry = at(
            "/m/nope",
            json!({"secret": {"secretName": "s", "items": items}}),
        );
        let Some(Entry::NotCreated { files }) = entry else {
            panic!("{entry:?}")
        };
        assert_eq!(files.total, 25);
        assert_eq!(files.shown.len(), MAX_LISTED);
        assert_eq!(files.shown[0], "/m/f00");
    }

    #[rstest]
    #[case("/a/b", "/a/b")]
    #[case("/a//b/", "/a/b")]
    #[case("/a/./b/../c", "/a/c")]
    #[case("/..", "/")]
    #[case("", "/")]
    #[case("a/b", "/a/b")]
    fn cleans_paths(#[case] path: &str, #[case] cleaned: &str) {
        assert_eq!(clean_path(path), cleaned);
    }

    #[rstest]
    #[case("/a/b", "/a", true)]
    #[case("/a", "/a", true)]
    #[case("/ab", "/a", false)]
    #[case("/x", "/", true)]
    fn within(#[case] path: &str, #[case] base: &str, #[case] expected: bool) {
        assert_eq!(is_within(path, base), expected);
    }
}
