//! The value a container really sees for an environment variable, computed
//! the way the kubelet does it: entries are applied in order (a later entry
//! with the same name wins) and `$(VAR)` references to variables defined
//! earlier are expanded, `$$` being an escaped `$`.

use std::collections::HashMap;

use crate::object_lookup::ConfigMapData;
use crate::settings::is_env_var_name;
use crate::workload::ContainerView;

/// Where a value read from a ConfigMap came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueOrigin {
    pub config_map: String,
    pub key: String,
    /// `env[1].valueFrom.configMapKeyRef` or `envFrom[0].configMapRef`.
    pub field: String,
}

/// The effective value of one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectiveValue {
    /// Known at admission: the expanded value, the value as written, and
    /// the ConfigMap key it was read from (`None`: written in `env`).
    Known {
        value: String,
        written: String,
        origin: Option<ValueOrigin>,
    },
    /// Not known at admission: only at runtime (`valueFrom`, `envFrom`, or
    /// a reference to one), described by `source`; or, with `too_long`, its
    /// `$(VAR)` expansion passes [`MAX_EXPANDED`], which the workload check
    /// treats as a failed lookup rather than as a runtime value.
    Unresolved { source: String, too_long: bool },
}

/// What the check knows of a ConfigMap a container reads.
#[derive(Debug, Clone, Copy)]
pub enum ConfigMapState<'a> {
    /// Read from the host.
    Data(&'a ConfigMapData),
    /// The host says it does not exist: it contributes nothing.
    Missing,
    /// Not read (the workload check is off, or the lookup failed).
    Unknown,
}

/// The ConfigMaps of the workload's namespace, by name.
pub type ConfigMaps<'a> = dyn Fn(&str) -> ConfigMapState<'a> + 'a;

/// No ConfigMap is known: every `configMapKeyRef` and `envFrom` stays
/// unresolved.
pub fn no_config_maps(_: &str) -> ConfigMapState<'static> {
    ConfigMapState::Unknown
}

/// One `envFrom` source, as far as it is known.
enum EnvSource<'c> {
    /// A ConfigMap that was read: its keys, each as `<prefix><key>`.
    Read {
        index: usize,
        prefix: &'c str,
        config_map: &'c str,
        data: &'c ConfigMapData,
    },
    /// A Secret, or a ConfigMap that was not read: it may set any name.
    Unknown { field: String },
    /// A ConfigMap that does not exist: it sets nothing.
    Missing,
}

/// The environment of one container, as the kubelet computes it
/// (`makeEnvironmentVariables`): first each `envFrom` source in order (a
/// later source wins, `prefix` prepended, keys that are not valid variable
/// names skipped), then each `env` entry in order (a later entry wins, so
/// `env` beats `envFrom`), `$(VAR)` seeing everything set before it. A
/// source whose keys cannot be known (a Secret, an unread ConfigMap) makes
/// what it could set unresolved. `envFrom` keys are looked up on demand,
/// never copied: a container may read large ConfigMaps.
pub struct EffectiveEnv<'c> {
    values: HashMap<&'c str, EffectiveValue>,
    sources: Vec<EnvSource<'c>>,
}

impl<'c> EffectiveEnv<'c> {
    /// The effective value of `name`, if the container sets it.
    pub fn get(&self, name: &str) -> Option<EffectiveValue> {
        match self.values.get(name) {
            Some(value) => Some(value.clone()),
            None => self.env_from_value(name).map(|(value, _)| value),
        }
    }

    /// The value `envFrom` gives `name`, and the text itself when known.
    fn env_from_value(&self, name: &str) -> Option<(EffectiveValue, Option<&'c str>)> {
        if !is_env_var_name(name) {
            return None;
        }
        for source in self.sources.iter().rev() {
            match source {
                EnvSource::Read {
                    index,
                    prefix,
                    config_map,
                    data,
                } => {
                    let Some((key, value)) = name.strip_prefix(prefix).and_then(|k| data.entry(k))
                    else {
                        continue;
                    };
                    let known = EffectiveValue::Known {
                        value: value.to_string(),
                        written: value.to_string(),
                        origin: Some(ValueOrigin {
                            config_map: config_map.to_string(),
                            key: key.to_string(),
                            field: format!("envFrom[{index}].configMapRef"),
                        }),
                    };
                    return Some((known, Some(value)));
                }
                EnvSource::Unknown { field } => {
                    let unresolved = EffectiveValue::Unresolved {
                        source: field.clone(),
                        too_long: false,
                    };
                    return Some((unresolved, None));
                }
                EnvSource::Missing => {}
            }
        }
        None
    }

    /// What `$(name)` expands to at this point of the `env` list.
    fn lookup(&self, name: &str) -> Lookup<'_> {
        match self.values.get(name) {
            Some(EffectiveValue::Known { value, .. }) => Lookup::Value(value),
            Some(EffectiveValue::Unresolved { source, too_long }) => Lookup::Unresolved(Unknown {
                source: format!("$({name}), which comes from {source}"),
                too_long: *too_long,
            }),
            None => match self.env_from_value(name) {
                Some((_, Some(value))) => Lookup::Value(value),
                Some((EffectiveValue::Unresolved { source, too_long }, _)) => {
                    Lookup::Unresolved(Unknown {
                        source: format!("$({name}), which {source} may define"),
                        too_long,
                    })
                }
                _ => Lookup::Undefined,
            },
        }
    }
}

impl EffectiveEnv<'_> {
    /// `text` (an item of `command` or `args`) as the kubelet expands it
    /// with the container's environment; `None` when a `$(VAR)` in it is
    /// only known at runtime or the result would pass [`MAX_EXPANDED`].
    pub fn expand_text(&self, text: &str) -> Option<String> {
        expand(text, |name| self.lookup(name)).ok()
    }
}

/// The environment of `container`; `config_maps` gives the ConfigMaps its
/// `configMapKeyRef` and `envFrom` entries read.
pub fn effective_env<'c, 'a: 'c>(
    container: &'c ContainerView,
    config_maps: &ConfigMaps<'a>,
) -> EffectiveEnv<'c> {
    effective_env_visiting(container, config_maps, &mut |_, _| {})
}

/// [`effective_env`], showing `visit` the value of every `env` entry (by
/// index) as it is computed: a later entry of the same name replaces it
/// in the environment, but its own value is still what it was written as.
pub fn effective_env_visiting<'c, 'a: 'c>(
    container: &'c ContainerView,
    config_maps: &ConfigMaps<'a>,
    visit: &mut dyn FnMut(usize, &EffectiveValue),
) -> EffectiveEnv<'c> {
    let sources = container
        .env_from
        .iter()
        .enumerate()
        .map(|(i, from)| match &from.config_map_ref {
            Some(cm) => match config_maps(&cm.name) {
                ConfigMapState::Data(data) => EnvSource::Read {
                    index: i,
                    prefix: from.prefix.as_deref().unwrap_or_default(),
                    config_map: &cm.name,
                    data,
                },
                ConfigMapState::Missing => EnvSource::Missing,
                ConfigMapState::Unknown => EnvSource::Unknown {
                    field: format!("envFrom[{i}].configMapRef"),
                },
            },
            None => EnvSource::Unknown {
                field: format!("envFrom[{i}].secretRef"),
            },
        })
        .collect();
    let mut env = EffectiveEnv {
        values: HashMap::with_capacity(container.env.len()),
        sources,
    };
    for (i, var) in container.env.iter().enumerate() {
        let effective = match (&var.value, &var.value_from) {
            (Some(written), _) if !written.is_empty() => {
                match expand(written, |name| env.lookup(name)) {
                    Ok(value) => EffectiveValue::Known {
                        value,
                        written: written.clone(),
                        origin: None,
                    },
                    Err(Unknown { source, too_long }) => {
                        EffectiveValue::Unresolved { source, too_long }
                    }
                }
            }
            (_, Some(value_from)) => match &value_from.config_map_key_ref {
                Some(key_ref) => match config_maps(&key_ref.name) {
                    // The kubelet expands no `$(VAR)` in values read from a ConfigMap.
                    ConfigMapState::Data(data) => match data.get(&key_ref.key) {
                        Some(value) => EffectiveValue::Known {
                            value: value.to_string(),
                            written: value.to_string(),
                            origin: Some(ValueOrigin {
                                config_map: key_ref.name.clone(),
                                key: key_ref.key.clone(),
                                field: format!("env[{i}].valueFrom.configMapKeyRef"),
                            }),
                        },
                        // An optional missing key leaves the variable as it
                        // was; a required one stops the Pod (reported apart).
                        None => continue,
                    },
                    ConfigMapState::Missing => continue,
                    ConfigMapState::Unknown => EffectiveValue::Unresolved {
                        source: "valueFrom.configMapKeyRef".to_string(),
                        too_long: false,
                    },
                },
                None => EffectiveValue::Unresolved {
                    source: format!("valueFrom.{}", value_from.source()),
                    too_long: false,
                },
            },
            _ => EffectiveValue::Known {
                value: String::new(),
                written: String::new(),
                origin: None,
            },
        };
        visit(i, &effective);
        env.values.insert(var.name.as_str(), effective);
    }
    env
}

/// What a `$(NAME)` reference resolves to.
enum Lookup<'v> {
    Value(&'v str),
    Unresolved(Unknown),
    Undefined,
}

/// Why an expansion has no value at admission (see
/// [`EffectiveValue::Unresolved`]).
struct Unknown {
    source: String,
    too_long: bool,
}

/// Kubernetes' `$(VAR)` expansion: defined references are replaced,
/// undefined ones stay literal, `$$` becomes `$`. Fails with a description
/// when a reference can only be resolved at runtime, or when the result
/// would exceed [`MAX_EXPANDED`].
fn expand<'v>(input: &str, mut resolve: impl FnMut(&str) -> Lookup<'v>) -> Result<String, Unknown> {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    // Where the next `)` is, found once per `)`: re-searching the rest of
    // the value for every `$(` would be quadratic.
    let mut next_close: Option<Option<usize>> = None;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let advance = match bytes[cursor + 1] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => {
                    let close = match next_close {
                        Some(Some(c)) if c > cursor + 1 => Some(c),
                        Some(None) => None,
                        _ => {
                            let found =
                                memchr::memchr(b')', &bytes[cursor + 2..]).map(|i| cursor + 2 + i);
                            next_close = Some(found);
                            found
                        }
                    };
                    match close {
                        Some(close) => {
                            let name = &input[cursor + 2..close];
                            match resolve(name) {
                                Lookup::Value(v) => out.push_str(v),
                                Lookup::Unresolved(why) => return Err(why),
                                Lookup::Undefined => out.push_str(&input[cursor..=close]),
                            }
                            close - cursor
                        }
                        None => {
                            out.push_str("$(");
                            1
                        }
                    }
                }
                _ => {
                    // `$` followed by anything else: both stay as written.
                    let c = input[cursor + 1..].chars().next().unwrap_or_default();
                    out.push('$');
                    out.push(c);
                    c.len_utf8()
                }
            };
            if out.len() > MAX_EXPANDED {
                return Err(Unknown {
                    source: format!(
                        "an expansion longer than {MAX_EXPANDED} bytes (nested $(VAR) references)"
                    ),
                    too_long: true,
                });
            }
            cursor += advance + 1;
            checkpoint = cursor;
        } else {
            cursor += 1;
        }
    }
    out.push_str(&input[checkpoint.min(input.len())..]);
    Ok(out)
}

/// Bound on an expanded value: references can double a value at every
/// level, and no kubeconfig path list is anywhere near this long.
pub const MAX_EXPANDED: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{EnvFromView, EnvVarView, KeyRefView, ObjectRefView, ValueFromView};
    use rstest::rstest;

    fn var(name: &str, value: &str) -> EnvVarView {
        EnvVarView {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        }
    }

    fn secret(name: &str) -> EnvVarView {
        EnvVarView {
            name: name.into(),
            value: None,
            value_from: Some(ValueFromView {
                secret_key_ref: Some(Default::default()),
                ..Default::default()
            }),
        }
    }

    fn container(env: &[EnvVarView], has_env_from: bool) -> ContainerView {
        ContainerView {
            env: env.to_vec(),
            env_from: if has_env_from {
                vec![EnvFromView {
                    secret_ref: Some(ObjectRefView::default()),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        }
    }

    fn effective(env: &[EnvVarView], has_env_from: bool, name: &str) -> Option<EffectiveValue> {
        effective_env(&container(env, has_env_from), &no_config_maps).get(name)
    }

    fn known(env: &[EnvVarView], name: &str, has_env_from: bool) -> Option<String> {
        match effective(env, has_env_from, name)? {
            EffectiveValue::Known { value, .. } => Some(value),
            EffectiveValue::Unresolved { .. } => None,
        }
    }

    #[rstest]
    #[case::plain(vec![var("K", "/a")], "/a")]
    #[case::later_entry_wins(vec![var("K", "/a"), var("K", "/b")], "/b")]
    #[case::expands_earlier(vec![var("H", "/home/u"), var("K", "$(H)/.kube/config")], "/home/u/.kube/config")]
    #[case::later_definition_not_seen(vec![var("K", "$(H)/c"), var("H", "/home/u")], "$(H)/c")]
    #[case::undefined_stays_literal(vec![var("K", "$(NOPE)/c")], "$(NOPE)/c")]
    #[case::escaped(vec![var("H", "/x"), var("K", "$$(H)/c")], "$(H)/c")]
    #[case::double_escape(vec![var("K", "/a$$$$b")], "/a$$b")]
    #[case::lone_dollar(vec![var("K", "/a$b")], "/a$b")]
    #[case::trailing_dollar(vec![var("K", "/a$")], "/a$")]
    #[case::unclosed(vec![var("H", "/x"), var("K", "$(H/c")], "$(H/c")]
    #[case::self_reference(vec![var("K", "/a"), var("K", "$(K):/b")], "/a:/b")]
    #[case::empty_value(vec![var("K", "")], "")]
    #[case::utf8(vec![var("K", "/ü$ü")], "/ü$ü")]
    fn kubelet_semantics(#[case] env: Vec<EnvVarView>, #[case] expected: &str) {
        assert_eq!(known(&env, "K", false).as_deref(), Some(expected));
    }

    #[rstest]
    #[case::value_from(vec![secret("K")])]
    #[case::reference_to_value_from(vec![secret("H"), var("K", "$(H)/config")])]
    fn unresolved(#[case] env: Vec<EnvVarView>) {
        assert_eq!(known(&env, "K", false), None);
    }

    #[test]
    fn undefined_reference_with_env_from_is_unresolved() {
        let env = vec![var("K", "$(DIR)/config")];
        assert_eq!(known(&env, "K", true), None);
        assert_eq!(known(&env, "K", false).as_deref(), Some("$(DIR)/config"));
    }

    #[test]
    fn doubling_references_are_bounded() {
        let mut env = vec![var("V0", "xxxxxxxx")];
        for i in 1..40 {
            env.push(var(
                &format!("V{i}"),
                &format!("$(V{})$(V{})", i - 1, i - 1),
            ));
        }
        env.push(var("K", "$(V39)"));
        match effective(&env, false, "K") {
            Some(EffectiveValue::Unresolved { source, too_long }) => {
                assert!(
                    too_long && source.contains("longer than 65536 bytes"),
                    "{source}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn many_unclosed_references_stay_literal() {
        // Under MAX_EXPANDED, so the value is kept as written; linear time.
        let value = "$(".repeat(30_000);
        let kept = known(&[var("K", &value)], "K", false);
        assert!(kept.as_deref() == Some(value.as_str()), "value changed");
    }

    #[test]
    fn value_from_then_literal_uses_literal() {
        let env = vec![secret("K"), var("K", "/etc/kube/config")];
        assert_eq!(known(&env, "K", false).as_deref(), Some("/etc/kube/config"));
    }

    fn cm_key(name: &str, config_map: &str, key: &str) -> EnvVarView {
        EnvVarView {
            name: name.into(),
            value: None,
            value_from: Some(ValueFromView {
                config_map_key_ref: Some(KeyRefView {
                    name: config_map.into(),
                    key: key.into(),
                    optional: None,
                }),
                ..Default::default()
            }),
        }
    }

    fn from_cm(name: &str, prefix: &str) -> EnvFromView {
        EnvFromView {
            prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
            config_map_ref: Some(ObjectRefView {
                name: name.into(),
                ..Default::default()
            }),
            secret_ref: None,
        }
    }

    fn from_secret() -> EnvFromView {
        EnvFromView {
            secret_ref: Some(ObjectRefView {
                name: "s".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// ConfigMap "paths" {KUBECONFIG: /cm/kube, DIR: /cm}; "other" {KUBECONFIG: /other}; "gone" is missing.
    fn cluster_value(
        env: Vec<EnvVarView>,
        env_from: Vec<EnvFromView>,
        name: &str,
    ) -> Option<String> {
        let paths = ConfigMapData::from_data(
            [
                ("KUBECONFIG", "/cm/kube"),
                ("DIR", "/cm"),
                ("bad-name=", "x"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let other = ConfigMapData::from_data([("KUBECONFIG".to_string(), "/other".to_string())]);
        let lookup = |n: &str| match n {
            "paths" => ConfigMapState::Data(&paths),
            "other" => ConfigMapState::Data(&other),
            "gone" => ConfigMapState::Missing,
            _ => ConfigMapState::Unknown,
        };
        let c = ContainerView {
            env,
            env_from,
            ..Default::default()
        };
        match effective_env(&c, &lookup).get(name)? {
            EffectiveValue::Known { value, .. } => Some(value),
            EffectiveValue::Unresolved { source, .. } => Some(format!("unresolved: {source}")),
        }
    }

    #[rstest]
    #[case::config_map_key_ref(vec![cm_key("KUBECONFIG", "paths", "KUBECONFIG")], vec![], Some("/cm/kube"))]
    #[case::key_ref_not_expanded(vec![var("DIR", "/x"), cm_key("KUBECONFIG", "paths", "DIR")], vec![], Some("/cm"))]
    #[case::missing_key_keeps_earlier(vec![var("KUBECONFIG", "/a"), cm_key("KUBECONFIG", "paths", "nope")], vec![], Some("/a"))]
    #[case::missing_config_map_sets_nothing(vec![cm_key("KUBECONFIG", "gone", "k")], vec![], None)]
    #[case::unread_config_map(vec![cm_key("KUBECONFIG", "unread", "k")], vec![], Some("unresolved: valueFrom.configMapKeyRef"))]
    #[case::env_from(vec![], vec![from_cm("paths", "")], Some("/cm/kube"))]
    #[case::env_from_prefix(vec![], vec![from_cm("paths", "KUBE")], None)]
    #[case::later_env_from_wins(vec![], vec![from_cm("paths", ""), from_cm("other", "")], Some("/other"))]
    #[case::env_beats_env_from(vec![var("KUBECONFIG", "/env")], vec![from_cm("paths", "")], Some("/env"))]
    #[case::env_expands_env_from(vec![var("KUBECONFIG", "$(DIR)/config")], vec![from_cm("paths", "")], Some("/cm/config"))]
    #[case::secret_after_may_override(vec![], vec![from_cm("paths", ""), from_secret()], Some("unresolved: envFrom[1].secretRef"))]
    #[case::config_map_after_secret_wins(vec![], vec![from_secret(), from_cm("paths", "")], Some("/cm/kube"))]
    fn values_from_config_maps(
        #[case] env: Vec<EnvVarView>,
        #[case] env_from: Vec<EnvFromView>,
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(
            cluster_value(env, env_from, "KUBECONFIG").as_deref(),
            expected
        );
    }

    #[test]
    fn prefixed_keys_and_invalid_names() {
        let value = cluster_value(vec![], vec![from_cm("paths", "APP_")], "APP_KUBECONFIG");
        assert_eq!(value.as_deref(), Some("/cm/kube"));
        assert_eq!(
            cluster_value(vec![], vec![from_cm("paths", "")], "bad-name="),
            None
        );
    }
}
