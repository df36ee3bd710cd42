//! A compact JSON writer for outbox lines, and for the IoT Analytics and IoT Events Data request
//! bodies the signed calls send (the same request object): the bytes `serde_json` writes for the
//! same values, without going through `Serialize`. Escaping the payloads (every SNS, MQTT and
//! shadow body is a JSON string in its line) was a fifth of the routing pipeline with
//! `serde_json`, which tests each byte; here a word at a time, or with `memchr` on long runs.
//! Base64 goes straight into the line, where a `RawValue` had to be built and re-checked first
//! (BENCHMARKS.md, section 9).

use crate::json_string::{needs_escape_byte, next_escape};
use crate::sink::Body;

/// One JSON text being written. Commas are placed by the writer: a value or key after another
/// member of the same object or array gets one.
#[derive(Debug)]
pub(super) struct JsonWriter {
    out: Vec<u8>,
    /// Nothing has been written yet in the innermost open object or array (or after a key).
    first: bool,
}

impl JsonWriter {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        JsonWriter {
            out: Vec::with_capacity(capacity),
            first: true,
        }
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    fn separate(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    pub(super) fn begin_object(&mut self) {
        self.separate();
        self.out.push(b'{');
        self.first = true;
    }

    pub(super) fn end_object(&mut self) {
        self.out.push(b'}');
        self.first = false;
    }

    pub(super) fn begin_array(&mut self) {
        self.separate();
        self.out.push(b'[');
        self.first = true;
    }

    pub(super) fn end_array(&mut self) {
        self.out.push(b']');
        self.first = false;
    }

    /// An object member's name from the code (an API's member name, which never needs
    /// escaping); its value is written next. Inlined, so each name is copied with its length
    /// known: a `memmove` call per key was 2.5 % of the routing pipeline.
    #[inline(always)]
    pub(super) fn key(&mut self, name: &'static str) {
        debug_assert!(!name.bytes().any(needs_escape_byte));
        self.separate();
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.first = true;
    }

    /// An object member's name made at run time, escaped.
    pub(super) fn dynamic_key(&mut self, name: &str) {
        self.separate();
        escape_into(&mut self.out, name);
        self.out.push(b':');
        self.first = true;
    }

    pub(super) fn str(&mut self, value: &str) {
        self.separate();
        escape_into(&mut self.out, value);
    }

    pub(super) fn int(&mut self, value: impl itoa::Integer) {
        self.separate();
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    pub(super) fn bool(&mut self, value: bool) {
        self.separate();
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    /// `bytes` in standard base64, as a string (base64 holds nothing to escape).
    pub(super) fn base64(&mut self, bytes: &[u8]) {
        self.separate();
        self.out.push(b'"');
        base64_simd::STANDARD.encode_append(bytes, &mut self.out);
        self.out.push(b'"');
    }

    /// A body in base64. A body other entries share (a message sent to IoT Analytics and IoT
    /// Events) is encoded once, then copied.
    pub(super) fn body_base64(&mut self, body: &Body) {
        if !body.is_shared() {
            return self.base64(body);
        }
        let encoded = body.base64(|| base64_simd::STANDARD.encode_type::<Vec<u8>>(body));
        self.separate();
        self.out.push(b'"');
        self.out.extend_from_slice(encoded);
        self.out.push(b'"');
    }

    /// A body as a JSON string, when it is UTF-8 text; nothing is written otherwise. A body other
    /// entries share (a message sent to SNS and to an MQTT topic) is escaped once, then copied.
    pub(super) fn body_str(&mut self, body: &Body) -> bool {
        let Some(text) = body.text() else {
            return false;
        };
        self.separate();
        if body.is_shared() {
            let escaped = body.json_string(|| {
                // Room for an escape every eight bytes (JSON text escapes its quotes), so the
                // copy is not grown on the way.
                let mut out = Vec::with_capacity(text.len() + text.len() / 8 + 2);
                escape_into(&mut out, text);
                out
            });
            self.out.extend_from_slice(escaped);
        } else {
            escape_into(&mut self.out, text);
        }
        true
    }

    /// `"name":"value"`.
    pub(super) fn str_member(&mut self, name: &'static str, value: &str) {
        self.key(name);
        self.str(value);
    }

    /// `"name":"value"` when there is a value.
    pub(super) fn opt_str_member(&mut self, name: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.str_member(name, value);
        }
    }
}

/// Writes the escape of a byte that needs one, as `serde_json` writes it: the two-character
/// forms where JSON has them, `\u00XX` in lowercase hex for the other control characters.
fn push_escape(out: &mut Vec<u8>, byte: u8) {
    let short: &[u8] = match byte {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0c => b"\\f",
        0..0x20 => {
            let hex = |nibble: u8| {
                if nibble < 10 {
                    b'0' + nibble
                } else {
                    b'a' + nibble - 10
                }
            };
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex(byte >> 4), hex(byte & 0xf)]);
            return;
        }
        other => {
            out.push(other);
            return;
        }
    };
    out.extend_from_slice(short);
}

/// Writes `text` as a JSON string literal, quotes included.
fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Bytes from `written` on are not in `out` yet.
    let mut written = 0;
    while let Some(at) = next_escape(bytes, written) {
        // Runs between escapes in JSON text are short (a key, a number): a fixed 16-byte copy,
        // cut back to the run, is a pair of stores where a copy of the run's own length is a
        // call to `memmove`.
        match bytes.get(written..written + 16) {
            Some(chunk) if at - written <= 16 => {
                let chunk = <&[u8; 16]>::try_from(chunk).unwrap_or(&[0; 16]);
                out.extend_from_slice(chunk);
                out.truncate(out.len() - (16 - (at - written)));
            }
            _ => out.extend_from_slice(bytes.get(written..at).unwrap_or_default()),
        }
        match bytes.get(at) {
            // Nearly every escape in a JSON payload is one of these two; testing them first
            // keeps `push_escape`'s jump table (a mispredicted indirect jump per escape) for the
            // control characters.
            Some(&byte @ (b'"' | b'\\')) => out.extend_from_slice(&[b'\\', byte]),
            Some(&byte) => push_escape(out, byte),
            None => {}
        }
        written = at + 1;
    }
    out.extend_from_slice(bytes.get(written..).unwrap_or_default());
    out.push(b'"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use proptest::prelude::*;

    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        escape_into(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_as_serde_json_does() {
        let mut every_char: String = (0u8..0x80).map(char::from).collect();
        every_char.push_str("é€😀\u{2028}\u{fffd}");
        for text in [
            "",
            "a",
            "\"",
            "0123456\"",
            "01234567\"",
            "\\\\\\\\\\\\\\\\\\",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\u{1f}",
            every_char.as_str(),
        ] {
            assert_eq!(escaped(text), serde_json::to_string(text).unwrap());
        }
    }

    #[test]
    fn writes_members_with_commas_where_serde_json_puts_them() {
        let mut w = JsonWriter::with_capacity(0);
        w.begin_object();
        w.str_member("a", "x");
        w.key("b");
        w.begin_array();
        w.int(-5_i64);
        w.bool(true);
        w.begin_object();
        w.end_object();
        w.begin_array();
        w.end_array();
        w.base64(b"\xff\x00");
        w.end_array();
        w.opt_str_member("c", None);
        w.opt_str_member("d", Some("\n"));
        w.dynamic_key("e\"");
        w.int(0_u8);
        w.end_object();
        assert_eq!(
            String::from_utf8(w.into_bytes()).unwrap(),
            serde_json::json!({"a": "x", "b": [-5, true, {}, [], "/wA="], "d": "\n", "e\"": 0})
                .to_string()
        );
    }

    proptest! {
        #[test]
        fn any_text_is_escaped_as_serde_json_escapes_it(text in any::<String>()) {
            prop_assert_eq!(escaped(&text), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn text_rich_in_escapes_is_escaped_as_serde_json_escapes_it(
            text in proptest::collection::vec(
                prop_oneof![Just('"'), Just('\\'), Just('x'), Just('\u{1}'), Just('\n'), Just('é')],
                0..64,
            ).prop_map(String::from_iter)
        ) {
            prop_assert_eq!(escaped(&text), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn a_shared_body_is_written_as_an_unshared_one(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            text in any::<String>(),
        ) {
            for body in [Body::from(bytes.clone()), Body::from(std::sync::Arc::<str>::from(text.as_str()))] {
                let write = |body: &Body| {
                    let mut w = JsonWriter::with_capacity(0);
                    w.begin_array();
                    let is_text = w.body_str(body);
                    w.body_base64(body);
                    w.end_array();
                    (is_text, w.into_bytes())
                };
                let alone = write(&body);
                let other = body.clone();
                // Twice while shared: the first fills the kept forms, the second copies them.
                prop_assert_eq!(&write(&body), &alone);
                prop_assert_eq!(&write(&other), &alone);
                let (is_text, line) = alone;
                let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
                let expected = match std::str::from_utf8(&body) {
                    Ok(text) => serde_json::json!([text, BASE64.encode(&*body)]),
                    Err(_) => serde_json::json!([BASE64.encode(&*body)]),
                };
                prop_assert_eq!(is_text, body.text().is_some());
                prop_assert_eq!(value, expected);
            }
        }
    }
}
