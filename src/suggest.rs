//! "Did you mean": the existing Service whose name is closest to a missing one.

/// Separators and generic words people add or drop when naming Services.
const NOISE_WORDS: &[&str] = &["service", "svc", "server", "headless"];

/// The name reduced to what identifies it: lower-case, without separators
/// or noise words, so `datastorage` and `data-storage-service` compare equal.
fn essence(name: &str) -> String {
    let mut words: Vec<&str> = name
        .split(['-', '.', '_'])
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > 1 {
        words.retain(|w| !NOISE_WORDS.contains(w));
    }
    words.concat().to_ascii_lowercase()
}

/// Longest name (after [`essence`]) compared: a DNS label's 63 bytes.
pub const MAX_COMPARED_LEN: usize = 63;
/// Most edit distances computed for one missing name.
pub const MAX_COMPARED: usize = 256;

/// The closest of `candidates` to `missing`, when one is close enough to
/// be a likely typo or naming drift. Each candidate comes with whether it
/// serves the port the reference uses: among similar names, the one that
/// would actually answer is the better guess (`jaeger:16686` →
/// `jaeger-query`, not `jaeger-agent`).
///
/// The candidates come as a trait object, not a generic iterator: one
/// copy of the edit-distance code serves every caller in the wasm.
///
/// Bounded whatever the input: names longer than [`MAX_COMPARED_LEN`]
/// bytes (past a DNS label) are never compared, nor names less than half
/// as long or twice as long as the missing one (no such pair scores), and
/// at most [`MAX_COMPARED`] edit distances are computed per call.
pub fn closest<'a>(
    missing: &str,
    candidates: &mut dyn Iterator<Item = (&'a str, bool)>,
) -> Option<&'a str> {
    let wanted = essence(missing);
    if wanted.len() > MAX_COMPARED_LEN {
        return None;
    }
    let mut budget = MAX_COMPARED;
    candidates
        .filter(|(c, _)| *c != missing && c.len() <= 2 * MAX_COMPARED_LEN)
        .filter_map(|(c, serves_port)| {
            let have = essence(c);
            let (short, long) = (wanted.len().min(have.len()), wanted.len().max(have.len()));
            let score = if have == wanted {
                1.0
            } else if have.len() > MAX_COMPARED_LEN || 2 * short < long || budget == 0 {
                return None;
            } else {
                budget -= 1;
                let distance = strsim::normalized_damerau_levenshtein(&wanted, &have);
                // one name inside the other (`jaeger`, `jaeger-query`) is
                // drift; the length rule above keeps out a prefix shared by
                // a family of names (`argocd`, `argocd-application-controller`)
                let inside = short >= 4 && (have.contains(&wanted) || wanted.contains(&have));
                if inside { distance.max(0.75) } else { distance }
            };
            let bonus = if serves_port { 0.2 } else { 0.0 };
            (score >= 0.7).then_some((score + bonus, c))
        })
        // Highest score; among equals the shorter, then alphabetical name.
        .max_by(|(sa, a), (sb, b)| {
            sa.total_cmp(sb)
                .then_with(|| b.len().cmp(&a.len()))
                .then_with(|| b.cmp(a))
        })
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::seed("datastorage", &["postgresql", "redis", "data-storage-service"], Some("data-storage-service"))]
    #[case::suffix_dropped("context-api-service", &["context-api", "gateway"], Some("context-api"))]
    #[case::typo("prometheus", &["promethus", "grafana"], Some("promethus"))]
    #[case::postgres_drift("postgresql", &["postgres", "redis"], Some("postgres"))]
    #[case::jaeger_components("jaeger", &["jaeger-query", "jaeger-collector", "jaeger-agent"], Some("jaeger-agent"))]
    #[case::nothing_close("datastorage", &["redis", "gateway"], None)]
    #[case::family_prefix("argocd-application-controller", &["argocd-server", "argocd-redis"], None)]
    #[case::typo_beats_a_shorter_name_inside("sa-3999", &["sa-39", "sa-3998"], Some("sa-3998"))]
    #[case::longer_than_a_dns_label(&"a".repeat(64), &["a"], None)]
    #[case::empty_namespace("datastorage", &[], None)]
    fn suggestions(
        #[case] missing: &str,
        #[case] existing: &[&str],
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(
            closest(missing, &mut existing.iter().map(|s| (*s, false))),
            expected
        );
    }

    #[rstest]
    #[case::port_decides_among_equals("jaeger", &[("jaeger-agent", false), ("jaeger-query", true)], Some("jaeger-query"))]
    #[case::port_does_not_beat_a_far_name("datastorage", &[("data-storage-service", false), ("redis", true)], Some("data-storage-service"))]
    #[case::port_alone_is_not_similarity("datastorage", &[("gateway", true)], None)]
    fn suggestions_prefer_services_on_the_port(
        #[case] missing: &str,
        #[case] existing: &[(&str, bool)],
        #[case] expected: Option<&str>,
    ) {
        assert_eq!(closest(missing, &mut existing.iter().copied()), expected);
    }
}
