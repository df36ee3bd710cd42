//! Device shadow `UpdateThingShadow`: thing and shadow names, the `{"state": {...}}` document and
//! its 8 KiB state budget.

use std::io;

use serde_json::Value;

use super::{ContractError, NameSet, ascii_name, name_rule};
use crate::destination::Destination;
use crate::message::{Payload, json_type};

/// thingName: 1–128 characters, `[a-zA-Z0-9:_-]+` (IoT thing names; design brief).
const MAX_THING_CHARS: usize = 128;
/// shadowName: 1–64 characters, `[$a-zA-Z0-9:_-]+` (named shadows; design brief).
const MAX_SHADOW_CHARS: usize = 64;
/// The state document (desired + reported) may be 8 KiB; metadata does not count (AWS IoT Device
/// Shadow quotas; design brief).
const MAX_STATE_BYTES: usize = 8192;
/// "JSON contains too many levels of nesting; maximum is 6" (Device Shadow error messages).
const MAX_SECTION_DEPTH: usize = 6;
/// "A client token that is longer than 64 bytes" is refused (Device Shadow error messages).
const MAX_CLIENT_TOKEN_BYTES: usize = 64;

pub(super) fn check_names(
    dest: &Destination,
    thing: &str,
    shadow: Option<&str>,
) -> Result<(), ContractError> {
    ascii_name(thing, MAX_THING_CHARS, |b| NameSet::Thing.allows(b)).map_err(|f| {
        ContractError::new(
            dest,
            "thingName",
            name_rule(f, MAX_THING_CHARS, "[a-zA-Z0-9:_-]+"),
        )
    })?;
    if let Some(name) = shadow {
        ascii_name(name, MAX_SHADOW_CHARS, |b| NameSet::Shadow.allows(b)).map_err(|f| {
            ContractError::new(
                dest,
                "shadowName",
                name_rule(f, MAX_SHADOW_CHARS, "[$a-zA-Z0-9:_-]+"),
            )
        })?;
    }
    Ok(())
}

pub(super) fn check(dest: &Destination, payload: &Payload) -> Result<(), ContractError> {
    const SHAPE: &str = r#"must be a JSON shadow document {"state": {...}}"#;
    let bad = |field: &str, rule: String| Err(ContractError::new(dest, field, rule));
    let Some(document) = payload.json() else {
        return bad(
            "payload",
            format!("{SHAPE}; a binary payload cannot update a shadow"),
        );
    };
    let Value::Object(map) = document else {
        return bad("payload", format!("{SHAPE}, found {}", json_type(document)));
    };
    let state = match map.get("state") {
        None => {
            return bad(
                "payload.state",
                format!("{SHAPE}: the `state` key is missing"),
            );
        }
        Some(state @ Value::Object(_)) => state,
        Some(other) => {
            return bad(
                "payload.state",
                format!(
                    "{SHAPE}: `state` must be an object, found {}",
                    json_type(other)
                ),
            );
        }
    };
    check_document(dest, map, state)?;
    // We measure the compact JSON serialization of the `state` value only: the desired and
    // reported sections the 8 KiB quota counts. Whitespace in the producer's text and other
    // top-level keys (`version`, `clientToken`, metadata) are not state.
    let size = serialized_len(state);
    if size > MAX_STATE_BYTES {
        return bad(
            "payload.state",
            format!(
                "is {size} bytes as compact JSON, over the shadow state limit of {MAX_STATE_BYTES} bytes (8 KiB)"
            ),
        );
    }
    Ok(())
}

/// What the Device Shadow service refuses with 400 (Device Shadow error messages,
/// <https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-error-messages.html>):
/// a `state` holding anything but `desired` and `reported`, either of them not an object (or
/// null, which deletes it), nesting deeper than 6 levels, a `clientToken` over 64 bytes, a
/// `version` that is not a whole number.
fn check_document(
    dest: &Destination,
    document: &serde_json::Map<String, Value>,
    state: &Value,
) -> Result<(), ContractError> {
    let bad = |field: &str, rule: String| Err(ContractError::new(dest, field, rule));
    if let Value::Object(sections) = state {
        for (key, section) in sections {
            let field = match key.as_str() {
                "desired" => "payload.state.desired",
                "reported" => "payload.state.reported",
                _ => {
                    return bad(
                        "payload.state",
                        "holds a key other than `desired` and `reported`: the Device Shadow \
                         service refuses it (\"State contains an invalid node\")"
                            .to_owned(),
                    );
                }
            };
            match section {
                Value::Object(_) | Value::Null => {}
                other => {
                    return bad(
                        field,
                        format!(
                            "must be an object (or null to delete it), found {}",
                            json_type(other)
                        ),
                    );
                }
            }
            let depth = depth(section);
            if depth > MAX_SECTION_DEPTH {
                return bad(
                    field,
                    format!(
                        "nests {depth} levels deep, over the Device Shadow limit of {MAX_SECTION_DEPTH}"
                    ),
                );
            }
        }
    }
    match document.get("clientToken") {
        None | Some(Value::Null) => {}
        Some(Value::String(token)) if token.len() <= MAX_CLIENT_TOKEN_BYTES => {}
        Some(Value::String(token)) => {
            return bad(
                "payload.clientToken",
                format!(
                    "is {} bytes, over the Device Shadow limit of {MAX_CLIENT_TOKEN_BYTES}",
                    token.len()
                ),
            );
        }
        Some(other) => {
            return bad(
                "payload.clientToken",
                format!("must be a string, found {}", json_type(other)),
            );
        }
    }
    match document.get("version") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(()),
        Some(other) => bad(
            "payload.version",
            format!("must be a whole number, found {}", json_type(other)),
        ),
    }
}

/// Levels of objects and arrays in a section: `{"a": 1}` is 1, `{"a": {"b": 1}}` is 2.
/// The envelope's own limit (64 levels) bounds the recursion.
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Bytes of the compact JSON text of `value`, counted without building it.
fn serialized_len(value: &Value) -> usize {
    let mut counter = Counter(0);
    // Writing to a counter cannot fail, and serializing a `Value` never does.
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

#[derive(Debug)]
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::testing::*;
    use super::super::{ContractLimits, check};
    use super::*;
    use crate::destination::EntryParams;
    use crate::message::Message;

    fn shadow(thing: &str, name: Option<&str>) -> Destination {
        Destination::Shadow {
            thing: thing.into(),
            shadow: name.map(str::to_owned),
        }
    }

    fn run(m: &Message) -> Result<(), ContractError> {
        check(
            m,
            &target(shadow("pump-1", Some("config")), EntryParams::Shadow),
            &ContractLimits::default(),
        )
    }

    /// A document whose `state` serializes to exactly `len` bytes: `{"desired":{"v":"…"}}`.
    fn state_of(len: usize) -> Message {
        let overhead = r#"{"desired":{"v":""}}"#.len();
        msg(&format!(
            r#"{{"state": {{"desired": {{"v": "{}"}}}}, "version": 3}}"#,
            "x".repeat(len - overhead)
        ))
    }

    #[test]
    fn documents_hold_what_the_shadow_service_accepts() {
        let ok = [
            r#"{"state": {"desired": {"a": 1}, "reported": null}}"#,
            r#"{"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}}"#,
            r#"{"state": {}, "clientToken": "t-1", "version": 7}"#,
        ];
        for doc in ok {
            assert_eq!(run(&msg(doc)), Ok(()), "{doc}");
        }
        let bad = [
            (
                r#"{"state": {"delta": {"a": 1}}}"#,
                "payload.state",
                "other than",
            ),
            (
                r#"{"state": {"desired": 5}}"#,
                "payload.state.desired",
                "must be an object",
            ),
            (
                r#"{"state": {"reported": [1]}}"#,
                "payload.state.reported",
                "must be an object",
            ),
            (
                r#"{"state": {"reported": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}}}"#,
                "payload.state.reported",
                "7 levels",
            ),
            (
                r#"{"state": {}, "version": "3"}"#,
                "payload.version",
                "whole number",
            ),
            (
                r#"{"state": {}, "version": 1.5}"#,
                "payload.version",
                "whole number",
            ),
            (
                r#"{"state": {}, "clientToken": 5}"#,
                "payload.clientToken",
                "string",
            ),
        ];
        for (doc, field, rule) in bad {
            let e = run(&msg(doc)).unwrap_err();
            assert_eq!(e.field, field, "{doc}");
            assert!(e.rule.contains(rule), "{doc}: {e}");
        }
        let token = format!(r#"{{"state": {{}}, "clientToken": "{}"}}"#, "t".repeat(65));
        assert!(run(&msg(&token)).unwrap_err().rule.contains("64"));
    }

    #[test]
    fn thing_names() {
        let c = |t: &str| check_names(&shadow(t, None), t, None);
        for ok in ["t", "pump-1", "a:b_c-D9", &"t".repeat(128)] {
            assert_eq!(c(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            c(&"t".repeat(129)).unwrap_err().rule,
            "must be 1–128 characters, is 129"
        );
        for bad in ["", "a b", "a/b", "a.b", "$t", "é"] {
            assert_eq!(c(bad).unwrap_err().field, "thingName", "{bad}");
        }
    }

    #[test]
    fn shadow_names() {
        let c = |s: &str| check_names(&shadow("t", Some(s)), "t", Some(s));
        for ok in ["s", "$cfg", "a:b_c-D9$", &"s".repeat(64)] {
            assert_eq!(c(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            c(&"s".repeat(65)).unwrap_err().rule,
            "must be 1–64 characters, is 65"
        );
        for bad in ["", "a b", "a/b", "a.b", "é"] {
            assert_eq!(c(bad).unwrap_err().field, "shadowName", "{bad}");
        }
        assert_eq!(
            c("a.b").unwrap_err().to_string(),
            "shadow:t/a.b field `shadowName`: must match [$a-zA-Z0-9:_-]+: character 2 is not allowed"
        );
    }

    #[test]
    fn documents() {
        for ok in [
            r#"{"state": {}}"#,
            r#"{"state": {"desired": {"on": true}}}"#,
            r#"{"state": {"reported": {"t": 21.5}, "desired": null}, "version": 7, "clientToken": "c"}"#,
        ] {
            assert_eq!(run(&msg(ok)), Ok(()), "{ok}");
        }
        let cases = [
            (r#"{"desired": {}}"#, "payload.state"),
            (r#"{"state": null}"#, "payload.state"),
            (r#"{"state": [1]}"#, "payload.state"),
            (r#"{"state": "on"}"#, "payload.state"),
            (r#"[{"state": {}}]"#, "payload"),
            ("42", "payload"),
        ];
        for (doc, field) in cases {
            assert_eq!(run(&msg(doc)).unwrap_err().field, field, "{doc}");
        }
        assert_eq!(
            run(&msg(r#"{"state": [1]}"#)).unwrap_err().rule,
            r#"must be a JSON shadow document {"state": {...}}: `state` must be an object, found an array"#
        );
    }

    #[test]
    fn binary_payloads_are_refused() {
        let e = run(&binary(8)).unwrap_err();
        assert_eq!(e.field, "payload");
        assert!(
            e.rule.ends_with("a binary payload cannot update a shadow"),
            "{e}"
        );
    }

    #[test]
    fn state_budget_is_measured_on_compact_state() {
        assert_eq!(
            serialized_len(state_of(8192).payload.json().unwrap().get("state").unwrap()),
            8192
        );
        assert_eq!(run(&state_of(8192)), Ok(()));
        let e = run(&state_of(8193)).unwrap_err();
        assert_eq!(e.field, "payload.state");
        assert_eq!(
            e.rule,
            "is 8193 bytes as compact JSON, over the shadow state limit of 8192 bytes (8 KiB)"
        );
        // Whitespace and keys outside `state` do not count.
        let padded = format!(
            r#"{{"state": {{ "desired" : {{ "v" : "{}" }} }}, "clientToken": "{}"}}"#,
            "x".repeat(8192 - 20),
            "c".repeat(64)
        );
        assert!(padded.len() > 8192);
        assert_eq!(run(&msg(&padded)), Ok(()));
    }
}
