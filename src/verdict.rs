//! What the policy answers for one request, and its conversion to
//! Kubewarden's response. Bounded: at most [`MAX_LISTED`] problems are
//! spelled out in a message and as many warnings returned.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;

use crate::messages::{MAX_LISTED, join_capped, more_warnings};

/// What the policy answers for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Allowed, possibly with Kubernetes warnings.
    Accept { warnings: Vec<String> },
    /// Allowed after replacing the object.
    Mutate {
        object: Value,
        warnings: Vec<String>,
    },
    /// Denied with a message (and an HTTP code for malformed requests).
    Reject {
        message: String,
        code: Option<u16>,
        warnings: Vec<String>,
    },
}

impl Verdict {
    /// Allowed without comment.
    pub fn accept() -> Verdict {
        Verdict::Accept {
            warnings: Vec::new(),
        }
    }

    /// Denied because the request itself cannot be read (HTTP 400).
    pub fn malformed(message: String) -> Verdict {
        Verdict::Reject {
            message,
            code: Some(400),
            warnings: Vec::new(),
        }
    }

    /// Rejected when there are `reasons`; else the `mutated` object, or
    /// accepted, with `warnings` either way.
    pub fn from_parts(
        reasons: Vec<String>,
        warnings: Vec<String>,
        mutated: Option<Value>,
    ) -> Verdict {
        match (reasons.is_empty(), mutated) {
            (false, _) => Verdict::Reject {
                message: join_capped(reasons.into_iter()),
                code: None,
                warnings,
            },
            (true, Some(object)) => Verdict::Mutate { object, warnings },
            (true, None) => Verdict::Accept { warnings },
        }
    }

    /// The waPC response the host expects (at most [`MAX_LISTED`] warnings
    /// and a count of the rest).
    pub fn into_response(self) -> ValidationResponse {
        let some = |mut w: Vec<String>| {
            if w.len() > MAX_LISTED {
                let more = w.len() - MAX_LISTED;
                w.truncate(MAX_LISTED);
                w.push(more_warnings(more));
            }
            (!w.is_empty()).then_some(w)
        };
        match self {
            Verdict::Accept { warnings } => ValidationResponse {
                accepted: true,
                message: None,
                code: None,
                mutated_object: None,
                audit_annotations: None,
                warnings: some(warnings),
            },
            Verdict::Mutate { object, warnings } => ValidationResponse {
                accepted: true,
                message: None,
                code: None,
                mutated_object: Some(object),
                audit_annotations: None,
                warnings: some(warnings),
            },
            Verdict::Reject {
                message,
                code,
                warnings,
            } => ValidationResponse {
                accepted: false,
                message: Some(message),
                code,
                mutated_object: None,
                audit_annotations: None,
                warnings: some(warnings),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("p{i}")).collect()
    }

    #[test]
    fn messages_list_at_most_twenty_problems() {
        assert_eq!(join_capped(numbered(2).into_iter()), "p0; p1");
        let long = join_capped(numbered(25).into_iter());
        assert!(
            long.starts_with("p0; p1;") && long.ends_with("p19; and 5 more problem(s)"),
            "{long}"
        );
    }

    #[test]
    fn responses_carry_at_most_twenty_warnings() {
        let response = Verdict::Accept {
            warnings: numbered(30),
        }
        .into_response();
        let warnings = response.warnings.unwrap();
        assert_eq!(warnings.len(), 21);
        assert_eq!(warnings[20], "and 10 more warning(s)");
        assert_eq!(Verdict::accept().into_response().warnings, None);
    }
}
