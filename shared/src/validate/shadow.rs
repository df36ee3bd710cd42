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

pub(super) fn check(
    dest: &Destination,
    thing: &str,
    shadow: Option<&str>,
    payload: &Payload,
) -> Result<(), ContractError> {
    check_names(dest, thing, shadow)?;
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
