//! A second, obviously-correct model of the environment the kubelet gives a
//! container, to check `env_expansion` against: a line-by-line port of
//! Kubernetes' `third_party/forked/golang/expansion/expand.go` (`Expand`,
//! `tryReadVariableName`, `MappingFuncFor`) and of the order of
//! `makeEnvironmentVariables` (kubelet_pods.go): every `envFrom` source in
//! order, then every `env` entry in order, each `$(VAR)` seeing what was
//! set before it. It works on bytes, as Go strings do.
//!
//! Two deliberate limits of the model, shared by the policy: Service
//! environment variables (`<SVC>_SERVICE_HOST`...) are not known at
//! admission, and `envFrom` keys that are not valid variable names are
//! skipped.

#![allow(dead_code)]

use std::collections::BTreeMap;

/// Where one `env` entry takes its value from (sources the model can know).
#[derive(Debug, Clone)]
pub enum Source {
    /// `value:` (the empty string when unset).
    Value(String),
    /// `valueFrom.configMapKeyRef`.
    ConfigMapKey { config_map: String, key: String },
}

/// One `env` entry.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    pub source: Source,
}

/// One `envFrom.configMapRef` entry.
#[derive(Debug, Clone)]
pub struct EnvFrom {
    pub prefix: String,
    pub config_map: String,
}

const OPERATOR: u8 = b'$';
const REFERENCE_OPENER: u8 = b'(';
const REFERENCE_CLOSER: u8 = b')';

/// `expansion.Expand`.
pub fn expand(input: &[u8], mapping: &dyn Fn(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < input.len() {
        if input[cursor] == OPERATOR && cursor + 1 < input.len() {
            buf.extend_from_slice(&input[checkpoint..cursor]);
            let (read, is_var, advance) = try_read_variable_name(&input[cursor + 1..]);
            if is_var {
                buf.extend_from_slice(&mapping(&read));
            } else {
                buf.extend_from_slice(&read);
            }
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    buf.extend_from_slice(&input[checkpoint..]);
    buf
}

/// `tryReadVariableName`.
fn try_read_variable_name(input: &[u8]) -> (Vec<u8>, bool, usize) {
    match input[0] {
        OPERATOR => (input[0..1].to_vec(), false, 1),
        REFERENCE_OPENER => {
            for i in 1..input.len() {
                if input[i] == REFERENCE_CLOSER {
                    return (input[1..i].to_vec(), true, i + 1);
                }
            }
            (vec![OPERATOR, REFERENCE_OPENER], false, 1)
        }
        other => {
            // Go: string(operator) + string(input[0]), the byte taken as a
            // code point (so a non-ASCII byte comes out re-encoded).
            let mut read = vec![OPERATOR];
            let mut utf8 = [0; 4];
            read.extend_from_slice(char::from(other).encode_utf8(&mut utf8).as_bytes());
            (read, false, 1)
        }
    }
}

/// `MappingFuncFor(tmpEnv)`: an undefined reference stays as written.
fn mapping_for(env: &BTreeMap<Vec<u8>, Vec<u8>>) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
    move |name| match env.get(name) {
        Some(value) => value.clone(),
        None => {
            let mut wrapped = b"$(".to_vec();
            wrapped.extend_from_slice(name);
            wrapped.push(b')');
            wrapped
        }
    }
}

/// Kubernetes' environment variable name rule (`[-._a-zA-Z][-._a-zA-Z0-9]*`),
/// restated here rather than imported.
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || "-._".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

/// The container's environment: `config_maps` are the ConfigMaps that
/// exist (name → data); a ConfigMap or key that does not exist sets
/// nothing (the references are taken as optional). `None` when a value
/// grows past `cap` bytes (values built to double at every entry would
/// otherwise exhaust memory).
pub fn environment(
    env_from: &[EnvFrom],
    env: &[Var],
    config_maps: &BTreeMap<String, BTreeMap<String, String>>,
    cap: usize,
) -> Option<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut tmp_env: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for from in env_from {
        let Some(data) = config_maps.get(&from.config_map) else {
            continue;
        };
        for (k, v) in data {
            let k = format!("{}{k}", from.prefix);
            if is_env_var_name(&k) {
                tmp_env.insert(k.into_bytes(), v.clone().into_bytes());
            }
        }
    }
    for var in env {
        let value = match &var.source {
            Source::Value(v) if !v.is_empty() => expand(v.as_bytes(), &mapping_for(&tmp_env)),
            Source::Value(_) => Vec::new(),
            Source::ConfigMapKey { config_map, key } => {
                match config_maps.get(config_map).and_then(|d| d.get(key)) {
                    Some(v) => v.clone().into_bytes(),
                    None => continue,
                }
            }
        };
        if value.len() > cap {
            return None;
        }
        tmp_env.insert(var.name.clone().into_bytes(), value);
    }
    Some(tmp_env)
}
