//! The JSON the checks read (the objects of the request, and the host's
//! answers where the pull reader steps aside) as a tree that borrows its
//! strings from the payload: one allocation per object and per array,
//! none per key or string unless it holds escapes, where
//! `serde_json::Value` allocates every key and string and builds a B-tree
//! per object.
//!
//! It reads as serde_json's `Value` reads, so that every check judges the
//! same thing and words the same message: an object's keys are sorted and
//! the last of repeated keys wins (serde_json's map is a B-tree); numbers
//! are serde_json's own [`Number`]s. What the pull reader leaves (text
//! that is not JSON; floats, exponents and integers of more than 18
//! digits, rare in the objects checked; nesting deeper than
//! [`crate::json_pull::MAX_DEPTH`]) is read by serde_json itself
//! ([`Value::parse`]), whose error is the message and whose limit (128)
//! the bound.

use std::borrow::Cow;

use serde_json::Number;

use crate::json_pull::Reader;

/// One JSON value, with strings borrowed from the text (lifetime `'a`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value<'a> {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Map<'a>),
}

/// A JSON object: its members sorted by key, each key once (the last of
/// repeated keys), as serde_json's map holds them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Map<'a>(Vec<Member<'a>>);

/// What [`Value::get`] takes: a key of an object, or an index of an array.
pub trait Index {
    /// The member or item this index names in `value`, if any.
    fn index_into<'v, 'a>(&self, value: &'v Value<'a>) -> Option<&'v Value<'a>>;
}

impl Index for str {
    fn index_into<'v, 'a>(&self, value: &'v Value<'a>) -> Option<&'v Value<'a>> {
        value.as_object()?.get(self)
    }
}

impl Index for String {
    fn index_into<'v, 'a>(&self, value: &'v Value<'a>) -> Option<&'v Value<'a>> {
        self.as_str().index_into(value)
    }
}

impl Index for usize {
    fn index_into<'v, 'a>(&self, value: &'v Value<'a>) -> Option<&'v Value<'a>> {
        value.as_array()?.get(*self)
    }
}

impl<T: Index + ?Sized> Index for &T {
    fn index_into<'v, 'a>(&self, value: &'v Value<'a>) -> Option<&'v Value<'a>> {
        (**self).index_into(value)
    }
}

impl<'a> Value<'a> {
    /// Reads JSON `bytes`. Plain JSON is read by the pull reader; whatever
    /// it leaves (text that is not JSON, nesting past its depth) is read
    /// by serde_json, whose error this returns (`EOF while parsing an
    /// object at line 1 column 5`).
    pub fn parse(bytes: &'a [u8]) -> Result<Value<'a>, String> {
        match Reader::document(bytes, read) {
            Some(value) => Ok(value),
            None => serde_json::from_slice::<serde_json::Value>(bytes)
                .map(|v| Value::from(&v).into_owned())
                .map_err(|e| e.to_string()),
        }
    }

    /// Whether it is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether it is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// Whether it is a string.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    /// The string, if it is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as an `i64`, if it is an integer that fits one (as
    /// serde_json's `Value::as_i64`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    /// The items, if it is an array.
    pub fn as_array(&self) -> Option<&Vec<Value<'a>>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, if it is an object.
    pub fn as_object(&self) -> Option<&Map<'a>> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The member (for a key) or item (for an index), if any.
    pub fn get(&self, index: impl Index) -> Option<&Value<'a>> {
        index.index_into(self)
    }

    /// The value at a JSON pointer of object keys (`/spec/template/spec`,
    /// the Pod template paths of the policy's workload views):
    /// what serde_json's `Value::pointer` finds for a pointer with no
    /// array index and no `~` escape.
    pub fn pointer(&self, pointer: &str) -> Option<&Value<'a>> {
        if pointer.is_empty() {
            return Some(self);
        }
        let path = pointer.strip_prefix('/')?;
        path.split('/')
            .try_fold(self, |at, key| at.as_object()?.get(key))
    }

    /// The same value owning all its strings.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(n),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(Map(members)) => Value::Object(Map(members
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect())),
        }
    }

    /// The same value as a `serde_json::Value`: for what is answered in
    /// full (a mutated object) or read by serde (the settings).
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_serde).collect())
            }
            Value::Object(m) => {
                // Inserted one by one: collecting would sort again.
                let mut object = serde_json::Map::new();
                for (k, v) in m.iter() {
                    object.insert(k.to_string(), v.to_serde());
                }
                serde_json::Value::Object(object)
            }
        }
    }
}

/// Borrows a `serde_json::Value` (a mutated object read again, a test's
/// `json!`, serde_json's reading of what the pull reader leaves).
impl<'a> From<&'a serde_json::Value> for Value<'a> {
    fn from(value: &'a serde_json::Value) -> Value<'a> {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.clone()),
            serde_json::Value::String(s) => Value::String(Cow::Borrowed(s)),
            serde_json::Value::Array(items) => {
                Value::Array(items.iter().map(Value::from).collect())
            }
            // serde_json's map is sorted, each key once.
            serde_json::Value::Object(m) => Value::Object(Map::from(m)),
        }
    }
}

/// Borrows a serde_json map (sorted, each key once).
impl<'a> From<&'a serde_json::Map<String, serde_json::Value>> for Map<'a> {
    fn from(m: &'a serde_json::Map<String, serde_json::Value>) -> Map<'a> {
        Map(m
            .iter()
            .map(|(k, v)| (Cow::Borrowed(k.as_str()), Value::from(v)))
            .collect())
    }
}

impl<'a> Map<'a> {
    /// An empty object.
    pub const fn new() -> Map<'a> {
        Map(Vec::new())
    }

    /// An object of `members` in the document's order: sorted by key, the
    /// last of repeated keys kept.
    pub fn from_members(mut members: Vec<Member<'a>>) -> Map<'a> {
        if !members.windows(2).all(|w| w[0].0 < w[1].0) {
            members = sorted_by_key(members);
            members.dedup_by(|later, earlier| {
                let repeated = later.0 == earlier.0;
                if repeated {
                    std::mem::swap(&mut later.1, &mut earlier.1);
                }
                repeated
            });
        }
        Map(members)
    }

    /// The member `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.0
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Takes member `key` out, if present.
    pub fn remove(&mut self, key: &str) -> Option<Value<'a>> {
        let i = self.0.binary_search_by(|(k, _)| k.as_ref().cmp(key)).ok()?;
        Some(self.0.remove(i).1)
    }

    /// The members, sorted by key.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Value<'a>)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_ref())
    }

    /// The values, in the order of their keys.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &Value<'a>> {
        self.0.iter().map(|(_, v)| v)
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no member.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One member of an object: its key and value.
type Member<'a> = (Cow<'a, str>, Value<'a>);

/// `members` sorted by key, equal keys in the document's order: a
/// bottom-up merge sort, O(n log n) whatever the input, by hand because
/// the standard library's sorts would add 4 KB to the module.
fn sorted_by_key(mut members: Vec<Member<'_>>) -> Vec<Member<'_>> {
    let n = members.len();
    let mut merged = Vec::new();
    merged.resize_with(n, Member::default);
    let mut width = 1;
    while width < n {
        for start in (0..n).step_by(2 * width) {
            let middle = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut left, mut right) = (start, middle);
            for slot in &mut merged[start..end] {
                let from_left =
                    right == end || (left < middle && members[left].0 <= members[right].0);
                let side = if from_left { &mut left } else { &mut right };
                *slot = std::mem::take(&mut members[*side]);
                *side += 1;
            }
        }
        std::mem::swap(&mut members, &mut merged);
        width *= 2;
    }
    members
}

/// One value at the reader's cursor (`None` for what the pull reader
/// leaves to serde_json).
pub fn read<'a>(r: &mut Reader<'a>) -> Option<Value<'a>> {
    Some(match r.start_of_value()? {
        b'n' => r.literal("null").map(|()| Value::Null)?,
        b't' => r.literal("true").map(|()| Value::Bool(true))?,
        b'f' => r.literal("false").map(|()| Value::Bool(false))?,
        b'"' => Value::String(r.string()?),
        b'[' => {
            let mut items = Vec::new();
            r.array(|r| read(r).map(|v| items.push(v)))?;
            Value::Array(items)
        }
        b'{' => {
            let mut members = Vec::new();
            r.members(|r, k| read(r).map(|v| members.push((k, v))))?;
            Value::Object(Map::from_members(members))
        }
        // What the pull reader reads of numbers (integers of up to 18
        // digits) is what serde_json makes of them: `i64`s and `u64`s.
        _ => Value::Number(r.integer()?.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::object(r#" {"b": [1, -2, true, false, null, "x"], "a": {}} "#)]
    #[case::escapes(r#"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "é€😀"]"#)]
    #[case::empty(r#"[[], {}, "", 0]"#)]
    #[case::repeated_keys(r#"{"b": 1, "a": 2, "b": 3, "a": {"x": 1}, "c": 0}"#)]
    #[case::numbers(
        "[0, -0, 1.5, -1.5e3, 1E2, 1e-2, 9223372036854775807, 9223372036854775808, -9223372036854775808, -9223372036854775809, 18446744073709551616, 0.1e1]"
    )]
    #[case::nested("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]")]
    #[case::deeper_than_the_pull_reader(&format!("{}{}", "[".repeat(100), "]".repeat(100)))]
    fn reads_as_serde_json_reads(#[case] text: &str) {
        let ours = Value::parse(text.as_bytes()).map(|v| v.to_serde());
        let serde = serde_json::from_str::<serde_json::Value>(text).map_err(|e| e.to_string());
        assert_eq!(ours, serde);
    }

    #[rstest]
    #[case::not_json("{")]
    #[case::trailing_comma("[1,]")]
    #[case::trailing_text("{} x")]
    #[case::leading_zero("[01]")]
    #[case::bare_minus("[-]")]
    #[case::bare_fraction("[1.]")]
    #[case::bare_exponent("[1e]")]
    #[case::out_of_range("[1e400]")]
    #[case::lone_surrogate(r#"["\udc00"]"#)]
    #[case::too_deep(&format!("{}{}", "[".repeat(129), "]".repeat(129)))]
    #[case::not_utf8("[\"\u{fffd}\"]")]
    fn errors_are_serde_jsons(#[case] text: &str) {
        let bytes = if text.contains('\u{fffd}') {
            b"[\"\xff\"]".to_vec()
        } else {
            text.as_bytes().to_vec()
        };
        let serde = serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| e.to_string());
        assert!(serde.is_err());
        assert_eq!(Value::parse(&bytes).map(|v| v.to_serde()), serde);
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let value = Value::parse(br#"{"plain": "esc\n"}"#).unwrap();
        let (key, value) = value.as_object().unwrap().0.first().unwrap();
        assert!(matches!(key, Cow::Borrowed("plain")));
        assert!(matches!(value, Value::String(Cow::Owned(s)) if s == "esc\n"));
    }

    #[rstest]
    #[case::root("")]
    #[case::member("/spec/template")]
    #[case::missing("/spec/templates")]
    #[case::not_an_object("/spec/template/x")]
    #[case::no_slash("spec")]
    fn pointers_find_what_serde_json_finds(#[case] pointer: &str) {
        let text = r#"{"spec": {"template": 1}}"#;
        let serde: serde_json::Value = serde_json::from_str(text).unwrap();
        let ours = Value::parse(text.as_bytes()).unwrap();
        assert_eq!(
            ours.pointer(pointer).map(Value::to_serde).as_ref(),
            serde.pointer(pointer)
        );
    }
}
