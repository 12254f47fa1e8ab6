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
/// Most edit distances computed for one missing name; names that cannot
/// score (by length, or by the characters they hold) are passed over
/// without one.
pub const MAX_COMPARED: usize = 64;

/// What comparing a missing name with the existing ones found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likeness<'a> {
    /// This one is close enough to be a likely typo or naming drift.
    Close(&'a str),
    /// None is close.
    Nothing,
    /// Cannot tell: the name is longer than [`MAX_COMPARED_LEN`], or
    /// [`MAX_COMPARED`] edit distances found nothing and names were left.
    /// Callers that weigh a name that resembles nothing more lightly must
    /// take this as a likely typo.
    Unknown,
}

/// The closest of `candidates` to `missing` (see [`likeness`]), if one is
/// close.
pub fn closest<'a>(
    missing: &str,
    candidates: &mut dyn Iterator<Item = (&'a str, bool)>,
) -> Option<&'a str> {
    match likeness(missing, candidates) {
        Likeness::Close(name) => Some(name),
        Likeness::Nothing | Likeness::Unknown => None,
    }
}

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
/// bytes are never compared; a name less than half or more than twice as
/// long, or whose characters differ too much (the bag distance, a lower
/// bound of the edit distance), cannot score and costs no edit distance;
/// at most [`MAX_COMPARED`] edit distances are computed.
pub fn likeness<'a>(
    missing: &str,
    candidates: &mut dyn Iterator<Item = (&'a str, bool)>,
) -> Likeness<'a> {
    let wanted = essence(missing);
    if wanted.len() > MAX_COMPARED_LEN {
        return Likeness::Unknown;
    }
    let mut budget = MAX_COMPARED;
    let mut exhausted = false;
    let best = candidates
        .filter(|(c, _)| *c != missing && c.len() <= 2 * MAX_COMPARED_LEN)
        .filter_map(|(c, serves_port)| {
            let have = essence(c);
            let (short, long) = (wanted.len().min(have.len()), wanted.len().max(have.len()));
            let score = if have == wanted {
                1.0
            } else if have.len() > MAX_COMPARED_LEN || 2 * short < long {
                return None;
            } else if short >= 4 && (have.contains(&wanted) || wanted.contains(&have)) {
                // one name inside the other (`jaeger`, `jaeger-query`) is
                // drift; the length rule above keeps out a prefix shared by
                // a family of names (`argocd`, `argocd-application-controller`)
                0.75
            } else if 10 * bag_distance(&wanted, &have) > 3 * long {
                // a normalized distance of 0.7 allows 30 % of the length
                return None;
            } else if budget == 0 {
                exhausted = true;
                return None;
            } else {
                budget -= 1;
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
        .map(|(_, c)| c);
    match best {
        Some(name) => Likeness::Close(name),
        None if exhausted => Likeness::Unknown,
        None => Likeness::Nothing,
    }
}

/// How many bytes of one name the other lacks, whichever lacks more: a
/// lower bound of their edit distance (with transpositions too), in one
/// pass over each.
fn bag_distance(a: &str, b: &str) -> usize {
    let mut counts = [0i32; 256];
    for byte in a.bytes() {
        counts[usize::from(byte)] += 1;
    }
    for byte in b.bytes() {
        counts[usize::from(byte)] -= 1;
    }
    let (mut extra, mut lacking) = (0usize, 0usize);
    for count in counts {
        if count > 0 {
            extra += count.unsigned_abs() as usize;
        } else {
            lacking += count.unsigned_abs() as usize;
        }
    }
    extra.max(lacking)
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

    /// Names that cannot score cost no edit distance: a typo is found
    /// among hundreds of unlike names.
    #[test]
    fn found_after_many_unlike_names() {
        let names: Vec<String> = (0..300)
            .map(|i| format!("app-{i:03}"))
            .chain(["zipkin".to_string()])
            .collect();
        let mut candidates = names.iter().map(|n| (n.as_str(), false));
        assert_eq!(
            likeness("zipkn", &mut candidates),
            Likeness::Close("zipkin")
        );
    }

    /// Past the budget of edit distances, a name that found nothing is
    /// unknown, not unlike: callers then take it for a typo.
    #[test]
    fn an_exhausted_budget_is_unknown() {
        let near: Vec<String> = (0..200).map(|i| format!("zpkni{i:02}")).collect();
        let mut names = near.iter().map(|n| (n.as_str(), false));
        assert_eq!(likeness("zipkn", &mut names), Likeness::Unknown);
        let mut few = ["redis", "gateway"].iter().map(|n| (*n, false));
        assert_eq!(likeness("datastorage", &mut few), Likeness::Nothing);
        let long = "a".repeat(64);
        assert_eq!(likeness(&long, &mut std::iter::empty()), Likeness::Unknown);
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
