//! EventBridge `PutEvents` entries: the event bus (name or ARN), Source, DetailType, Resources,
//! the Detail (a JSON object: the payload itself or the message envelope) and the entry size as
//! EventBridge computes it.

use std::fmt;
use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{ContractError, arn};
use crate::destination::{Destination, DetailMode, EventBridgeParams};
use crate::message::{Message, Payload};

/// EventBusName: a name of `[/.\-_A-Za-z0-9]` or an event bus ARN, 1–1600 characters (API
/// reference, PutEventsRequestEntry).
const MAX_BUS_CHARS: usize = 1600;
/// Source: 1–256 characters, starting with one of `[/.\-_A-Za-z0-9]`, and not `aws.…`, which
/// AWS services use (EventBridge API reference, EventBridgeParameters / PutEventsRequestEntry).
const MAX_SOURCE_CHARS: usize = 256;
/// DetailType: "Free-form string, with a maximum of 128 characters" (PutEventsRequestEntry).
const MAX_DETAIL_TYPE_CHARS: usize = 128;
/// Each resource ARN: up to 2048 characters (PutEventsRequestEntry).
const MAX_RESOURCE_CHARS: usize = 2048;
/// "The total entry size must be less than 1MB" (API reference, PutEvents).
pub(crate) const MAX_ENTRY_BYTES: usize = 1024 * 1024 - 1;
/// "If specified, the Time parameter is 14 bytes" (User Guide, Calculating PutEvents event entry
/// size). Entries carry Time when the message has a timestamp.
const TIME_BYTES: usize = 14;

fn bus_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_')
}

/// An event bus name (`default` for the account's default bus) or ARN.
pub(super) fn check_bus(dest: &Destination, bus: &str) -> Result<(), ContractError> {
    let bad = |rule: String| Err(ContractError::new(dest, "EventBusName", rule));
    let chars = bus.chars().count();
    if chars == 0 || chars > MAX_BUS_CHARS {
        return bad(format!("must be 1–{MAX_BUS_CHARS} characters, is {chars}"));
    }
    let name = if bus.starts_with("arn:") {
        arn::resource_name(dest, "EventBusName", bus, "events", "event-bus")?
    } else {
        bus
    };
    if name.is_empty() || !name.bytes().all(bus_name_char) {
        return bad("the bus name must be 1 or more of [/.-_A-Za-z0-9]".to_owned());
    }
    Ok(())
}

/// Writes the Detail for a message: the payload's own JSON text, or the envelope object
/// `{"id", "topic", "attributes", "timestamp", "payload" | "payloadBase64"}` with the payload's
/// exact text inside. Written by hand so the payload is copied, never re-encoded.
fn write_detail<W: Write>(msg: &Message, mode: DetailMode, out: &mut W) -> io::Result<()> {
    match mode {
        DetailMode::Payload => out.write_all(msg.payload.bytes()),
        DetailMode::Envelope => {
            out.write_all(b"{\"id\":")?;
            json(out, msg.id.as_str())?;
            if let Some(topic) = &msg.topic {
                out.write_all(b",\"topic\":")?;
                json(out, topic.as_str())?;
            }
            out.write_all(b",\"attributes\":")?;
            json(out, &msg.attributes)?;
            if let Some(ts) = msg.timestamp {
                write!(out, ",\"timestamp\":{ts}")?;
            }
            match &msg.payload {
                Payload::Json(p) => {
                    out.write_all(b",\"payload\":")?;
                    out.write_all(p.raw().as_bytes())?;
                }
                Payload::Binary(bytes) => {
                    out.write_all(b",\"payloadBase64\":\"")?;
                    out.write_all(BASE64.encode(bytes).as_bytes())?;
                    out.write_all(b"\"")?;
                }
            }
            out.write_all(b"}")
        }
    }
}

/// Serializes a value straight into the writer (strings, the attribute map).
fn json<W: Write, T: serde::Serialize + ?Sized>(out: &mut W, value: &T) -> io::Result<()> {
    serde_json::to_writer(out, value).map_err(io::Error::other)
}

/// Counts bytes instead of keeping them: the Detail's size without building it.
struct Count(usize);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The EventBridge `Detail` text for a message.
pub fn eventbridge_detail(msg: &Message, mode: DetailMode) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.payload.len() + 128);
    // Writing into a Vec cannot fail, and every value written serializes (strings and a map
    // of JSON values).
    let _ = write_detail(msg, mode, &mut out);
    out
}

fn detail_len(msg: &Message, mode: DetailMode) -> usize {
    let mut count = Count(0);
    let _ = write_detail(msg, mode, &mut count);
    count.0
}

/// The entry size as EventBridge computes it: Time (14 bytes when sent), then the UTF-8 bytes
/// of Source, DetailType, Detail and each resource.
pub(crate) fn entry_size(params: &EventBridgeParams, has_time: bool, detail: usize) -> usize {
    let resources: usize = params.resources.iter().map(String::len).sum();
    [
        if has_time { TIME_BYTES } else { 0 },
        params.source.len(),
        params.detail_type.len(),
        detail,
        resources,
    ]
    .iter()
    .fold(0usize, |a, b| a.saturating_add(*b))
}

pub(super) fn check(
    dest: &Destination,
    msg: &Message,
    params: &EventBridgeParams,
) -> Result<(), ContractError> {
    let resources: Vec<Option<&str>> = params.resources.iter().map(|r| Some(r.as_str())).collect();
    check_literals(
        dest,
        Some(&params.source),
        Some(&params.detail_type),
        &resources,
    )?;
    if params.detail == DetailMode::Payload {
        check_object_payload(dest, &msg.payload)?;
    }
    let size = entry_size(
        params,
        msg.timestamp.is_some(),
        detail_len(msg, params.detail),
    );
    if size > MAX_ENTRY_BYTES {
        return Err(ContractError::new(
            dest,
            "Detail",
            format!(
                "the entry is {size} bytes as EventBridge counts it (Time, Source, DetailType, \
                 Detail, Resources); it must be under 1 MiB (1,048,576 bytes)"
            ),
        ));
    }
    Ok(())
}

/// Source, DetailType and Resources, when known: at cold start for the table's literals, and
/// per message.
pub(super) fn check_literals(
    dest: &dyn fmt::Display,
    source: Option<&str>,
    detail_type: Option<&str>,
    resources: &[Option<&str>],
) -> Result<(), ContractError> {
    if let Some(source) = source {
        check_source(dest, source)?;
    }
    if let Some(detail_type) = detail_type {
        let n = detail_type.chars().count();
        if n == 0 || n > MAX_DETAIL_TYPE_CHARS {
            return Err(ContractError::new(
                dest,
                "DetailType",
                format!("must be 1–{MAX_DETAIL_TYPE_CHARS} characters, is {n}"),
            ));
        }
    }
    for (i, r) in resources.iter().enumerate() {
        let Some(r) = r else { continue };
        let n = r.chars().count();
        if n == 0 || n > MAX_RESOURCE_CHARS {
            return Err(ContractError::new(
                dest,
                format!("Resources[{i}]"),
                format!("must be 1–{MAX_RESOURCE_CHARS} characters, is {n}"),
            ));
        }
    }
    Ok(())
}

fn check_source(dest: &dyn fmt::Display, source: &str) -> Result<(), ContractError> {
    let bad = |rule: String| Err(ContractError::new(dest, "Source", rule));
    let chars = source.chars().count();
    if chars == 0 || chars > MAX_SOURCE_CHARS {
        return bad(format!(
            "must be 1–{MAX_SOURCE_CHARS} characters, is {chars}"
        ));
    }
    if !source.bytes().next().is_some_and(bus_name_char) {
        return bad("must start with one of [/.-_A-Za-z0-9]".to_owned());
    }
    if source.starts_with("aws.") {
        return bad(
            "must not start with `aws.`: that prefix is reserved for AWS services".to_owned(),
        );
    }
    Ok(())
}

/// `detail: "payload"` sends the payload as the Detail, which EventBridge takes only as a JSON
/// object. A payload checked at decode is valid JSON, so its first non-blank byte says what it is.
fn check_object_payload(dest: &Destination, payload: &Payload) -> Result<(), ContractError> {
    let found = match payload {
        Payload::Binary(_) => "a binary payload",
        Payload::Json(p) => match p.raw().trim_start().as_bytes().first() {
            Some(b'{') => return Ok(()),
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            _ => "a number, boolean or null",
        },
    };
    Err(ContractError::new(
        dest,
        "Detail",
        format!(
            "EventBridge takes only a JSON object as Detail, found {found}: use `\"detail\": \"envelope\"` \
             to wrap any payload"
        ),
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::super::testing::*;
    use super::super::{ContractLimits, check as check_any};
    use super::*;
    use crate::destination::EntryParams;

    fn bus(name: &str) -> Destination {
        Destination::EventBridge {
            event_bus: name.into(),
        }
    }

    fn params(detail: DetailMode) -> EventBridgeParams {
        EventBridgeParams {
            source: "iot.fanout".into(),
            detail_type: "telemetry".into(),
            resources: Vec::new(),
            detail,
        }
    }

    fn run(m: &Message, p: EventBridgeParams) -> Result<(), ContractError> {
        check_any(
            m,
            &target(bus("default"), EntryParams::EventBridge(Arc::new(p))),
            &ContractLimits::default(),
        )
    }

    #[test]
    fn buses_by_name_or_arn() {
        for ok in [
            "default",
            "iot/events.v1_x-y",
            "arn:aws:events:eu-west-1:123456789012:event-bus/iot",
        ] {
            assert_eq!(check_bus(&bus(ok), ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "arn:aws:events:eu-west-1:123456789012:rule/iot",
            "arn:aws:events:eu-west-1:123456789012:event-bus/",
            &"b".repeat(1601),
        ] {
            assert_eq!(
                check_bus(&bus(bad), bad).unwrap_err().field,
                "EventBusName",
                "{bad}"
            );
        }
    }

    #[test]
    fn sources_and_detail_types() {
        let m = msg("{}");
        let with_source = |s: &str| {
            run(
                &m,
                EventBridgeParams {
                    source: s.into(),
                    ..params(DetailMode::Payload)
                },
            )
        };
        for ok in [
            "iot",
            "com.example.plant1",
            "/x",
            "AWS.custom",
            &"s".repeat(256),
        ] {
            assert_eq!(with_source(ok), Ok(()), "{ok}");
        }
        for bad in ["", "aws.iot", " iot", "#iot", &"s".repeat(257)] {
            assert_eq!(with_source(bad).unwrap_err().field, "Source", "{bad}");
        }
        let long = EventBridgeParams {
            detail_type: "t".repeat(129),
            ..params(DetailMode::Payload)
        };
        assert_eq!(run(&m, long).unwrap_err().field, "DetailType");
        let empty_resource = EventBridgeParams {
            resources: vec![
                "arn:aws:iot:eu-west-1:123456789012:thing/a".into(),
                String::new(),
            ],
            ..params(DetailMode::Payload)
        };
        assert_eq!(run(&m, empty_resource).unwrap_err().field, "Resources[1]");
    }

    #[test]
    fn payload_detail_must_be_an_object() {
        assert_eq!(
            run(&msg(r#" {"a":1}"#), params(DetailMode::Payload)),
            Ok(())
        );
        for (payload, found) in [
            ("[1]", "an array"),
            ("\"x\"", "a string"),
            ("1", "a number"),
        ] {
            let e = run(&msg(payload), params(DetailMode::Payload)).unwrap_err();
            assert_eq!(e.field, "Detail");
            assert!(e.rule.contains(found), "{e}");
        }
        assert!(run(&binary(2), params(DetailMode::Payload)).is_err());
        // The envelope wraps anything.
        assert_eq!(run(&msg("[1]"), params(DetailMode::Envelope)), Ok(()));
        assert_eq!(run(&binary(2), params(DetailMode::Envelope)), Ok(()));
    }

    #[test]
    fn envelope_detail_is_the_message_as_json() {
        let m = Message::decode(
            r#"{"id": "m-1", "topic": "a/b", "attributes": {"d": "x\"y", "n": 2}, "timestamp": 7, "payload": {"t": 1.50}}"#,
            None,
        )
        .unwrap();
        let detail = eventbridge_detail(&m, DetailMode::Envelope);
        let v: Value = serde_json::from_slice(&detail).unwrap();
        assert_eq!(
            v,
            json!({"id": "m-1", "topic": "a/b", "attributes": {"d": "x\"y", "n": 2}, "timestamp": 7, "payload": {"t": 1.50}})
        );
        // The payload's own text is kept (1.50, not 1.5).
        assert!(
            std::str::from_utf8(&detail)
                .unwrap()
                .ends_with(r#""payload":{"t": 1.50}}"#)
        );
        assert_eq!(detail_len(&m, DetailMode::Envelope), detail.len());
        let b = Message::decode(r#"{"id": "b", "payloadBase64": "AAE="}"#, None).unwrap();
        let v: Value =
            serde_json::from_slice(&eventbridge_detail(&b, DetailMode::Envelope)).unwrap();
        assert_eq!(
            v,
            json!({"id": "b", "attributes": {}, "payloadBase64": "AAE="})
        );
        assert_eq!(
            eventbridge_detail(&m, DetailMode::Payload),
            br#"{"t": 1.50}"#
        );
    }

    #[test]
    fn entry_size_as_eventbridge_counts_it() {
        let p = EventBridgeParams {
            resources: vec!["r1".into(), "r22".into()],
            ..params(DetailMode::Payload)
        };
        // 14 (Time) + 10 (Source) + 9 (DetailType) + 100 (Detail) + 5 (Resources).
        assert_eq!(entry_size(&p, true, 100), 138);
        assert_eq!(entry_size(&p, false, 100), 124);
        // Detail of 1,048,575 − 19 bytes is the largest entry that fits.
        let fits = 1_048_575 - 19;
        let m = raw_object(fits);
        assert_eq!(run(&m, params(DetailMode::Payload)), Ok(()));
        let e = run(&raw_object(fits + 1), params(DetailMode::Payload)).unwrap_err();
        assert_eq!(e.field, "Detail");
        assert!(e.rule.contains("1048576 bytes"), "{e}");
    }

    /// A JSON object payload of exactly `len` bytes.
    fn raw_object(len: usize) -> Message {
        let mut m = raw_sized(len - 6);
        m.payload = crate::message::Payload::Json(
            crate::message::JsonPayload::parse(&format!(
                r#"{{"a":{}}}"#,
                String::from_utf8_lossy(m.payload.bytes())
            ))
            .unwrap(),
        );
        assert_eq!(m.payload.len(), len);
        m
    }
}
