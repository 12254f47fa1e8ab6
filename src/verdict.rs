//! The outcome of a check, and its conversion to Kubewarden's response.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;

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

    /// The waPC response the host expects.
    pub fn into_response(self) -> ValidationResponse {
        let some = |w: Vec<String>| (!w.is_empty()).then_some(w);
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
