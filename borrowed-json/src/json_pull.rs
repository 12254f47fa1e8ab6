//! A pull reader over the host's answers: the readers of Service lists,
//! ConfigMaps and name lists walk the text once, keep the few fields they
//! need (strings borrowed unless they hold escapes) and skip the rest,
//! with no `serde_json::Value` tree, whose every key and string is an
//! allocation and every object a B-tree.
//!
//! It is the fast path only. Every method returns `None` for whatever it
//! does not vouch for, and the caller then reads the same bytes with
//! serde_json and the policy's field readers, which give the verdict and word
//! the errors: text that is not JSON; valid JSON this reader does not
//! model (numbers with a fraction or an exponent, integers of more than
//! 18 digits, `-0`, lone surrogates in `\u` escapes, nesting deeper than
//! [`MAX_DEPTH`]); and fields of an unexpected type. So a reader built on
//! it must give, when it gives anything, what the serde_json path gives:
//! in particular the last of repeated keys wins, as in serde_json's map.
//! The `answers` fuzz target compares the two paths.

use std::borrow::Cow;

/// Nesting this reader follows itself; deeper documents go to serde_json
/// (whose own limit is 128).
pub const MAX_DEPTH: usize = 64;

/// A cursor over one JSON document.
pub struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`; `None` unless they are UTF-8 (a
    /// JSON text that is not is an error for serde_json too).
    pub fn new(bytes: &'a [u8]) -> Option<Reader<'a>> {
        let text = std::str::from_utf8(bytes).ok()?;
        Some(Reader {
            text,
            at: 0,
            depth: 0,
        })
    }

    /// Reads the whole document with `read`: `Some` only if it read one
    /// value and nothing but whitespace follows.
    pub fn document<T>(bytes: &'a [u8], read: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let mut reader = Reader::new(bytes)?;
        let value = read(&mut reader)?;
        reader.whitespace();
        (reader.at == reader.text.len()).then_some(value)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// JSON's four whitespace characters, as serde_json skips them.
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The next value, after whitespace: its first byte.
    pub fn start_of_value(&mut self) -> Option<u8> {
        self.whitespace();
        self.peek()
    }

    /// `word` (`null`, `true`, `false`) at the cursor.
    pub fn literal(&mut self, word: &str) -> Option<()> {
        self.text[self.at..].starts_with(word).then(|| {
            self.at += word.len();
        })
    }

    /// `None` (absent, as the policy's field readers read `null`) for a
    /// `null`, else what `read` reads.
    pub fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.start_of_value()? == b'n' {
            self.literal("null")?;
            return Some(None);
        }
        read(self).map(Some)
    }

    /// The text of the value `read` reads (from its first byte, after
    /// whitespace, to its last): for a value passed on as JSON text.
    pub fn raw(&mut self, read: impl FnOnce(&mut Self) -> Option<()>) -> Option<&'a str> {
        self.whitespace();
        let start = self.at;
        read(self)?;
        Some(&self.text[start..self.at])
    }

    /// Any value, checked and dropped.
    pub fn skip(&mut self) -> Option<()> {
        match self.start_of_value()? {
            b'n' => self.literal("null"),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'"' => self.string().map(drop),
            b'[' => self.array(|r| r.skip()),
            b'{' => self.object(|r, _| r.skip()),
            _ => self.integer().map(drop),
        }
    }

    /// `-?(0|[1-9][0-9]*)` of at most 18 digits, not `-0`, and not
    /// followed by a fraction or an exponent: what fits an `i64` exactly
    /// and what serde_json keeps as an integer.
    pub fn integer(&mut self) -> Option<i64> {
        self.whitespace();
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        let digits = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        let plain = match &self.text.as_bytes()[digits..self.at] {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            d => d.len() <= 18,
        };
        if !plain || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.text[start..self.at].parse().ok()
    }

    /// A string: borrowed from the text unless it holds escapes.
    pub fn string(&mut self) -> Option<Cow<'a, str>> {
        if self.start_of_value()? != b'"' {
            return None;
        }
        self.at += 1;
        let start = self.at;
        self.plain_stretch();
        let mut owned = match *self.text.as_bytes().get(self.at)? {
            b'"' => {
                self.at += 1;
                return Some(Cow::Borrowed(&self.text[start..self.at - 1]));
            }
            b'\\' => String::from(&self.text[start..self.at]),
            _ => return None,
        };
        loop {
            match *self.text.as_bytes().get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(Cow::Owned(owned));
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = match *self.text.as_bytes().get(self.at)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    self.at += 1;
                    owned.push(escaped);
                }
                _ => return None,
            }
            let from = self.at;
            self.plain_stretch();
            owned.push_str(&self.text[from..self.at]);
        }
    }

    /// Moves the cursor to the next quote, backslash or control byte (or
    /// the end): bytes a string copies whole. These are all ASCII, so the
    /// stretch ends on a character boundary. Eight bytes at a time, with
    /// the zero-byte test of bit-twiddling lore (`(x - 0x01..) & !x &
    /// 0x80..` flags the lowest zero byte of `x` exactly): strings are
    /// most of a request's bytes, and a byte loop made reading a 1 MiB
    /// value twice as costly as serde_json's.
    fn plain_stretch(&mut self) {
        const ONES: u64 = u64::MAX / 255;
        const HIGH: u64 = ONES << 7;
        let rest = &self.text.as_bytes()[self.at..];
        // `as_chunks` hands out arrays, read as one 8-byte load: at
        // opt-level "z", `copy_from_slice` of `chunks_exact` stayed a call
        // per word, which made this loop 4× slower than serde_json's in
        // the wasm build.
        let (words, tail) = rest.as_chunks::<8>();
        for word in words {
            let x = u64::from_le_bytes(*word);
            let quote = x ^ (ONES * u64::from(b'"'));
            let backslash = x ^ (ONES * u64::from(b'\\'));
            let found = ((x.wrapping_sub(ONES * 0x20) & !x)
                | (quote.wrapping_sub(ONES) & !quote)
                | (backslash.wrapping_sub(ONES) & !backslash))
                & HIGH;
            if found != 0 {
                self.at += found.trailing_zeros() as usize / 8;
                return;
            }
            self.at += 8;
        }
        self.at += tail
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(tail.len());
    }

    /// `\uXXXX` (the cursor on the `u`), with a surrogate pair read as
    /// one character; the cursor ends on the last hex digit.
    fn unicode_escape(&mut self) -> Option<char> {
        let hex = |at: usize| -> Option<u32> {
            let digits = self.text.get(at..at + 4)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u32::from_str_radix(digits, 16).ok()
        };
        let first = hex(self.at + 1)?;
        self.at += 4;
        match first {
            0xD800..=0xDBFF => {
                if self.text.get(self.at + 1..self.at + 3) != Some("\\u") {
                    return None;
                }
                let second = hex(self.at + 3)?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                self.at += 6;
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(first),
        }
    }

    /// Enters an array or an object (`open`), within [`MAX_DEPTH`];
    /// `Some(true)` when it is empty (and already closed by `close`).
    fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        if self.start_of_value()? != open || self.depth == MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.depth += 1;
        if self.start_of_value()? == close {
            self.at += 1;
            self.depth -= 1;
            return Some(true);
        }
        Some(false)
    }

    /// After an item or a member: `Some(true)` at `close` (consumed),
    /// `Some(false)` after a comma.
    fn after_item(&mut self, close: u8) -> Option<bool> {
        match self.start_of_value()? {
            b',' => {
                self.at += 1;
                Some(false)
            }
            b if b == close => {
                self.at += 1;
                self.depth -= 1;
                Some(true)
            }
            _ => None,
        }
    }

    /// An array: `item` reads each item in turn.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.open(b'[', b']')? {
            return Some(());
        }
        loop {
            item(self)?;
            if self.after_item(b']')? {
                return Some(());
            }
        }
    }

    /// An object: `member` reads the value of each key in turn, in the
    /// document's order (repeated keys included).
    pub fn object(&mut self, mut member: impl FnMut(&mut Self, &str) -> Option<()>) -> Option<()> {
        self.members(|r, key| member(r, &key))
    }

    /// [`Self::object`], handing each key over (borrowed from the text
    /// unless it holds escapes).
    pub fn members(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        if self.open(b'{', b'}')? {
            return Some(());
        }
        loop {
            let key = self.string()?;
            if self.start_of_value()? != b':' {
                return None;
            }
            self.at += 1;
            member(self, key)?;
            if self.after_item(b'}')? {
                return Some(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::Value;

    /// A `Value` read back by the pull reader (numbers as integers only).
    fn pulled(text: &str) -> Option<Value> {
        fn value(r: &mut Reader<'_>) -> Option<Value> {
            Some(match r.start_of_value()? {
                b'n' => r.literal("null").map(|()| Value::Null)?,
                b't' => r.literal("true").map(|()| Value::Bool(true))?,
                b'f' => r.literal("false").map(|()| Value::Bool(false))?,
                b'"' => Value::String(r.string()?.into_owned()),
                b'[' => {
                    let mut items = Vec::new();
                    r.array(|r| value(r).map(|v| items.push(v)))?;
                    Value::Array(items)
                }
                b'{' => {
                    let mut members = serde_json::Map::new();
                    r.object(|r, k| value(r).map(|v| drop(members.insert(k.to_string(), v))))?;
                    Value::Object(members)
                }
                _ => Value::from(r.integer()?),
            })
        }
        Reader::document(text.as_bytes(), value)
    }

    #[rstest]
    #[case::object(r#" {"a": [1, -2, true, false, null, "x"], "b": {}} "#)]
    #[case::escapes(r#"["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20ac", "\ud83d\ude00", "é€😀"]"#)]
    #[case::empty(r#"[[], {}, "", 0]"#)]
    #[case::repeated_keys(r#"{"b": 1, "a": 2, "b": 3}"#)]
    #[case::eighteen_digits("[999999999999999999, -999999999999999999]")]
    #[case::nested("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]")]
    fn plain_json_reads_as_serde_json_reads_it(#[case] text: &str) {
        assert_eq!(pulled(text), serde_json::from_str(text).ok());
    }

    #[rstest]
    #[case::not_json("{")]
    #[case::trailing_comma("[1,]")]
    #[case::trailing_text("{} x")]
    #[case::single_quotes("['a']")]
    #[case::control_character("[\"a\u{1}b\"]")]
    #[case::bad_escape(r#"["\x"]"#)]
    #[case::leading_zero("[01]")]
    #[case::bare_minus("[-]")]
    #[case::lone_low_surrogate(r#"["\udc00"]"#)]
    #[case::lone_high_surrogate(r#"["\ud800x"]"#)]
    #[case::fraction("[1.5]")]
    #[case::exponent("[1e3]")]
    #[case::negative_zero("[-0]")]
    #[case::nineteen_digits("[1000000000000000000]")]
    #[case::too_deep(&format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1)))]
    fn the_rest_is_left_to_serde_json(#[case] text: &str) {
        assert_eq!(pulled(text), None);
        assert_eq!(Reader::document(text.as_bytes(), Reader::skip), None);
    }

    /// Every position of a quote, an escape or a control byte within and
    /// across the eight-byte words of the string scan, between ASCII and
    /// multi-byte characters.
    #[test]
    fn strings_end_where_serde_json_ends_them() {
        for filler in ["a", "é", "\u{7f}", "~"] {
            for special in ["\"", "\\n", "\u{1}", "\u{1f}", " "] {
                for before in 0..20 {
                    let text = format!(
                        "[\"{}{special}{}\", 1]",
                        filler.repeat(before),
                        filler.repeat(9)
                    );
                    assert_eq!(pulled(&text), serde_json::from_str(&text).ok(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_is_left_to_serde_json() {
        assert!(Reader::new(b"[\"\xff\"]").is_none());
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let mut strings = Vec::new();
        Reader::document(br#"["plain", "esc\n"]"#, |r| {
            r.array(|r| r.string().map(|s| strings.push(s)))
        })
        .unwrap();
        assert!(matches!(strings[0], Cow::Borrowed("plain")));
        assert!(matches!(&strings[1], Cow::Owned(s) if s == "esc\n"));
    }

    #[test]
    fn the_deepest_nesting_followed_is_max_depth() {
        let text = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(Reader::document(text.as_bytes(), Reader::skip), Some(()));
    }
}
