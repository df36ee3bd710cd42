//! The message envelope: decoding one JSON message from a trigger, with errors that name the field.

mod scan;

use std::cell::{Cell, RefCell};
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::sink::Body;
use crate::validate::Path;
use crate::validate::analytics::{FieldKey, FieldNameViolation, case_duplicate, field_name_rule};

/// Longest message id accepted; the downstream ids derived from it are shortened anyway.
pub const MAX_ID_CHARS: usize = 256;
/// Longest routing topic (IoT Core's own limit on topic names is 256 bytes).
pub const MAX_TOPIC_BYTES: usize = 256;
/// Payload cap at the envelope, before any destination's own (smaller) cap applies.
/// SNS accepts the largest payloads of our destinations: 256 KiB (262,144 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 262_144;
/// serde_json refuses nesting deeper than 128; we stop earlier, with a clearer error.
pub const MAX_DEPTH: usize = 64;

/// One decoded message, ready to be routed.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub topic: Option<String>,
    pub attributes: Map<String, Value>,
    /// Milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
    pub payload: Payload,
}

/// The payload, kept as the exact bytes the producer sent.
#[derive(Debug, Clone)]
pub enum Payload {
    Json(JsonPayload),
    Binary(Arc<[u8]>),
}

/// A JSON payload: its exact text, checked at decode to parse as `serde_json` would parse it,
/// and the parsed value, built on first use. Most routes read only the topic and attributes, so
/// building a `Value` for every payload (an allocation per key and string) was mostly wasted, and
/// it held several times the payload's size in memory per message (BENCHMARKS.md).
#[derive(Debug, Clone)]
pub struct JsonPayload {
    raw: Arc<str>,
    value: OnceLock<Value>,
    /// The first IoT Analytics field-name rule the payload breaks, found by the same walk that
    /// checks the text: a second walk for each IoT Analytics target cost a sixth of the routing
    /// pipeline (BENCHMARKS.md, "What was changed").
    field_names: Option<Box<FieldNameViolation>>,
}

impl JsonPayload {
    /// Checks `text` the way [`Message::decode`] checks a payload: at most [`MAX_DEPTH`] levels,
    /// and accepted by `serde_json`'s `Value` parser (numbers within `f64`, valid escapes).
    pub fn parse(text: &str) -> Result<JsonPayload, MessageError> {
        let state = WalkState {
            // Room for the keys of a typical reading without growing (a third of the payload
            // walk's allocations were this buffer's growth).
            keys: RefCell::new(Vec::with_capacity(16)),
            ..WalkState::default()
        };
        let check = PayloadWalk {
            depth: 0,
            path: Path::root("payload"),
            state: &state,
        };
        let mut parser = serde_json::Deserializer::from_str(text);
        serde::de::DeserializeSeed::deserialize(check, &mut parser)
            .and_then(|()| parser.end())
            .map_err(|e| {
                if state.too_deep.get() {
                    MessageError::TooDeep
                } else {
                    MessageError::field("payload", json_error(&e))
                }
            })?;
        Ok(JsonPayload::checked(text, state.violation.into_inner()))
    }

    /// A payload whose text was checked, with the first field-name rule it breaks.
    fn checked(text: &str, field_names: Option<FieldNameViolation>) -> JsonPayload {
        JsonPayload {
            raw: Arc::from(text),
            value: OnceLock::new(),
            field_names: field_names.map(Box::new),
        }
    }

    /// The exact text the producer sent.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The parsed value, built once on first use.
    pub fn value(&self) -> &Value {
        // `parse` checked the text with the parser used here, so the fallback is unreachable.
        self.value
            .get_or_init(|| serde_json::from_str(&self.raw).unwrap_or(Value::Null))
    }

    /// The first IoT Analytics field-name rule an object key breaks, in document order.
    pub(crate) fn field_name_violation(&self) -> Option<&FieldNameViolation> {
        self.field_names.as_deref()
    }
}

/// The `Visitor` methods of a walk over JSON text that accepts every scalar (`serde_json` has
/// already parsed it: numbers converted, strings unescaped) and looks only at arrays and objects.
macro_rules! accept_json_scalars {
    () => {
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }

        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }

        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }

        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }

        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }

        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    };
}

/// What one payload walk keeps: whether it went too deep, the first field-name violation, and
/// the keys of the objects being walked (one buffer for the whole payload: an object's keys sit
/// above its parent's and are dropped when it ends).
#[derive(Default)]
struct WalkState<'de> {
    too_deep: Cell<bool>,
    violation: RefCell<Option<FieldNameViolation>>,
    keys: RefCell<Vec<FieldKey<'de>>>,
}

/// Parses a JSON value as `serde_json` parses it into a `Value`, building nothing: numbers are
/// converted (`1e400` is refused, as by `Value`) and strings unescaped (lone surrogates are
/// refused). Stops past [`MAX_DEPTH`] levels of arrays and objects. On the way it checks every
/// object key against IoT Analytics' field-name rules and keeps the first one broken.
#[derive(Clone, Copy)]
struct PayloadWalk<'p, 's, 'de> {
    depth: usize,
    path: Path<'p>,
    state: &'s WalkState<'de>,
}

impl<'p, 's, 'de> PayloadWalk<'p, 's, 'de> {
    /// The depth of an array's or object's members; refused past [`MAX_DEPTH`], even empty.
    fn enter<E: serde::de::Error>(&self) -> Result<usize, E> {
        if self.depth >= MAX_DEPTH {
            self.state.too_deep.set(true);
            return Err(E::custom("too deep"));
        }
        Ok(self.depth + 1)
    }

    fn member<'q>(&self, depth: usize, path: Path<'q>) -> PayloadWalk<'q, 's, 'de> {
        PayloadWalk {
            depth,
            path,
            state: self.state,
        }
    }

    fn checking(&self) -> bool {
        self.state.violation.borrow().is_none()
    }

    fn found(&self, violation: FieldNameViolation) {
        *self.state.violation.borrow_mut() = Some(violation);
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for PayloadWalk<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PayloadWalk<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    accept_json_scalars!();

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.enter()?;
        let mut i = 0;
        while seq
            .next_element_seed(self.member(depth, self.path.index(i)))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.enter()?;
        let start = self.state.keys.borrow().len();
        while let Some(key) = map.next_key::<FieldKey<'de>>()? {
            let path = self.path.key(key.name());
            if self.checking()
                && let Some(rule) = field_name_rule(key.name())
            {
                self.found(FieldNameViolation::new(&path, rule));
            }
            map.next_value_seed(self.member(depth, path))?;
            self.state.keys.borrow_mut().push(key);
        }
        let mut keys = self.state.keys.borrow_mut();
        if self.checking()
            && let Some((later, rule)) = keys.get(start..).and_then(case_duplicate)
        {
            self.found(FieldNameViolation::new(&self.path.key(later.name()), rule));
        }
        keys.truncate(start);
        Ok(())
    }
}

impl Payload {
    /// The bytes a destination receives.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Payload::Json(json) => json.raw.as_bytes(),
            Payload::Binary(bytes) => bytes,
        }
    }

    /// The bytes as an entry body on the message's own buffer (no copy); a JSON payload is
    /// known to be text.
    pub fn body(&self) -> Body {
        match self {
            Payload::Json(json) => Body::from(Arc::clone(&json.raw)),
            Payload::Binary(bytes) => Body::from(Arc::clone(bytes)),
        }
    }

    /// The parsed JSON value, when the payload is JSON.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Payload::Json(json) => Some(json.value()),
            Payload::Binary(_) => None,
        }
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }
}

/// Why an envelope was refused. Every variant names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("body is not valid JSON: {0}")]
    NotJson(String),
    #[error("body must be a JSON object (the message envelope), found {0}")]
    NotAnObject(&'static str),
    #[error("field `{field}`: {rule}")]
    Field { field: &'static str, rule: String },
    #[error("exactly one of `payload` and `payloadBase64` is required, found {0}")]
    PayloadChoice(&'static str),
    #[error("payload is {size} bytes, over the limit of {limit} bytes")]
    PayloadTooLarge { size: usize, limit: usize },
    #[error("payload nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

impl MessageError {
    fn field(field: &'static str, rule: impl Into<String>) -> Self {
        MessageError::Field {
            field,
            rule: rule.into(),
        }
    }
}

/// One envelope's fields, as the exact text of their values (`null` included), found by the
/// fast scan or by `serde_json`.
#[derive(Default)]
struct Fields<'a> {
    id: Option<&'a str>,
    topic: Option<&'a str>,
    attributes: Option<&'a str>,
    timestamp: Option<&'a str>,
    payload: Option<&'a str>,
    payload_base64: Option<&'a str>,
    /// Set when the payload was checked as it was found (by the fast scan): the first IoT
    /// Analytics field-name rule it breaks, if any.
    payload_field_names: Option<Option<FieldNameViolation>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    #[serde(default, borrow)]
    id: Option<&'a RawValue>,
    #[serde(default, borrow)]
    topic: Option<&'a RawValue>,
    #[serde(default, borrow)]
    attributes: Option<&'a RawValue>,
    #[serde(default, borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
    #[serde(default, borrow)]
    payload_base64: Option<&'a RawValue>,
}

impl Message {
    /// Decodes one envelope. `default_id` is used when the envelope has no `id`
    /// (the SQS function passes the record's messageId); `None` makes `id` required.
    pub fn decode(body: &str, default_id: Option<&str>) -> Result<Message, MessageError> {
        let fields = match scan::envelope(body) {
            Some(fields) => fields,
            None => fields_by_serde(body)?,
        };
        Message::from_fields(fields, default_id)
    }

    fn from_fields(fields: Fields<'_>, default_id: Option<&str>) -> Result<Message, MessageError> {
        let id = match non_null(fields.id) {
            Some(raw) => decode_id(raw)?,
            // The trigger's own id (an SQS messageId) stands in, under the same rules.
            None => match default_id {
                Some(d) => check_id(d.to_owned()).map_err(|e| match e {
                    MessageError::Field { rule, .. } => MessageError::field(
                        "id",
                        format!("is absent, and the trigger's id that stands in for it {rule}"),
                    ),
                    other => other,
                })?,
                None => return Err(MessageError::field("id", "is required")),
            },
        };

        let topic = non_null(fields.topic).map(decode_topic).transpose()?;
        let attributes = match non_null(fields.attributes) {
            Some(raw) => decode_attributes(raw)?,
            None => Map::new(),
        };
        let timestamp = non_null(fields.timestamp)
            .map(decode_timestamp)
            .transpose()?;

        let payload = match (non_null(fields.payload), non_null(fields.payload_base64)) {
            (Some(raw), None) => decode_json_payload(raw, fields.payload_field_names)?,
            (None, Some(raw)) => decode_binary_payload(raw)?,
            (Some(_), Some(_)) => return Err(MessageError::PayloadChoice("both")),
            (None, None) => return Err(MessageError::PayloadChoice("neither")),
        };

        Ok(Message {
            id,
            topic,
            attributes,
            timestamp,
            payload,
        })
    }

    /// Topic level `n` (1-based, as in the AWS IoT SQL `topic(n)` function).
    pub fn topic_level(&self, n: usize) -> Option<&str> {
        let topic = self.topic.as_deref()?;
        n.checked_sub(1)
            .and_then(|i| crate::routes::topic::levels(topic).nth(i))
    }
}

/// A JSON error a caller may read. serde's data errors quote the value they refuse
/// (`invalid type: string "…"`), and values stay out of errors and logs: those are reported by
/// position only. Syntax errors name no value and are kept as they are.
pub fn json_error(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Data => format!(
            "a value has the wrong type or is out of range at line {} column {}",
            e.line(),
            e.column()
        ),
        _ => e.to_string(),
    }
}

/// The envelope's fields found by `serde_json`, which also words every error the fast scan
/// leaves to it.
fn fields_by_serde(body: &str) -> Result<Fields<'_>, MessageError> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        // Parse anyway to tell "not JSON" from "JSON but not an object".
        return Err(match serde_json::from_str::<Value>(body) {
            Ok(v) => MessageError::NotAnObject(json_type(&v)),
            Err(e) => MessageError::NotJson(json_error(&e)),
        });
    }
    let env: Envelope<'_> = serde_json::from_str(body).map_err(|e| {
        if e.is_data() {
            MessageError::NotJson(format!("envelope: {}", json_error(&e)))
        } else {
            MessageError::NotJson(json_error(&e))
        }
    })?;
    Ok(Fields {
        id: env.id.map(RawValue::get),
        topic: env.topic.map(RawValue::get),
        attributes: env.attributes.map(RawValue::get),
        timestamp: env.timestamp.map(RawValue::get),
        payload: env.payload.map(RawValue::get),
        payload_base64: env.payload_base64.map(RawValue::get),
        payload_field_names: None,
    })
}

/// `null` counts as absent, like a missing key.
fn non_null(raw: Option<&str>) -> Option<&str> {
    raw.filter(|raw| *raw != "null")
}

/// The text of a JSON string value without escapes, which is its content; `None` for any other
/// value, left to `serde_json`.
fn plain_string(raw: &str) -> Option<&str> {
    raw.strip_prefix('"')?
        .strip_suffix('"')
        .filter(|text| !text.contains('\\'))
}

fn decode_id(raw: &str) -> Result<String, MessageError> {
    let id = match plain_string(raw) {
        Some(id) => id.to_owned(),
        None => {
            serde_json::from_str(raw).map_err(|_| MessageError::field("id", "must be a string"))?
        }
    };
    check_id(id)
}

/// Ids are 1–256 characters without control characters: they reach logs, downstream ids and
/// (through `${id}`) names.
pub fn check_id(id: String) -> Result<String, MessageError> {
    if id.is_empty() {
        return Err(MessageError::field("id", "must not be empty"));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(MessageError::field(
            "id",
            format!("must be at most {MAX_ID_CHARS} characters"),
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(MessageError::field(
            "id",
            "must not contain control characters",
        ));
    }
    Ok(id)
}

fn decode_topic(raw: &str) -> Result<String, MessageError> {
    let topic = match plain_string(raw) {
        Some(topic) => topic.to_owned(),
        None => serde_json::from_str(raw)
            .map_err(|_| MessageError::field("topic", "must be a string"))?,
    };
    if topic.is_empty() {
        return Err(MessageError::field("topic", "must not be empty"));
    }
    if topic.len() > MAX_TOPIC_BYTES {
        return Err(MessageError::field(
            "topic",
            format!("must be at most {MAX_TOPIC_BYTES} bytes"),
        ));
    }
    if topic.contains(['+', '#']) {
        return Err(MessageError::field(
            "topic",
            "must not contain the MQTT wildcards `+` or `#` (it names one topic, not a filter)",
        ));
    }
    if topic.contains('\0') {
        return Err(MessageError::field("topic", "must not contain NUL"));
    }
    Ok(topic)
}

fn decode_attributes(raw: &str) -> Result<Map<String, Value>, MessageError> {
    if let Some(map) = scan::flat_object(raw) {
        return Ok(map);
    }
    let value: Value =
        serde_json::from_str(raw).map_err(|e| MessageError::field("attributes", json_error(&e)))?;
    let Value::Object(map) = value else {
        return Err(MessageError::field(
            "attributes",
            format!("must be an object, found {}", json_type(&value)),
        ));
    };
    if let Some((key, v)) = map
        .iter()
        .find(|(_, v)| matches!(v, Value::Object(_) | Value::Array(_)))
    {
        return Err(MessageError::Field {
            field: "attributes",
            rule: format!(
                "attribute `{key}` must be a string, number, boolean or null, found {}",
                json_type(v)
            ),
        });
    }
    Ok(map)
}

fn decode_timestamp(raw: &str) -> Result<i64, MessageError> {
    let ts: i64 = serde_json::from_str(raw).map_err(|_| {
        MessageError::field(
            "timestamp",
            "must be an integer number of milliseconds since the Unix epoch",
        )
    })?;
    if ts < 1 {
        return Err(MessageError::field(
            "timestamp",
            "must be at least 1 (milliseconds since the Unix epoch)",
        ));
    }
    Ok(ts)
}

/// `field_names` is the result of the fast scan's check of this text, when it made one.
fn decode_json_payload(
    text: &str,
    field_names: Option<Option<FieldNameViolation>>,
) -> Result<Payload, MessageError> {
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(MessageError::PayloadTooLarge {
            size: text.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    match field_names {
        Some(field_names) => Ok(Payload::Json(JsonPayload::checked(text, field_names))),
        None => JsonPayload::parse(text).map(Payload::Json),
    }
}

fn decode_binary_payload(raw: &str) -> Result<Payload, MessageError> {
    let text = match plain_string(raw) {
        Some(text) => text,
        None => serde_json::from_str(raw)
            .map_err(|_| MessageError::field("payloadBase64", "must be a base64 string"))?,
    };
    // Decoded size is at most 3/4 of the text: refuse obviously oversized input before decoding.
    if text.len() / 4 * 3 > MAX_PAYLOAD_BYTES + 3 {
        return Err(MessageError::PayloadTooLarge {
            size: text.len() / 4 * 3,
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    let bytes = BASE64.decode(text).map_err(|e| {
        // The decoder's own message quotes the offending byte; say where it is instead.
        let why = match e {
            base64::DecodeError::InvalidByte(at, _) => {
                format!("character {} is not in the base64 alphabet", at + 1)
            }
            base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("character {} leaves stray bits in the last group", at + 1)
            }
            base64::DecodeError::InvalidLength(_) => "its length is not a multiple of 4".to_owned(),
            base64::DecodeError::InvalidPadding => "its `=` padding is wrong".to_owned(),
        };
        MessageError::field(
            "payloadBase64",
            format!("is not valid standard base64 (RFC 4648, with padding): {why}"),
        )
    })?;
    if bytes.len() > MAX_PAYLOAD_BYTES {
        return Err(MessageError::PayloadTooLarge {
            size: bytes.len(),
            limit: MAX_PAYLOAD_BYTES,
        });
    }
    Ok(Payload::Binary(Arc::from(bytes)))
}

/// The JSON type name used in error messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn decodes_json_payload_and_keeps_exact_bytes() {
        let m = Message::decode(
            r#"{"id":"m-1","topic":"plant1/line3/telemetry","attributes":{"deviceId":"s-42","n":3},
                "timestamp":1732270000000,"payload":{"temp": 81.5}}"#,
            None,
        )
        .unwrap();
        assert_eq!(m.id, "m-1");
        assert_eq!(m.topic.as_deref(), Some("plant1/line3/telemetry"));
        assert_eq!(m.attributes["deviceId"], "s-42");
        assert_eq!(m.timestamp, Some(1_732_270_000_000));
        assert_eq!(m.payload.bytes(), br#"{"temp": 81.5}"#);
        assert_eq!(m.payload.json().unwrap()["temp"], 81.5);
        assert_eq!(m.topic_level(1), Some("plant1"));
        assert_eq!(m.topic_level(3), Some("telemetry"));
        assert_eq!(m.topic_level(0), None);
        assert_eq!(m.topic_level(4), None);
    }

    #[test]
    fn decodes_base64_payload() {
        let m = Message::decode(r#"{"id":"b","payloadBase64":"aGVsbG8="}"#, None).unwrap();
        assert_eq!(m.payload.bytes(), b"hello");
        assert!(m.payload.json().is_none());
    }

    #[test]
    fn default_id_applies_only_when_absent() {
        let m = Message::decode(r#"{"payload":1}"#, Some("sqs-id")).unwrap();
        assert_eq!(m.id, "sqs-id");
        let m = Message::decode(r#"{"id":null,"payload":1}"#, Some("sqs-id")).unwrap();
        assert_eq!(m.id, "sqs-id");
        let m = Message::decode(r#"{"id":"own","payload":1}"#, Some("sqs-id")).unwrap();
        assert_eq!(m.id, "own");
        let e = Message::decode(r#"{"payload":1}"#, None).unwrap_err();
        assert_eq!(e.to_string(), "field `id`: is required");
    }

    #[test]
    fn errors_name_the_field_and_rule() {
        let cases: &[(&str, &str)] = &[
            ("not json", "body is not valid JSON"),
            (
                "[1,2]",
                "must be a JSON object (the message envelope), found an array",
            ),
            (r#"{"id":7,"payload":1}"#, "field `id`: must be a string"),
            (r#"{"id":"","payload":1}"#, "field `id`: must not be empty"),
            (
                r#"{"id":"a","topic":"a/+/b","payload":1}"#,
                "field `topic`: must not contain the MQTT wildcards",
            ),
            (
                r#"{"id":"a","topic":5,"payload":1}"#,
                "field `topic`: must be a string",
            ),
            (
                r#"{"id":"a","attributes":[1],"payload":1}"#,
                "field `attributes`: must be an object, found an array",
            ),
            (
                r#"{"id":"a","attributes":{"x":{"y":1}},"payload":1}"#,
                "attribute `x` must be a string, number, boolean or null, found an object",
            ),
            (
                r#"{"id":"a","timestamp":"now","payload":1}"#,
                "field `timestamp`: must be an integer",
            ),
            (
                r#"{"id":"a","timestamp":0,"payload":1}"#,
                "field `timestamp`: must be at least 1",
            ),
            (
                r#"{"id":"a"}"#,
                "exactly one of `payload` and `payloadBase64` is required, found neither",
            ),
            (
                r#"{"id":"a","payload":1,"payloadBase64":"aGk="}"#,
                "found both",
            ),
            (
                r#"{"id":"a","payloadBase64":"***"}"#,
                "field `payloadBase64`: is not valid standard base64",
            ),
            (
                r#"{"id":"a","payloadBase64":42}"#,
                "field `payloadBase64`: must be a base64 string",
            ),
        ];
        for (body, expected) in cases {
            let err = Message::decode(body, None).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{body}: got `{err}`, wanted `{expected}`"
            );
        }
    }

    proptest::proptest! {
        /// On arbitrary JSON-like text, the check at decode accepts exactly what the `Value`
        /// parser accepts, up to [`MAX_DEPTH`] levels.
        #[test]
        fn payload_check_accepts_what_value_accepts(text in r#"[\[\]{}",:0-9eE.+ \-tnulrf\\ud8]{0,24}"#) {
            let by_value = serde_json::from_str::<Value>(&text);
            let ours = JsonPayload::parse(&text);
            proptest::prop_assert_eq!(ours.is_ok(), by_value.is_ok(), "{}", text);
            if let (Ok(ours), Ok(value)) = (ours, by_value) {
                proptest::prop_assert_eq!(ours.value(), &value);
            }
        }
    }

    #[test]
    fn json_payloads_parse_as_serde_json_values_would() {
        // The checks at decode stand in for building the value: what `Value` refuses is refused.
        for payload in [r#"{"x": 1e400}"#, r#"["\ud800"]"#, r#"{"\udfff": 1}"#] {
            let by_value = serde_json::from_str::<Value>(payload).unwrap_err();
            let body = format!(r#"{{"id":"a","payload":{payload}}}"#);
            assert_eq!(
                Message::decode(&body, None).unwrap_err(),
                MessageError::field("payload", by_value.to_string()),
                "{payload}"
            );
        }
        assert!(JsonPayload::parse("1 2").is_err());
        // The value is built on first use, from the exact text.
        let m = Message::decode(r#"{"id":"a","payload":{"k":[1,"\u00e9",null]}}"#, None).unwrap();
        assert_eq!(
            m.payload.json(),
            Some(&serde_json::json!({"k": [1, "é", null]}))
        );
    }

    #[test]
    fn refuses_oversized_and_deep_payloads() {
        let big = format!(
            r#"{{"id":"a","payload":"{}"}}"#,
            "x".repeat(MAX_PAYLOAD_BYTES)
        );
        assert!(matches!(
            Message::decode(&big, None),
            Err(MessageError::PayloadTooLarge { .. })
        ));
        let deep = format!(
            r#"{{"id":"a","payload":{}{}}}"#,
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(
            Message::decode(&deep, None).unwrap_err(),
            MessageError::TooDeep
        );
        let deepest = format!(
            r#"{{"id":"a","payload":{}1{}}}"#,
            "[{\"k\":".repeat(MAX_DEPTH / 2),
            "}]".repeat(MAX_DEPTH / 2)
        );
        assert!(
            Message::decode(&deepest, None).is_ok(),
            "{MAX_DEPTH} levels pass"
        );
        let strings = format!(r#"{{"id":"a","payload":"{}"}}"#, "[".repeat(500));
        assert!(Message::decode(&strings, None).is_ok());
    }
}
