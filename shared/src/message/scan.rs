//! The decoder's fast path: one pass over an envelope that finds its fields and checks its
//! payload as it goes. `serde_json` needs two passes (the envelope with the payload skipped as a
//! raw value, then a walk of the payload), and the two were a third of the routing pipeline
//! (BENCHMARKS.md, section 9). The scan accepts only envelopes the `serde_json` path accepts with
//! the same fields; on anything else (a syntax error, an escaped key, a number near the edge of
//! `f64`, deep nesting, a repeated field) it gives up and that path decides and words the error.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use super::{Fields, MAX_DEPTH};
use crate::json_string::next_escape;
use crate::validate::Path;
use crate::validate::analytics::{FieldKey, FieldNameViolation, case_duplicate, field_name_rule};

/// Numbers whose integer digits plus exponent stay at or below this are below 10^300, far from
/// `f64::MAX` (about 1.8 × 10^308): no parser rounds them to infinity, which `serde_json` refuses
/// as out of range. Numbers beyond it go to `serde_json`.
const SURELY_FINITE_MAGNITUDE: i64 = 300;

/// Longest exponent the scan reads (`1e9999`); longer ones go to `serde_json`.
const MAX_EXPONENT_DIGITS: usize = 4;

/// An envelope's fields, or `None` when `serde_json` must decide.
pub(super) fn envelope(body: &str) -> Option<Fields<'_>> {
    let mut scan = Scan::new(body);
    let mut fields = Fields::default();
    scan.skip_whitespace();
    scan.members(|scan, key| {
        let start = scan.at;
        let slot = match key {
            "id" => Some(&mut fields.id),
            "topic" => Some(&mut fields.topic),
            "attributes" => Some(&mut fields.attributes),
            "timestamp" => Some(&mut fields.timestamp),
            "payload" => Some(&mut fields.payload),
            "payloadBase64" => Some(&mut fields.payload_base64),
            _ => None,
        };
        if key == "payload" {
            let mut names = Names::checking();
            scan.value(0, &Path::root("payload"), &mut names)?;
            fields.payload_field_names = Some(names.violation);
        } else {
            scan.value(0, &Path::root(""), &mut Names::ignoring())?;
        }
        if let Some(slot) = slot {
            // `serde` refuses a field given twice (even as `null`); it words that error.
            if slot.is_some() {
                return None;
            }
            *slot = Some(body.get(start..scan.at)?);
        }
        Some(())
    })?;
    scan.skip_whitespace();
    (scan.at == body.len()).then_some(fields)
}

/// Message attributes as `serde_json` decodes them, when they are an object of scalars whose keys
/// and strings have no escapes (the usual case); `None` leaves them to `serde_json`, which also
/// words the error for anything that is not such an object.
pub(super) fn flat_object(text: &str) -> Option<Map<String, Value>> {
    let mut scan = Scan::new(text);
    let mut map = Map::new();
    scan.members(|scan, key| {
        let start = scan.at;
        let value = match scan.peek()? {
            b'"' => Value::String(scan.plain_string()?.to_owned()),
            b't' => scan.literal(b"true").map(|()| Value::Bool(true))?,
            b'f' => scan.literal(b"false").map(|()| Value::Bool(false))?,
            b'n' => scan.literal(b"null").map(|()| Value::Null)?,
            _ => {
                scan.number()?;
                Value::Number(text.get(start..scan.at)?.parse::<Number>().ok()?)
            }
        };
        // A key given twice keeps its last value, as in `serde_json`'s map.
        map.insert(key.to_owned(), value);
        Some(())
    })?;
    (scan.at == text.len()).then_some(map)
}

/// A position in JSON text being scanned. Every method returns `None` where the text is not JSON
/// or the scan is not sure of `serde_json`'s answer.
struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

/// What the payload's walk keeps to check IoT Analytics' field names, as the `serde_json` walk
/// does (`PayloadWalk`): the first rule broken, and the keys of the objects open.
struct Names<'a> {
    check: bool,
    violation: Option<FieldNameViolation>,
    keys: Vec<FieldKey<'a>>,
}

impl Names<'_> {
    fn checking() -> Self {
        Names {
            check: true,
            violation: None,
            keys: Vec::with_capacity(16),
        }
    }

    fn ignoring() -> Self {
        Names {
            check: false,
            violation: None,
            keys: Vec::new(),
        }
    }

    fn looking(&self) -> bool {
        self.check && self.violation.is_none()
    }
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Self {
        Scan {
            text,
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// JSON's whitespace only (RFC 8259, section 2), as `serde_json` skips it.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize, path: &Path<'_>, names: &mut Names<'a>) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth, path, names),
            b'[' => self.array(depth, path, names),
            b'"' => self.string().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// An object, checking its keys in the order the `serde_json` walk does: each key's own rule
    /// when it is read, then the keys inside its value, then (at the end) keys equal but for case.
    fn object(&mut self, depth: usize, path: &Path<'_>, names: &mut Names<'a>) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let start = names.keys.len();
        self.members(|scan, key| {
            let key_path = path.key(key);
            if names.looking()
                && let Some(rule) = field_name_rule(key)
            {
                names.violation = Some(FieldNameViolation::new(&key_path, rule));
            }
            scan.value(depth + 1, &key_path, names)?;
            if names.check {
                names.keys.push(FieldKey::new(Cow::Borrowed(key)));
            }
            Some(())
        })?;
        if names.looking()
            && let Some((later, rule)) = names.keys.get(start..).and_then(case_duplicate)
        {
            names.violation = Some(FieldNameViolation::new(&path.key(later.name()), rule));
        }
        names.keys.truncate(start);
        Some(())
    }

    /// An object's members, from its `{` to its `}`: `member` reads each value, from just past
    /// its key's `:` (and whitespace). Always inlined: called through the recursion of
    /// [`Scan::value`], the compiler left it out of line, which cost 4 % of the decode.
    #[inline(always)]
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.skip_whitespace();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.plain_string()?;
            self.skip_whitespace();
            self.eat(b':')?;
            self.skip_whitespace();
            member(self, key)?;
            self.skip_whitespace();
            match self.next()? {
                b',' => self.skip_whitespace(),
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize, path: &Path<'_>, names: &mut Names<'a>) -> Option<()> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.at += 1;
        self.skip_whitespace();
        if self.eat(b']').is_some() {
            return Some(());
        }
        let mut i = 0;
        loop {
            self.value(depth + 1, &path.index(i), names)?;
            i += 1;
            self.skip_whitespace();
            match self.next()? {
                b',' => self.skip_whitespace(),
                b']' => return Some(()),
                _ => return None,
            }
        }
    }

    /// A string without escapes, as its text: keys with escapes are rare, and their unescaped
    /// text is left to `serde_json`.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.string()?
    }

    /// A string from its opening quote: its text when it has no escapes, `Some(None)` when it
    /// has (valid) ones.
    fn string(&mut self) -> Option<Option<&'a str>> {
        self.eat(b'"')?;
        let start = self.at;
        let mut plain = true;
        loop {
            let at = next_escape(self.bytes, self.at)?;
            self.at = at + 1;
            match self.bytes.get(at)? {
                b'"' => {
                    return Some(if plain {
                        Some(self.text.get(start..at)?)
                    } else {
                        None
                    });
                }
                b'\\' => {
                    plain = false;
                    self.escape()?;
                }
                // A raw control character: `serde_json` refuses it.
                _ => return None,
            }
        }
    }

    /// The rest of an escape after its `\`. Surrogates must pair, as `serde_json` requires of
    /// strings it unescapes (lone ones it refuses with its own error).
    fn escape(&mut self) -> Option<()> {
        match self.next()? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(()),
            b'u' => match self.hex4()? {
                0xD800..=0xDBFF => {
                    self.eat(b'\\')?;
                    self.eat(b'u')?;
                    matches!(self.hex4()?, 0xDC00..=0xDFFF).then_some(())
                }
                0xDC00..=0xDFFF => None,
                _ => Some(()),
            },
            _ => None,
        }
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.text.get(self.at..self.at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        self.at += 4;
        u16::from_str_radix(digits, 16).ok()
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at - start
    }

    /// A number in RFC 8259's grammar (no leading zeros, digits after `.` and `e`), and only
    /// when it is surely within `f64`'s range.
    fn number(&mut self) -> Option<()> {
        let _ = self.eat(b'-');
        let integer_digits = match self.next()? {
            b'0' => 1,
            b'1'..=b'9' => 1 + self.digits(),
            _ => return None,
        };
        if self.eat(b'.').is_some() && self.digits() == 0 {
            return None;
        }
        let mut exponent = 0;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            let negative = self.eat(b'-').is_some();
            if !negative {
                let _ = self.eat(b'+');
            }
            let start = self.at;
            let n = self.digits();
            if n == 0 || n > MAX_EXPONENT_DIGITS {
                return None;
            }
            let value: i64 = self.text.get(start..self.at)?.parse().ok()?;
            exponent = if negative { -value } else { value };
        }
        let magnitude = i64::try_from(integer_digits).ok()? + exponent;
        (magnitude <= SURELY_FINITE_MAGNITUDE).then_some(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::super::{Message, MessageError, fields_by_serde};
    use super::*;

    /// The decode through `serde_json` alone.
    fn by_serde(body: &str) -> Result<Message, MessageError> {
        fields_by_serde(body).and_then(|fields| Message::from_fields(fields, Some("trigger-id")))
    }

    /// The scan either gives up or finds what `serde_json` finds: the same message (id, topic,
    /// attributes, timestamp, payload bytes, field-name violation) or the same error.
    fn agrees(body: &str) -> Result<(), TestCaseError> {
        let ours = Message::decode(body, Some("trigger-id"));
        prop_assert_eq!(
            format!("{ours:?}"),
            format!("{:?}", by_serde(body)),
            "{}",
            body
        );
        Ok(())
    }

    #[test]
    fn the_usual_envelopes_take_the_fast_path() {
        for body in [
            r#"{"id":"m-1","topic":"plant/line1/telemetry","attributes":{"deviceId":"sensor-1"},"payload":{"reading_0":20.5,"note":"xxx"}}"#,
            " {\n  \"payloadBase64\" : \"aGVsbG8=\" ,\"timestamp\":1732270000000 }\r\n",
            r#"{"id":"a","payload":[1,-0,0.5e-3,1E+2,true,false,null,"\u00e9\ud83d\ude00\n",{}],"extra":{"x":[]}}"#,
            r#"{"payload":{"bad-name":1,"A":{"b":2,"B":3}}}"#,
            r#"{}"#,
        ] {
            assert!(envelope(body).is_some(), "{body}");
            agrees(body).unwrap();
        }
    }

    #[test]
    fn leaves_what_it_is_unsure_of_to_serde_json() {
        let deep = format!(r#"{{"payload":{}{}}}"#, "[".repeat(65), "]".repeat(65));
        let deep_extra = format!(
            r#"{{"x":{}{},"payload":1}}"#,
            "[".repeat(65),
            "]".repeat(65)
        );
        for body in [
            // Numbers near or past f64's range, and exponents too long to read.
            r#"{"payload":1e300}"#,
            r#"{"payload":1e309}"#,
            r#"{"payload":0e99999}"#,
            r#"{"payload":-1.5e-99999}"#,
            &format!(r#"{{"payload":{}}}"#, "9".repeat(400)),
            // Escaped keys, in the envelope and in the payload.
            r#"{"p\u0061yload":1}"#,
            r#"{"payload":{"\u0061":1}}"#,
            // Lone surrogates, and fields given twice.
            r#"{"payload":"\ud800"}"#,
            r#"{"payload":"\udc00x"}"#,
            r#"{"x":"\ud800","payload":1}"#,
            r#"{"id":null,"id":"a","payload":1}"#,
            r#"{"payload":1,"payload":2}"#,
            // Not JSON, or not only JSON.
            "\u{feff}{\"payload\":1}",
            "\u{a0}{\"payload\":1}",
            r#"{"payload":01}"#,
            r#"{"payload":1.}"#,
            r#"{"payload":.5}"#,
            r#"{"payload":-}"#,
            r#"{"payload":1e}"#,
            r#"{"payload":[1,]}"#,
            r#"{"payload":{"a":1,}}"#,
            r#"{"payload":1,}"#,
            r#"{"payload":1} x"#,
            r#"{"payload":tru}"#,
            r#"{"payload":"a	b"}"#,
            r#"{"payload":"\x"}"#,
            r#"{"payload":"\u12g4"}"#,
            r#"{"payload":"abc"#,
            r#"[1]"#,
            "",
            &deep,
            &deep_extra,
        ] {
            assert!(envelope(body).is_none(), "{body}");
            agrees(body).unwrap();
        }
    }

    #[test]
    fn flat_attributes_are_built_by_the_scan() {
        let map = flat_object(r#"{"a":"x","n":-1.5e2,"b":true,"z":null,"a":7}"#).unwrap();
        assert_eq!(
            Value::Object(map),
            serde_json::json!({"a": 7, "n": -150.0, "b": true, "z": null})
        );
        for other in [
            r#"{"a":{}}"#,
            r#"{"a":[1]}"#,
            r#"{"\u0061":1}"#,
            r#"{"a":1e400}"#,
            "[]",
        ] {
            assert!(flat_object(other).is_none(), "{other}");
        }
    }

    #[test]
    fn tricky_inputs_agree_with_serde_json() {
        for body in [
            r#"{"payload":"\u0000\/\b\f\n\r\t\"\\"}"#,
            r#"{"payload":"\uD834\uDD1E \uDBFF\uDFFF \uFFFF"}"#,
            r#"{"payload":"\uD800\u0041"}"#,
            r#"{"payload":"\uD800\n"}"#,
            r#"{"payload":[1e-400,-0.0e+0,1E308,-1.7976931348623157e308,1.8e308]}"#,
            r#"{"payload":123456789012345678901234567890}"#,
            r#"{"payload":-9223372036854775809}"#,
            r#"{"payload":{"":1,"_":2,"__":3,"a-b":4,"é":5}}"#,
            "{\t\"payload\"\n:\r1 }",
            r#"{"payload":[[[]],{},[{}]],"id":"\u00e9t\u00e9"}"#,
            r#"{"payload":1,"topic":"a\/b","attributes":{"k":"\u0041"}}"#,
            r#"{"payload":1,"timestamp":1.5}"#,
            r#"{"payload":1,"timestamp":-0}"#,
            r#"{"payload":1,"id":""}"#,
            r#"{"payloadBase64":"aGk\u003d"}"#,
            r#"{"payload":nul}"#,
            r#"{"payload":truex}"#,
            r#"{"payload":1 "id":"a"}"#,
            r#"{"payload":"\uDFFF\uD800"}"#,
            "{\"payload\":\"\u{7f}\u{80}\u{10ffff}\"}",
        ] {
            agrees(body).unwrap();
        }
    }

    #[test]
    fn field_name_violations_match_the_serde_json_walk() {
        for payload in [
            r#"{"ok":1,"bad-name":2}"#,
            r#"{"a":{"b-c":1},"A":2}"#,
            r#"{"a":1,"A":{"x-y":2}}"#,
            r#"[{"_ok":1},{"__no":2}]"#,
            r#"{"a":[{"b":1,"B":2}],"c-d":3}"#,
            r#"{"1st":true}"#,
        ] {
            let body = format!(r#"{{"payload":{payload}}}"#);
            assert!(envelope(&body).is_some(), "{body}");
            agrees(&body).unwrap();
        }
    }

    proptest! {
        /// Arbitrary text built from JSON's own pieces, as a payload and as an unknown field.
        #[test]
        fn random_payloads(text in r#"[\[\]{}",:0-9eE.+ \-tnulrf\\ud8aAbB_]{0,40}"#) {
            agrees(&format!(r#"{{"id":"a","payload":{text}}}"#))?;
            agrees(&format!(r#"{{"other":{text},"payload":1}}"#))?;
        }

        /// Attributes built by the scan are the map `serde_json` builds from the same text.
        #[test]
        fn flat_objects_are_what_serde_json_makes_of_them(
            text in r#"\{("[a-zA-Z\\]{0,3}" ?: ?(-?[0-9]{1,3}(\.[0-9])?(e[+-]?[0-9]{1,3})?|"[a-z\\u0-9]{0,6}"|true|fals|null|\[\]) ?,? ?){0,4}\}"#
        ) {
            if let Some(ours) = flat_object(&text) {
                let theirs = serde_json::from_str::<Value>(&text);
                prop_assert_eq!(theirs.ok(), Some(Value::Object(ours)), "{}", text);
            }
        }

        /// A valid envelope with characters inserted, removed or replaced anywhere.
        #[test]
        fn mutated_envelopes(
            edits in proptest::collection::vec(
                (any::<proptest::sample::Index>(), 0..3u8, proptest::char::range(' ', '~')),
                1..4,
            )
        ) {
            let mut chars: Vec<char> = concat!(
                r#"{"id":"m-1","topic":"plant/l1/t","attributes":{"d":"s-1","n":3},"#,
                r#""timestamp":1732270000000,"payload":{"t":81.5,"a-b":[1,"\u00e9"],"A":null}}"#
            )
            .chars()
            .collect();
            for (at, op, c) in edits {
                let i = at.index(chars.len() + 1);
                match op {
                    0 => chars.insert(i, c),
                    1 if i < chars.len() => { chars.remove(i); }
                    _ if i < chars.len() => chars[i] = c,
                    _ => chars.push(c),
                }
            }
            agrees(&chars.into_iter().collect::<String>())?;
        }
    }
}
