//! The outcome of a check, and its conversion to Kubewarden's response.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;

/// At most this many problems are spelled out in one message (or returned
/// as warnings): a response must stay readable, and bounded whatever the
/// request holds.
pub const MAX_LISTED: usize = 20;

/// Joins at most [`MAX_LISTED`] problems with "; ", then says how many
/// more there are; problems past the limit are never rendered.
pub fn join_capped(problems: impl ExactSizeIterator<Item = String>) -> String {
    let total = problems.len();
    let mut message = problems.take(MAX_LISTED).collect::<Vec<_>>().join("; ");
    if total > MAX_LISTED {
        message.push_str(&format!("; and {} more problem(s)", total - MAX_LISTED));
    }
    message
}

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

    /// The waPC response the host expects (at most [`MAX_LISTED`] warnings
    /// and a count of the rest).
    pub fn into_response(self) -> ValidationResponse {
        let some = |mut w: Vec<String>| {
            if w.len() > MAX_LISTED {
                let more = w.len() - MAX_LISTED;
                w.truncate(MAX_LISTED);
                w.push(format!("and {more} more warning(s)"));
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
