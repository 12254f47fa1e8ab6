//! `$(VAR)` expansion and the KUBECONFIG path judgement, on structured
//! containers (env, envFrom of ConfigMaps that exist, are missing or were
//! not read, Secrets, volumes of every shape, allowed paths). Invariants:
//! every value the policy knows equals the kubelet model's
//! (`tests/support/kubelet.rs`); a value is unresolved only when it depends
//! on what cannot be known or outgrows `MAX_EXPANDED`; every finding names
//! one entry of the value's path list; every other entry is a file some
//! mount (or an allowed path) can provide, never through a hostPath unless
//! allowed; path cleaning is idempotent; Windows pods are never judged.

#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use dangling_references_policy::env_expansion::{
    ConfigMapState, EffectiveValue, MAX_EXPANDED, effective_env,
};
use dangling_references_policy::kubeconfig_check::{Reason, check_with};
use dangling_references_policy::mounts::{Entry, Mounts, VolumeSource, clean_path, is_within};
use dangling_references_policy::object_lookup::ConfigMapData;
use dangling_references_policy::settings::Settings;
use dangling_references_policy::workload::read_pod_spec;
use dangling_references_policy_fuzz::kubelet;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[derive(Arbitrary, Debug, Clone)]
enum Name {
    Kubeconfig,
    Home,
    A,
    B,
    Raw(String),
}

impl Name {
    fn text(&self) -> String {
        match self {
            Name::Kubeconfig => "KUBECONFIG".into(),
            Name::Home => "HOME".into(),
            Name::A => "A".into(),
            Name::B => "B".into(),
            Name::Raw(s) => s.chars().take(12).collect(),
        }
    }
}

const WORDS: &[&str] = &[
    "etc", "kube", "config", "var", "run", "..data", "root", ".kube", "token", "k",
];

#[derive(Arbitrary, Debug, Clone)]
enum Piece {
    Slash,
    Dot,
    DotDot,
    Word(u8),
    Ref(Name),
    Escaped,
    Dollar,
    Open,
    Close,
    Colon,
    Semicolon,
    Raw(String),
}

fn text(pieces: &[Piece]) -> String {
    let mut s = String::new();
    for p in pieces.iter().take(24) {
        match p {
            Piece::Slash => s.push('/'),
            Piece::Dot => s.push('.'),
            Piece::DotDot => s.push_str(".."),
            Piece::Word(w) => s.push_str(WORDS[*w as usize % WORDS.len()]),
            Piece::Ref(n) => s.push_str(&format!("$({})", n.text())),
            Piece::Escaped => s.push_str("$$"),
            Piece::Dollar => s.push('$'),
            Piece::Open => s.push('('),
            Piece::Close => s.push(')'),
            Piece::Colon => s.push(':'),
            Piece::Semicolon => s.push(';'),
            Piece::Raw(r) => s.extend(r.chars().take(8)),
        }
    }
    s
}

#[derive(Arbitrary, Debug)]
enum Source {
    Value(Vec<Piece>),
    Empty,
    ConfigMapKey { config_map: u8, key: Name },
    Secret,
    FieldRef,
}

#[derive(Arbitrary, Debug)]
struct EnvEntry {
    name: Name,
    source: Source,
}

#[derive(Arbitrary, Debug)]
struct EnvFromEntry {
    prefix: Option<Name>,
    /// 0..=2 exist or are missing, 3 was not read; `None`: a Secret.
    config_map: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Item {
    key: Name,
    path: Vec<Piece>,
}

#[derive(Arbitrary, Debug)]
enum VolumeKind {
    Secret(Option<Vec<Item>>),
    ConfigMap(Option<Vec<Item>>),
    HostPath(Vec<Piece>, u8),
    EmptyDir,
    Projected(Vec<Option<Vec<Item>>>, Option<Vec<Piece>>),
    DownwardApi(Vec<Vec<Piece>>),
}

#[derive(Arbitrary, Debug)]
struct MountIn {
    volume: u8,
    path: Vec<Piece>,
    sub_path: bool,
}

#[derive(Arbitrary, Debug)]
struct Input {
    env_from: Vec<EnvFromEntry>,
    env: Vec<EnvEntry>,
    mounts: Vec<MountIn>,
    volumes: Vec<VolumeKind>,
    /// ConfigMaps cm0..cm2: `None` does not exist.
    config_maps: [Option<Vec<(Name, Vec<Piece>)>>; 3],
    allowed_paths: Vec<Vec<Piece>>,
    allow_host_path: bool,
    windows: bool,
}

const HOST_PATH_TYPES: &[&str] = &["", "File", "Directory", "FileOrCreate", "Socket", "Other"];

fn items(items: &Option<Vec<Item>>) -> Value {
    match items {
        None => Value::Null,
        Some(items) => items
            .iter()
            .take(6)
            .map(|i| json!({"key": i.key.text(), "path": text(&i.path)}))
            .collect(),
    }
}

fn volume(i: usize, kind: &VolumeKind) -> Value {
    let name = format!("v{i}");
    match kind {
        VolumeKind::Secret(it) => {
            json!({"name": name, "secret": {"secretName": "s", "items": items(it)}})
        }
        VolumeKind::ConfigMap(it) => {
            json!({"name": name, "configMap": {"name": "cm0", "items": items(it)}})
        }
        VolumeKind::HostPath(path, t) => {
            let t = HOST_PATH_TYPES[*t as usize % HOST_PATH_TYPES.len()];
            json!({"name": name, "hostPath": {"path": text(path), "type": t}})
        }
        VolumeKind::EmptyDir => json!({"name": name, "emptyDir": {}}),
        VolumeKind::Projected(sources, token) => {
            let mut list: Vec<Value> = sources
                .iter()
                .take(3)
                .map(|it| json!({"configMap": {"name": "cm1", "items": items(it)}}))
                .collect();
            if let Some(token) = token {
                list.push(json!({"serviceAccountToken": {"path": text(token)}}));
            }
            json!({"name": name, "projected": {"sources": list}})
        }
        VolumeKind::DownwardApi(paths) => json!({"name": name, "downwardAPI": {"items":
            paths.iter().take(4).map(|p| json!({"path": text(p), "fieldRef": {"fieldPath": "metadata.name"}})).collect::<Vec<_>>()}}),
    }
}

fn config_map_name(i: u8) -> String {
    format!("cm{}", i % 4)
}

fuzz_target!(|input: Input| {
    let env: Vec<&EnvEntry> = input.env.iter().take(12).collect();
    let env_from: Vec<&EnvFromEntry> = input.env_from.iter().take(4).collect();
    let env_json: Vec<Value> = env
        .iter()
        .map(|e| match &e.source {
            Source::Value(v) => json!({"name": e.name.text(), "value": text(v)}),
            Source::Empty => json!({"name": e.name.text()}),
            Source::ConfigMapKey { config_map, key } => json!({"name": e.name.text(), "valueFrom":
                {"configMapKeyRef": {"name": config_map_name(*config_map), "key": key.text(), "optional": true}}}),
            Source::Secret => json!({"name": e.name.text(), "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}),
            Source::FieldRef => json!({"name": e.name.text(), "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
        })
        .collect();
    let env_from_json: Vec<Value> = env_from
        .iter()
        .map(|f| {
            let mut entry = match f.config_map {
                Some(i) => json!({"configMapRef": {"name": config_map_name(i), "optional": true}}),
                None => json!({"secretRef": {"name": "s"}}),
            };
            if let Some(prefix) = &f.prefix {
                entry["prefix"] = json!(prefix.text());
            }
            entry
        })
        .collect();
    let volumes: Vec<Value> = input
        .volumes
        .iter()
        .take(6)
        .enumerate()
        .map(|(i, v)| volume(i, v))
        .collect();
    let mounts: Vec<Value> = input
        .mounts
        .iter()
        .take(6)
        .map(|m| {
            let mut mount =
                json!({"name": format!("v{}", m.volume % 7), "mountPath": text(&m.path)});
            if m.sub_path {
                mount["subPath"] = json!("kubeconfig");
            }
            mount
        })
        .collect();
    let mut spec = json!({"containers": [{"name": "app", "env": env_json, "envFrom": env_from_json,
        "volumeMounts": mounts}], "volumes": volumes});
    if input.windows {
        spec["os"] = json!({"name": "windows"});
    }
    let spec = read_pod_spec("Pod", &(&json!({ "spec": spec })).into())
        .expect("generated specs are readable");
    let container = &spec.containers[0];

    let data: Vec<Option<ConfigMapData>> = input
        .config_maps
        .iter()
        .map(|cm| {
            cm.as_ref().map(|entries| {
                ConfigMapData::from_data(entries.iter().take(8).map(|(k, v)| (k.text(), text(v))))
            })
        })
        .collect();
    let lookup = |name: &str| match name {
        "cm0" | "cm1" | "cm2" => {
            let i: usize = name[2..].parse().unwrap();
            match &data[i] {
                Some(d) => ConfigMapState::Data(d),
                None => ConfigMapState::Missing,
            }
        }
        _ => ConfigMapState::Unknown,
    };
    let effective = effective_env(container, &lookup);

    // The kubelet model, where everything the container reads is known.
    let modelable = env
        .iter()
        .all(|e| !matches!(e.source, Source::Secret | Source::FieldRef))
        && env
            .iter()
            .all(|e| !matches!(&e.source, Source::ConfigMapKey { config_map, .. } if config_map % 4 == 3))
        && env_from.iter().all(|f| f.config_map.is_some_and(|i| i % 4 != 3));
    let written: Vec<String> = env
        .iter()
        .filter_map(|e| match &e.source {
            Source::Value(v) => Some(text(v)),
            _ => None,
        })
        .collect();
    // The kubelet re-encodes a non-ASCII byte after `$`; the policy keeps
    // the character (see tests/properties.rs).
    let go_quirk = written.iter().any(|w| {
        w.as_bytes()
            .windows(2)
            .any(|p| p[0] == b'$' && !p[1].is_ascii())
    });
    let mut names: Vec<String> = env.iter().map(|e| e.name.text()).collect();
    for cm in data.iter().flatten() {
        for (k, _) in &cm.data {
            for f in &env_from {
                names.push(format!(
                    "{}{k}",
                    f.prefix.as_ref().map(Name::text).unwrap_or_default()
                ));
            }
        }
    }
    names.sort();
    names.dedup();
    if modelable && !go_quirk {
        let config_maps: BTreeMap<String, BTreeMap<String, String>> = data
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                d.as_ref()
                    .map(|d| (format!("cm{i}"), d.data.iter().cloned().collect()))
            })
            .collect();
        let model_from: Vec<kubelet::EnvFrom> = env_from
            .iter()
            .map(|f| kubelet::EnvFrom {
                prefix: f.prefix.as_ref().map(Name::text).unwrap_or_default(),
                config_map: config_map_name(f.config_map.unwrap()),
            })
            .collect();
        let model_env: Vec<kubelet::Var> = env
            .iter()
            .map(|e| kubelet::Var {
                name: e.name.text(),
                source: match &e.source {
                    Source::Value(v) => kubelet::Source::Value(text(v)),
                    Source::Empty => kubelet::Source::Value(String::new()),
                    Source::ConfigMapKey { config_map, key } => kubelet::Source::ConfigMapKey {
                        config_map: config_map_name(*config_map),
                        key: key.text(),
                    },
                    _ => unreachable!(),
                },
            })
            .collect();
        if let Some(model) =
            kubelet::environment(&model_from, &model_env, &config_maps, 4 * MAX_EXPANDED)
        {
            for name in &names {
                let expected = model.get(name.as_bytes());
                match (effective.get(name), expected) {
                    (None, None) => {}
                    (Some(EffectiveValue::Known { value, .. }), Some(expected)) => {
                        assert_eq!(value.as_bytes(), &expected[..], "{name}")
                    }
                    (Some(EffectiveValue::Unresolved { source, too_long }), Some(expected)) => {
                        assert!(
                            too_long && expected.len() > MAX_EXPANDED,
                            "{name} unresolved ({source}) but the kubelet gives {} bytes",
                            expected.len()
                        )
                    }
                    (got, expected) => panic!("{name}: policy {got:?}, kubelet {expected:?}"),
                }
            }
        }
    }

    // The path judgement.
    let settings = Settings {
        variables: vec!["KUBECONFIG".into(), "A".into()],
        allowed_paths: input
            .allowed_paths
            .iter()
            .take(3)
            .map(|p| format!("/{}", text(p)))
            .collect(),
        allow_host_path_volumes: input.allow_host_path,
        ..Default::default()
    };
    let report = check_with(&spec, &settings, &lookup);
    if input.windows {
        assert!(report.findings.is_empty() && report.unresolved.is_empty());
        return;
    }
    let mounts = Mounts::of(container, &spec);
    for variable in &settings.variables {
        let Some(EffectiveValue::Known { value, .. }) = effective.get(variable) else {
            assert!(report.findings.iter().all(|f| &f.variable != variable));
            continue;
        };
        let findings: Vec<_> = report
            .findings
            .iter()
            .filter(|f| &f.variable == variable)
            .collect();
        let b = value.as_bytes();
        let windows = value.contains(';')
            || value.starts_with("\\\\")
            || (b.len() >= 3
                && b[0].is_ascii_alphabetic()
                && b[1] == b':'
                && matches!(b[2], b'\\' | b'/'));
        let separator = if windows { ';' } else { ':' };
        let entries: Vec<&str> = value.split(separator).filter(|p| !p.is_empty()).collect();
        for f in &findings {
            assert!(
                entries.contains(&f.path.as_str()),
                "{:?} not in {value:?}",
                f.path
            );
        }
        if windows {
            assert!(findings.iter().all(|f| f.reason == Reason::WindowsPath));
            continue;
        }
        for entry in entries {
            let finding = findings.iter().find(|f| f.path == entry);
            let cleaned = clean_path(entry);
            assert_eq!(clean_path(&cleaned), cleaned, "cleaning is not idempotent");
            assert!(cleaned.starts_with('/') && !cleaned.contains("//"));
            let covering = mounts.lookup(&cleaned);
            if let Some((mount, _)) = &covering {
                assert!(mount.covers(&cleaned));
            }
            let allowed = settings
                .allowed_paths
                .iter()
                .any(|a| is_within(&cleaned, &clean_path(a)));
            match finding.map(|f| &f.reason) {
                None => {
                    assert!(entry.starts_with('/'), "{entry:?} accepted but relative");
                    match &covering {
                        None => assert!(allowed, "{entry:?} accepted but not mounted"),
                        Some((mount, entry_kind)) => {
                            assert_eq!(*entry_kind, Entry::MayBeFile, "{entry:?}");
                            if let VolumeSource::HostPath { .. } = mount.source {
                                assert!(
                                    settings.allow_host_path_volumes,
                                    "{entry:?} on a hostPath"
                                );
                            }
                        }
                    }
                }
                Some(Reason::NotMounted) => assert!(covering.is_none() && !allowed, "{entry:?}"),
                Some(Reason::NotAbsolute) => assert!(!entry.starts_with('/')),
                Some(Reason::HostPath { .. }) => assert!(!settings.allow_host_path_volumes),
                Some(_) => assert!(covering.is_some(), "{entry:?}"),
            }
        }
    }
});
