//! The value a container really sees for an environment variable, computed
//! the way the kubelet does it: entries are applied in order (a later entry
//! with the same name wins) and `$(VAR)` references to variables defined
//! earlier are expanded, `$$` being an escaped `$`.

use std::collections::HashMap;

use crate::workload::EnvVarView;

/// The effective value of one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectiveValue {
    /// Known at admission: the expanded value and the value as written.
    Known { value: String, written: String },
    /// Only known at runtime (`valueFrom`, `envFrom`, or a reference to one).
    Unresolved { source: String },
}

/// Effective values of every variable set in `env`; `has_env_from` tells
/// whether `envFrom` may define further variables (which `env` overrides).
pub fn effective_env(env: &[EnvVarView], has_env_from: bool) -> HashMap<&str, EffectiveValue> {
    let mut values: HashMap<&str, EffectiveValue> = HashMap::with_capacity(env.len());
    for var in env {
        let effective = match (&var.value, &var.value_from) {
            (Some(written), _) if !written.is_empty() => {
                match expand(written, |name| lookup(&values, name, has_env_from)) {
                    Ok(value) => EffectiveValue::Known {
                        value,
                        written: written.clone(),
                    },
                    Err(source) => EffectiveValue::Unresolved { source },
                }
            }
            (_, Some(value_from)) => EffectiveValue::Unresolved {
                source: format!("valueFrom.{}", value_from.source()),
            },
            _ => EffectiveValue::Known {
                value: String::new(),
                written: String::new(),
            },
        };
        values.insert(var.name.as_str(), effective);
    }
    values
}

/// What a `$(NAME)` reference resolves to.
enum Lookup<'v> {
    Value(&'v str),
    Unresolved(String),
    Undefined,
}

fn lookup<'v>(
    values: &'v HashMap<&str, EffectiveValue>,
    name: &str,
    has_env_from: bool,
) -> Lookup<'v> {
    match values.get(name) {
        Some(EffectiveValue::Known { value, .. }) => Lookup::Value(value),
        Some(EffectiveValue::Unresolved { source }) => {
            Lookup::Unresolved(format!("$({name}), which comes from {source}"))
        }
        None if has_env_from => Lookup::Unresolved(format!("$({name}), which envFrom may define")),
        None => Lookup::Undefined,
    }
}

/// Kubernetes' `$(VAR)` expansion: defined references are replaced,
/// undefined ones stay literal, `$$` becomes `$`. Fails with a description
/// when a reference can only be resolved at runtime, or when the result
/// would exceed [`MAX_EXPANDED`].
fn expand<'v>(input: &str, mut resolve: impl FnMut(&str) -> Lookup<'v>) -> Result<String, String> {
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
                return Err(format!(
                    "an expansion longer than {MAX_EXPANDED} bytes (nested $(VAR) references)"
                ));
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
    use crate::workload::{EnvVarView, ValueFromView};
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

    fn known(env: &[EnvVarView], name: &str, has_env_from: bool) -> Option<String> {
        match effective_env(env, has_env_from).remove(name)? {
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
        match effective_env(&env, false).remove("K") {
            Some(EffectiveValue::Unresolved { source }) => {
                assert!(source.contains("longer than 65536 bytes"), "{source}")
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
}
