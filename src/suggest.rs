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

/// The closest of `candidates` to `missing`, when one is close enough to
/// be a likely typo or naming drift. Each candidate comes with whether it
/// serves the port the reference uses: among similar names, the one that
/// would actually answer is the better guess (`jaeger:16686` →
/// `jaeger-query`, not `jaeger-agent`).
///
/// The candidates come as a trait object, not a generic iterator: one
/// copy of the edit-distance code serves every caller in the wasm.
pub fn closest<'a>(
    missing: &str,
    candidates: &mut dyn Iterator<Item = (&'a str, bool)>,
) -> Option<&'a str> {
    let wanted = essence(missing);
    candidates
        .filter(|(c, _)| *c != missing)
        .filter_map(|(c, serves_port)| {
            let have = essence(c);
            let score = if have == wanted {
                1.0
            } else if wanted.len() >= 4
                && have.len() >= 4
                // a prefix shared by a whole family of names
                // (`argocd` in `argocd-application-controller`) is no
                // likeness: the shorter must be half the longer at least
                && 2 * wanted.len().min(have.len()) >= wanted.len().max(have.len())
                && (have.contains(&wanted) || wanted.contains(&have))
            {
                0.9
            } else {
                strsim::normalized_damerau_levenshtein(&wanted, &have)
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
