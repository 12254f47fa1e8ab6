//! YAML for `scan`: documents read into JSON values under input budgets
//! (serde-saphyr), and the positions of their nodes (its parser's events),
//! so that a finding points at the field that holds it.
//!
//! A document is read twice: once into a [`Value`] with the budgets of
//! [`options`] (an alias bomb or a nesting past 128 levels is refused there,
//! after as many events as a normal document of its size), and, only for an
//! object a finding is about, once more into a [`Tree`] of positions. The
//! tree never expands aliases (an alias is a leaf at its own position), so
//! building it is linear in the document's size.

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser};

/// The most nested levels of a document (serde_yaml's limit, which deep
/// CRD schemas stay under).
pub const MAX_DEPTH: usize = 128;

/// The options every YAML document of a scan is read with: serde-saphyr's
/// budgets (events, nodes, aliases and the events they replay, anchors,
/// scalar bytes) with the depth of [`MAX_DEPTH`]; duplicate keys keep the
/// last value, as serde_yaml did for JSON values; no source snippets in
/// errors (they are one line).
pub fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits.max_replay_stack_depth = MAX_DEPTH;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.with_snippet = false;
    options
}

/// The options of [`options`], made to read plain values the way the
/// `serde_yaml` 0.9 that the other readers of the project (settings of
/// `run`, cluster files, replay sessions, e2e) used did: only YAML 1.2
/// booleans (`yes`, `on` stay strings), numbers with leading zeros or
/// underscores stay strings, `<<` is an ordinary key; `duplicate_keys`
/// as given (`LastWins` for JSON values, `Error` for typed structs, where
/// serde refuses a duplicate field anyway).
pub fn compat_options(duplicate_keys: serde_saphyr::DuplicateKeyPolicy) -> serde_saphyr::Options {
    let mut options = options();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.merge_keys = serde_saphyr::MergeKeyPolicy::AsOrdinary;
    options.duplicate_keys = duplicate_keys;
    options
}

/// One YAML document as a JSON value, or the parser's message (on one line,
/// its positions those of `text`).
pub fn value(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str_with_options::<Value>(text, options())
        .map_err(|e| e.to_string().replace('\n', " "))
}

/// A step of a field path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A mapping key.
    Key(String),
    /// A sequence index.
    Index(usize),
}

impl Seg {
    /// `Seg::Key` of `key`.
    pub fn key(key: &str) -> Seg {
        Seg::Key(key.to_owned())
    }
}

/// Where a node is: byte offsets into the parsed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Where the node (or, for a collection reached by a key, its key)
    /// starts.
    pub start: usize,
    /// Where the node ends (a scalar's end; a collection's start).
    pub end: usize,
    /// Whether the node is a scalar.
    pub scalar: bool,
}

#[derive(Debug)]
enum Node {
    Scalar {
        text: String,
        start: usize,
        end: usize,
    },
    Map {
        start: usize,
        entries: Vec<(Option<String>, usize, Node)>,
    },
    Seq {
        start: usize,
        items: Vec<Node>,
    },
    Alias {
        start: usize,
    },
}

impl Node {
    fn start(&self) -> usize {
        match self {
            Node::Scalar { start, .. }
            | Node::Map { start, .. }
            | Node::Seq { start, .. }
            | Node::Alias { start } => *start,
        }
    }
}

/// The positions of the nodes of one document.
#[derive(Debug)]
pub struct Tree {
    root: Node,
}

enum Open {
    Map {
        start: usize,
        entries: Vec<(Option<String>, usize, Node)>,
        key: Option<(Option<String>, usize)>,
    },
    Seq {
        start: usize,
        items: Vec<Node>,
    },
}

impl Tree {
    /// The tree of the first document of `text`; `None` when it cannot be
    /// parsed (the value was read, so this does not happen) or nests deeper
    /// than [`MAX_DEPTH`].
    pub fn parse(text: &str) -> Option<Tree> {
        let mut parser = Parser::new_from_str(text);
        let mut stack: Vec<Open> = Vec::new();
        let offset = |m: &serde_saphyr::granit_parser::Marker| -> usize {
            m.byte_offset()
                .unwrap_or_else(|| char_to_byte(text, m.index()))
        };
        loop {
            let (event, span) = parser.next_event()?.ok()?;
            let start = offset(&span.start);
            let node = match event {
                Event::StreamStart | Event::DocumentStart(..) => continue,
                Event::StreamEnd | Event::DocumentEnd => return None,
                Event::MappingStart(..) => {
                    if stack.len() >= MAX_DEPTH {
                        return None;
                    }
                    stack.push(Open::Map {
                        start,
                        entries: Vec::new(),
                        key: None,
                    });
                    continue;
                }
                Event::SequenceStart(..) => {
                    if stack.len() >= MAX_DEPTH {
                        return None;
                    }
                    stack.push(Open::Seq {
                        start,
                        items: Vec::new(),
                    });
                    continue;
                }
                Event::MappingEnd => match stack.pop()? {
                    Open::Map { start, entries, .. } => Node::Map { start, entries },
                    Open::Seq { .. } => return None,
                },
                Event::SequenceEnd => match stack.pop()? {
                    Open::Seq { start, items } => Node::Seq { start, items },
                    Open::Map { .. } => return None,
                },
                Event::Scalar(text, ..) => Node::Scalar {
                    text: text.into_owned(),
                    start,
                    end: offset(&span.end),
                },
                Event::Alias(..) => Node::Alias { start },
                _ => continue,
            };
            match stack.last_mut() {
                None => return Some(Tree { root: node }),
                Some(Open::Seq { items, .. }) => items.push(node),
                Some(Open::Map { entries, key, .. }) => match key.take() {
                    None => {
                        let name = match &node {
                            Node::Scalar { text, .. } => Some(text.clone()),
                            _ => None,
                        };
                        *key = Some((name, node.start()));
                    }
                    Some((name, at)) => entries.push((name, at, node)),
                },
            }
        }
    }

    /// Where the node at `path` is: a scalar at its value; a collection
    /// reached by a key at the key (the field's own line), an item at the
    /// item. `None` when the path leaves the tree (or goes through an
    /// alias or a merge key).
    pub fn place(&self, path: &[Seg]) -> Option<Place> {
        let mut node = &self.root;
        let mut key_at = None;
        for seg in path {
            (node, key_at) = match (node, seg) {
                (Node::Map { entries, .. }, Seg::Key(k)) => entries
                    .iter()
                    .rev()
                    .find(|(name, _, _)| name.as_deref() == Some(k))
                    .map(|(_, at, n)| (n, Some(*at)))?,
                (Node::Seq { items, .. }, Seg::Index(i)) => (items.get(*i)?, None),
                _ => return None,
            };
        }
        Some(match node {
            Node::Scalar { start, end, .. } => Place {
                start: *start,
                end: *end,
                scalar: true,
            },
            other => {
                let start = key_at.unwrap_or_else(|| other.start());
                Place {
                    start,
                    end: start,
                    scalar: false,
                }
            }
        })
    }
}

fn char_to_byte(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compat_options_read_plain_values_as_serde_yaml_did() {
        let value: Value = serde_saphyr::from_str_with_options(
            "a: yes\nb: 0755\nc: 1_000\nd: true\ne: 12\n<<: {f: 1}\nd: false\n",
            compat_options(serde_saphyr::DuplicateKeyPolicy::LastWins),
        )
        .unwrap();
        assert_eq!(
            value,
            serde_json::json!({"a": "yes", "b": "0755", "c": "1_000", "d": false, "e": 12,
                               "<<": {"f": 1}})
        );
    }

    fn at(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
        let tree = Tree::parse(text).expect("parses");
        let place = tree.place(path)?;
        let before = &text[..place.start];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        Some((line, col))
    }

    #[test]
    fn places_of_keys_items_and_scalars() {
        let text = "a:\n  b:\n  - x\n  - name: y\n    v: |\n      l1\n      l2\nc: {d: [1, 2]}\n";
        assert_eq!(at(text, &[Seg::key("a"), Seg::key("b")]), Some((2, 3)));
        assert_eq!(
            at(text, &[Seg::key("a"), Seg::key("b"), Seg::Index(0)]),
            Some((3, 5))
        );
        assert_eq!(
            at(
                text,
                &[
                    Seg::key("a"),
                    Seg::key("b"),
                    Seg::Index(1),
                    Seg::key("name")
                ]
            ),
            Some((4, 11))
        );
        assert_eq!(
            at(
                text,
                &[Seg::key("a"), Seg::key("b"), Seg::Index(1), Seg::key("v")]
            ),
            Some((6, 7))
        );
        assert_eq!(
            at(text, &[Seg::key("c"), Seg::key("d"), Seg::Index(1)]),
            Some((8, 12))
        );
        assert_eq!(at(text, &[Seg::key("nothing")]), None);
        assert_eq!(at(text, &[Seg::key("a"), Seg::Index(0)]), None);
    }

    #[test]
    fn budgets_refuse_hostile_documents() {
        let mut bomb =
            String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
        for (i, prev) in ('b'..='j').zip('a'..='i') {
            bomb.push_str(&format!(
                "{i}: &{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        let started = std::time::Instant::now();
        assert!(value(&bomb).is_err());
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(value(&deep).is_err());
        assert!(Tree::parse(&deep).is_none());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(
            value("a: 1\nb: [true, null, x]\n").unwrap(),
            serde_json::json!({"a": 1, "b": [true, null, "x"]})
        );
    }
}
