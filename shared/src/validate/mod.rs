//! Destination contracts: each message is checked against each rendered target's contract before
//! any call, so a message the service would refuse is reported invalid (naming the field and the
//! rule) instead of being sent, retried and failed.
//!
//! Rules come from the seed documents in `shared/reference/` and the "Destination contracts" table
//! of the design brief. The checks run per message per target, so they allocate only to build an
//! error: names are checked with plain byte tests, JSON field paths are kept on the stack.

mod alibaba;
pub(crate) mod analytics;
mod arn;
mod eventbridge;
mod events;
mod firehose;
pub mod kinesis;
mod publish;
mod shadow;
mod sns;
pub mod sqs;

use std::fmt::Write as _;

use crate::destination::{Destination, EntryParams, PublishParams, Target};
use crate::message::Message;

pub use alibaba::{
    MAX_DEVICES_PER_CALL as ALIBABA_DEVICES_PER_CALL,
    MAX_MESSAGE_BYTES as ALIBABA_MAX_MESSAGE_BYTES,
};
pub(crate) use eventbridge::entry_size as eventbridge_entry_size;
pub use eventbridge::eventbridge_detail;
pub(crate) use firehose::record_len as firehose_record_len;
pub(crate) use kinesis::record_len as kinesis_record_len;
pub use sns::sns_body;
pub(crate) use sqs::message_len as sqs_message_len;

/// Caps that are configuration, not service facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractLimits {
    /// Largest IoT Analytics payload sent. IoT Analytics publishes no per-message figure, so this
    /// is configurable (`FANOUT_ANALYTICS_MAX_PAYLOAD`); default 131,072 bytes (128 KiB).
    pub analytics_max_payload: usize,
    /// Whether MQTT topics starting with `$` (reserved by AWS IoT) may be published to
    /// (`FANOUT_ALLOW_RESERVED_TOPICS`). Basic-ingest topics `$aws/rules/<rule>/…` are always allowed.
    pub allow_reserved_topics: bool,
}

impl Default for ContractLimits {
    fn default() -> Self {
        ContractLimits {
            analytics_max_payload: 131_072,
            allow_reserved_topics: false,
        }
    }
}

/// A message or destination that breaks a destination's contract. It names the destination
/// (as [`Destination`] displays it), the field (the AWS API's name for it) and the rule; it never
/// carries payload values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{destination} field `{field}`: {rule}")]
pub struct ContractError {
    pub destination: String,
    pub field: String,
    pub rule: String,
}

impl ContractError {
    /// `dest` names the destination: a rendered [`Destination`], or at cold start the target's
    /// place in the routing table.
    pub(crate) fn new(
        dest: &dyn std::fmt::Display,
        field: impl Into<String>,
        rule: impl Into<String>,
    ) -> Self {
        ContractError {
            destination: dest.to_string(),
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// Checks one message against one rendered target's destination contract, before any call.
/// The error names the target by its label, never by a name rendered from the message.
pub fn check(msg: &Message, target: &Target, limits: &ContractLimits) -> Result<(), ContractError> {
    check_rendered(msg, target, limits).map_err(|mut e| {
        if let Some(label) = &target.label {
            e.destination = label.to_string();
        }
        e
    })
}

fn check_rendered(
    msg: &Message,
    target: &Target,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
    let dest = &target.destination;
    // Names without templates were checked when the table was loaded; parsing an ARN or a topic
    // again for every message was a tenth of the contract checks (BENCHMARKS.md, section 9).
    if target.checked_under.as_ref() != Some(limits) {
        check_destination(dest, limits)?;
    }
    match (dest, &target.params) {
        (Destination::Analytics { .. }, EntryParams::Analytics) => {
            analytics::check(dest, &msg.payload, limits)
        }
        (Destination::Events { .. }, EntryParams::Events) => events::check(dest, msg),
        (Destination::Sns { topic_arn }, EntryParams::Sns(params)) => {
            sns::check(dest, topic_arn, &msg.payload, params)
        }
        (Destination::Mqtt { .. } | Destination::Fleet { .. }, EntryParams::Publish(params)) => {
            publish::check(dest, &msg.payload, params, limits)
        }
        (Destination::Shadow { .. }, EntryParams::Shadow) => shadow::check(dest, &msg.payload),
        (Destination::Firehose { .. }, EntryParams::Firehose(params)) => {
            firehose::check(dest, &msg.payload, params)
        }
        (Destination::Kinesis { .. }, EntryParams::Kinesis(params)) => {
            kinesis::check(dest, &msg.payload, params)
        }
        (Destination::EventBridge { .. }, EntryParams::EventBridge(params)) => {
            eventbridge::check(dest, msg, params)
        }
        (Destination::Sqs { queue_url }, EntryParams::Sqs(params)) => {
            sqs::check(dest, queue_url, &msg.payload, params)
        }
        (Destination::Alibaba(_), EntryParams::Alibaba(params)) => {
            alibaba::check(dest, &msg.payload, *params)
        }
        (dest, params) => Err(mismatch(dest, params)),
    }
}

/// Checks a destination's name alone (used at cold start for targets without templates).
pub fn check_destination(dest: &Destination, limits: &ContractLimits) -> Result<(), ContractError> {
    match dest {
        Destination::Analytics { channel } => analytics::check_channel(dest, channel),
        Destination::Events { input } => events::check_input(dest, input),
        Destination::Sns { topic_arn } => sns::check_topic_arn(dest, topic_arn),
        Destination::Mqtt { topic } | Destination::Fleet { topic } => {
            publish::check_topic(dest, "topic", topic, limits)
        }
        Destination::Shadow { thing, shadow } => {
            shadow::check_names(dest, thing, shadow.as_deref())
        }
        Destination::Firehose { delivery_stream } => firehose::check_name(dest, delivery_stream),
        Destination::Kinesis { stream } => kinesis::check_stream(dest, stream),
        Destination::EventBridge { event_bus } => eventbridge::check_bus(dest, event_bus),
        Destination::Sqs { queue_url } => sqs::check_queue_url(dest, queue_url),
        Destination::Alibaba(devices) => alibaba::check_devices(dest, devices, limits),
    }
}

/// SNS target fields the routing table fixes, checked at cold start with the rules applied to each
/// message: `attributes` are (name, data type, the value when it has no template).
pub fn check_sns_literals(
    label: &str,
    subject: Option<&str>,
    group_id: Option<&str>,
    attributes: &[(&str, &str, Option<&str>)],
) -> Result<(), ContractError> {
    sns::check_literals(&label, subject, group_id, attributes)
}

/// IoT Core Publish parameters (QoS and the MQTT 5 properties) the routing table fixes, checked
/// at cold start with the rules applied to each message.
pub fn check_publish_params(
    label: &str,
    params: &PublishParams,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
    publish::check_params(&label, params, limits)
}

/// Kinesis partition and hash keys the routing table fixes, checked at cold start.
pub fn check_kinesis_literals(
    label: &str,
    partition_key: Option<&str>,
    explicit_hash_key: Option<&str>,
) -> Result<(), ContractError> {
    kinesis::check_literals(&label, partition_key, explicit_hash_key)
}

/// EventBridge Source, DetailType and Resources the routing table fixes, checked at cold start.
pub fn check_eventbridge_literals(
    label: &str,
    source: Option<&str>,
    detail_type: Option<&str>,
    resources: &[Option<&str>],
) -> Result<(), ContractError> {
    eventbridge::check_literals(&label, source, detail_type, resources)
}

/// SQS group id and attributes the routing table fixes, checked at cold start: `attributes` are
/// (name, data type, the value when it has no template).
pub fn check_sqs_literals(
    label: &str,
    group_id: Option<&str>,
    attributes: &[(&str, &str, Option<&str>)],
) -> Result<(), ContractError> {
    sqs::check_literals(&label, group_id, attributes)
}

/// A fleet's ProductKey (Alibaba Cloud IoT Platform's naming rules).
pub fn check_product_key(label: &str, product_key: &str) -> Result<(), ContractError> {
    publish::check_product_key(&label, product_key)
}

/// A fleet's DeviceName (Alibaba Cloud IoT Platform's naming rules).
pub fn check_device_name(label: &str, device: &str) -> Result<(), ContractError> {
    publish::check_device_name(&label, device)
}

/// An `alibaba` target's region, instance id and endpoint host, as the routing table fixes them.
pub fn check_alibaba_literals(
    label: &str,
    region: Option<&str>,
    iot_instance_id: Option<&str>,
    endpoint: Option<&str>,
) -> Result<(), ContractError> {
    alibaba::check_literals(&label, region, iot_instance_id, endpoint)
}

/// A destination paired with another kind's entry parameters: a routing bug, reported, never a panic.
fn mismatch(dest: &Destination, params: &EntryParams) -> ContractError {
    let (expected, found) = (expected_params(dest), params_name(params));
    ContractError::new(
        dest,
        "params",
        format!(
            "a {} destination takes {expected} entry parameters, not {found}",
            dest.kind()
        ),
    )
}

fn expected_params(dest: &Destination) -> &'static str {
    match dest {
        Destination::Analytics { .. } => "Analytics",
        Destination::Events { .. } => "Events",
        Destination::Sns { .. } => "Sns",
        Destination::Mqtt { .. } | Destination::Fleet { .. } => "Publish",
        Destination::Shadow { .. } => "Shadow",
        Destination::Firehose { .. } => "Firehose",
        Destination::Kinesis { .. } => "Kinesis",
        Destination::EventBridge { .. } => "EventBridge",
        Destination::Sqs { .. } => "Sqs",
        Destination::Alibaba(_) => "Alibaba",
    }
}

fn params_name(params: &EntryParams) -> &'static str {
    match params {
        EntryParams::Analytics => "Analytics",
        EntryParams::Events => "Events",
        EntryParams::Sns(_) => "Sns",
        EntryParams::Publish(_) => "Publish",
        EntryParams::Shadow => "Shadow",
        EntryParams::Firehose(_) => "Firehose",
        EntryParams::Kinesis(_) => "Kinesis",
        EntryParams::EventBridge(_) => "EventBridge",
        EntryParams::Sqs(_) => "Sqs",
        EntryParams::Alibaba(_) => "Alibaba",
    }
}

/// The characters a destination name, or a part of one, may hold. A template's literal text and
/// every value substituted into it are held to the set of the name they land in, so a value a
/// caller sent can never reach a name the table's author could not have written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSet {
    /// IoT Analytics channelName (CreateChannel): `[a-zA-Z0-9_]`.
    Channel,
    /// IoT Events inputName (CreateInput): `[a-zA-Z0-9_.-]`.
    Input,
    /// An SNS topic name, the last field of its ARN (CreateTopic): `[A-Za-z0-9_-]`; `.` appears
    /// only in the `.fifo` suffix, which the table's literal text has to spell.
    SnsTopic,
    /// SNS MessageGroupId and MessageDeduplicationId (PublishBatch): alphanumerics and ASCII
    /// punctuation.
    GroupId,
    /// IoT thingName (CreateThing): `[a-zA-Z0-9:_-]`.
    Thing,
    /// IoT shadowName (named shadows): `[$a-zA-Z0-9:_-]`.
    Shadow,
    /// Alibaba Cloud IoT ProductKey: issued by the platform as letters and digits.
    ProductKey,
    /// Alibaba Cloud IoT DeviceName (RegisterDevice): letters, digits and `-_@.:`.
    DeviceName,
    /// A Firehose delivery stream or Kinesis stream name (CreateDeliveryStream, CreateStream):
    /// `[a-zA-Z0-9_.-]`.
    StreamName,
    /// An EventBridge event bus name (CreateEventBus): `[/.\-_A-Za-z0-9]`.
    EventBus,
    /// An SQS queue name (CreateQueue): `[A-Za-z0-9_-]`; `.` appears only in the `.fifo` suffix,
    /// which the table's literal text has to spell.
    QueueName,
    /// A decimal number (Kinesis ExplicitHashKey).
    Decimal,
    /// An Alibaba Cloud region id (`cn-shanghai`): it becomes a label of the API host name, so
    /// lowercase letters, digits and `-`.
    Region,
    /// An Alibaba Cloud IoT instance id (`iot-cn-0pp1n8t****`): letters, digits, `_` and `-`.
    InstanceId,
}

impl NameSet {
    pub fn allows(self, b: u8) -> bool {
        match self {
            NameSet::Channel => b.is_ascii_alphanumeric() || b == b'_',
            NameSet::Input => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'),
            NameSet::SnsTopic => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'),
            NameSet::GroupId => b.is_ascii_graphic(),
            NameSet::Thing => b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'),
            NameSet::Shadow => b.is_ascii_alphanumeric() || matches!(b, b'$' | b':' | b'_' | b'-'),
            NameSet::ProductKey => b.is_ascii_alphanumeric(),
            NameSet::DeviceName => {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'@' | b'.' | b':')
            }
            NameSet::StreamName => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'),
            NameSet::EventBus => {
                b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_')
            }
            NameSet::QueueName => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'),
            NameSet::Decimal => b.is_ascii_digit(),
            NameSet::Region => b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-',
            NameSet::InstanceId => b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'),
        }
    }

    /// The set as error messages spell it.
    pub fn describe(self) -> &'static str {
        match self {
            NameSet::Channel => "[a-zA-Z0-9_]",
            NameSet::Input => "[a-zA-Z0-9_.-]",
            NameSet::SnsTopic => "[A-Za-z0-9_-]",
            NameSet::GroupId => "alphanumerics and ASCII punctuation (no spaces)",
            NameSet::Thing => "[a-zA-Z0-9:_-]",
            NameSet::Shadow => "[$a-zA-Z0-9:_-]",
            NameSet::ProductKey => "[a-zA-Z0-9]",
            NameSet::DeviceName => "[a-zA-Z0-9_@.:-]",
            NameSet::StreamName => "[a-zA-Z0-9_.-]",
            NameSet::EventBus => "[/.-_A-Za-z0-9]",
            NameSet::QueueName => "[A-Za-z0-9_-]",
            NameSet::Decimal => "[0-9]",
            NameSet::Region => "[a-z0-9-]",
            NameSet::InstanceId => "[A-Za-z0-9_-]",
        }
    }

    /// What the set names, for error messages.
    pub fn what(self) -> &'static str {
        match self {
            NameSet::Channel => "an IoT Analytics channel name",
            NameSet::Input => "an IoT Events input name",
            NameSet::SnsTopic => "an SNS topic name",
            NameSet::GroupId => "an SNS message group id",
            NameSet::Thing => "a thing name",
            NameSet::Shadow => "a shadow name",
            NameSet::ProductKey => "a ProductKey",
            NameSet::DeviceName => "a DeviceName",
            NameSet::StreamName => "a stream name",
            NameSet::EventBus => "an event bus name",
            NameSet::QueueName => "an SQS queue name",
            NameSet::Decimal => "a decimal number",
            NameSet::Region => "an Alibaba Cloud region id",
            NameSet::InstanceId => "an IoT Platform instance id",
        }
    }
}

/// Why a name breaks a `1..=max` length and character-set rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameFault {
    Empty,
    /// 1-based character position of the first character outside the set.
    BadChar(usize),
    TooLong(usize),
}

/// Checks a name made only of ASCII characters from `allowed` with 1 to `max` characters.
/// Since every allowed character is ASCII, bytes and characters count the same once the set holds.
pub(crate) fn ascii_name(
    name: &str,
    max: usize,
    allowed: impl Fn(u8) -> bool,
) -> Result<(), NameFault> {
    if name.is_empty() {
        return Err(NameFault::Empty);
    }
    if let Some(i) = name.bytes().position(|b| !allowed(b)) {
        // Report a character position, not a byte offset, in case the name is not ASCII.
        let pos = name.char_indices().take_while(|&(at, _)| at <= i).count();
        return Err(NameFault::BadChar(pos));
    }
    if name.len() > max {
        return Err(NameFault::TooLong(name.len()));
    }
    Ok(())
}

/// The rule text for a [`NameFault`]; `set` describes the allowed characters.
pub(crate) fn name_rule(fault: NameFault, max: usize, set: &str) -> String {
    match fault {
        NameFault::Empty => format!("must be 1–{max} characters, is empty"),
        NameFault::BadChar(pos) => format!("must match {set}: character {pos} is not allowed"),
        NameFault::TooLong(n) => format!("must be 1–{max} characters, is {n}"),
    }
}

/// Standard base64 (RFC 4648 alphabet, `=` padding required, no stray bits), checked without
/// decoding: the same strings `base64::engine::general_purpose::STANDARD` decodes.
pub(crate) fn is_base64(text: &str) -> bool {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let pad = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 {
        return false;
    }
    let Some(data) = bytes.get(..bytes.len() - pad) else {
        return false;
    };
    let mut last = 0u8;
    for &b in data {
        match base64_value(b) {
            Some(v) => last = v,
            None => return false,
        }
    }
    // The final sextet must not carry bits beyond the encoded bytes (canonical encoding).
    match pad {
        1 => last & 0b11 == 0,
        2 => last & 0b1111 == 0,
        _ => true,
    }
}

fn base64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// A field path inside a JSON document (`payload.a.b[2].c`), kept on the stack while walking and
/// rendered only when an error names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Root(&'a str),
    Key(&'a str),
    Index(usize),
}

/// Keys longer than this are shortened in error paths: the path locates, it does not echo data.
const MAX_KEY_IN_PATH: usize = 64;

impl<'a> Path<'a> {
    pub(crate) const fn root(name: &'a str) -> Self {
        Path {
            parent: None,
            seg: Seg::Root(name),
        }
    }

    pub(crate) fn key<'b>(&'b self, key: &'b str) -> Path<'b> {
        Path {
            parent: Some(self),
            seg: Seg::Key(key),
        }
    }

    pub(crate) fn index<'b>(&'b self, i: usize) -> Path<'b> {
        Path {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut at = Some(self);
        while let Some(p) = at {
            segs.push(p.seg);
            at = p.parent;
        }
        let mut out = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root(name) => out.push_str(name),
                Seg::Key(key) => {
                    out.push('.');
                    push_key(&mut out, key);
                }
                Seg::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        out
    }
}

/// Appends a key for an error message: control characters escaped, long keys shortened.
pub(crate) fn push_key(out: &mut String, key: &str) {
    for (n, c) in key.chars().enumerate() {
        if n == MAX_KEY_IN_PATH {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders shared by the destination tests.
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use crate::destination::{Destination, EntryParams, Target};
    use crate::message::{JsonPayload, Message, Payload};

    pub(crate) fn msg(payload_json: &str) -> Message {
        Message::decode(&format!(r#"{{"id":"m-1","payload":{payload_json}}}"#), None).unwrap()
    }

    pub(crate) fn binary(len: usize) -> Message {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(vec![0xffu8; len]);
        Message::decode(&format!(r#"{{"id":"m-1","payloadBase64":"{b64}"}}"#), None).unwrap()
    }

    /// A JSON string payload whose raw text is exactly `len` bytes (quotes included).
    pub(crate) fn sized(len: usize) -> Message {
        msg(&format!("\"{}\"", "x".repeat(len - 2)))
    }

    /// A JSON string payload of exactly `len` raw bytes, built without the envelope, whose own
    /// 256 KiB cap would refuse the limit+1 cases of the largest destinations.
    pub(crate) fn raw_sized(len: usize) -> Message {
        let mut m = msg("0");
        m.payload =
            Payload::Json(JsonPayload::parse(&format!("\"{}\"", "x".repeat(len - 2))).unwrap());
        m
    }

    /// A binary payload of `len` bytes, built without the envelope (see [`raw_sized`]).
    pub(crate) fn raw_binary(len: usize) -> Message {
        let mut m = msg("0");
        m.payload = Payload::Binary(Arc::from(vec![0xffu8; len]));
        m
    }

    /// BatchPub to `devices` of product `a1BwAGV` on topic `get` in cn-shanghai.
    pub(crate) fn alibaba(devices: &[&str]) -> crate::destination::AlibabaDevices {
        crate::destination::AlibabaDevices {
            region: "cn-shanghai".into(),
            iot_instance_id: None,
            endpoint: None,
            product_key: "a1BwAGV".into(),
            topic_short_name: "get".into(),
            devices: devices.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    pub(crate) fn target(destination: Destination, params: EntryParams) -> Target {
        Target {
            route: Arc::from("r"),
            destination,
            params,
            ordered: false,
            label: None,
            checked_under: None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use proptest::prelude::*;

    use super::testing::*;
    use super::*;
    use crate::destination::{
        DetailMode, EventBridgeParams, FirehoseParams, KinesisParams, PublishParams, SnsParams,
        SqsParams,
    };

    #[test]
    fn default_limits() {
        let l = ContractLimits::default();
        assert_eq!(l.analytics_max_payload, 131_072);
        assert!(!l.allow_reserved_topics);
    }

    #[test]
    fn names_are_checked_per_message_unless_checked_under_the_same_limits() {
        let m = msg("{}");
        let bad = Destination::Mqtt {
            topic: "a/+/b".into(),
        };
        let limits = ContractLimits::default();
        let mut t = target(bad, EntryParams::Publish(Arc::default()));
        assert!(check(&m, &t, &limits).is_err(), "not checked at load");
        t.checked_under = Some(limits);
        assert_eq!(check(&m, &t, &limits), Ok(()), "checked at load");
        let other = ContractLimits {
            allow_reserved_topics: true,
            ..limits
        };
        assert!(
            check(&m, &t, &other).is_err(),
            "checked under other limits: checked again"
        );
    }

    #[test]
    fn kind_and_params_mismatch_is_an_error_not_a_panic() {
        let m = msg("{}");
        let sns = Destination::Sns {
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts".into(),
        };
        let e = check(
            &m,
            &target(sns.clone(), EntryParams::Analytics),
            &ContractLimits::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "sns:arn:aws:sns:eu-west-1:123456789012:alerts field `params`: \
             a sns destination takes Sns entry parameters, not Analytics"
        );
        let all_params = [
            EntryParams::Analytics,
            EntryParams::Events,
            EntryParams::Sns(Arc::new(SnsParams::default())),
            EntryParams::Publish(Arc::new(PublishParams::default())),
            EntryParams::Shadow,
            EntryParams::Firehose(Arc::new(FirehoseParams::default())),
            EntryParams::Kinesis(Arc::new(KinesisParams {
                partition_key: "k".into(),
                explicit_hash_key: None,
                max_record_bytes: kinesis::DEFAULT_MAX_RECORD_BYTES,
            })),
            EntryParams::EventBridge(Arc::new(EventBridgeParams {
                source: "s".into(),
                detail_type: "t".into(),
                resources: Vec::new(),
                detail: DetailMode::Payload,
            })),
            EntryParams::Sqs(Arc::new(SqsParams {
                group_id: None,
                delay_seconds: None,
                attributes: Vec::new(),
                max_message_bytes: sqs::DEFAULT_MAX_MESSAGE_BYTES,
            })),
        ];
        let dests = [
            Destination::Analytics {
                channel: "c".into(),
            },
            Destination::Events { input: "i".into() },
            sns,
            Destination::Mqtt {
                topic: "a/b".into(),
            },
            Destination::Fleet {
                topic: "a/b".into(),
            },
            Destination::Shadow {
                thing: "t".into(),
                shadow: None,
            },
            Destination::Firehose {
                delivery_stream: "f".into(),
            },
            Destination::Kinesis { stream: "k".into() },
            Destination::EventBridge {
                event_bus: "default".into(),
            },
            Destination::Sqs {
                queue_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/q".into(),
            },
        ];
        let m = msg(r#"{"state":{}}"#);
        for d in &dests {
            for p in &all_params {
                let r = check(
                    &m,
                    &target(d.clone(), p.clone()),
                    &ContractLimits::default(),
                );
                let matching = expected_params(d) == params_name(p);
                if !matching {
                    assert_eq!(r.unwrap_err().field, "params", "{d} with {p:?}");
                } else if let Err(e) = r {
                    assert_ne!(e.field, "params", "{d} with {p:?}");
                }
            }
        }
    }

    #[test]
    fn check_destination_checks_every_kind() {
        let l = ContractLimits::default();
        let bad = [
            Destination::Analytics {
                channel: "__c".into(),
            },
            Destination::Events { input: "-i".into() },
            Destination::Sns {
                topic_arn: "alerts".into(),
            },
            Destination::Mqtt {
                topic: "a/+".into(),
            },
            Destination::Fleet {
                topic: "$aws/things/x".into(),
            },
            Destination::Shadow {
                thing: "t".into(),
                shadow: Some(String::new()),
            },
            Destination::Firehose {
                delivery_stream: "a b".into(),
            },
            Destination::Kinesis {
                stream: "arn:aws:kinesis:x".into(),
            },
            Destination::EventBridge {
                event_bus: String::new(),
            },
            Destination::Sqs {
                queue_url: "alerts".into(),
            },
        ];
        for d in &bad {
            assert!(check_destination(d, &l).is_err(), "{d}");
        }
        let good = [
            Destination::Analytics {
                channel: "c_1".into(),
            },
            Destination::Events {
                input: "i.1-a".into(),
            },
            Destination::Sns {
                topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts.fifo".into(),
            },
            Destination::Mqtt {
                topic: "a/b".into(),
            },
            Destination::Fleet {
                topic: "/a1BwAGV/dev1/user/get".into(),
            },
            Destination::Shadow {
                thing: "t".into(),
                shadow: Some("$cfg".into()),
            },
            Destination::Firehose {
                delivery_stream: "iot-telemetry".into(),
            },
            Destination::Kinesis {
                stream: "arn:aws:kinesis:eu-west-1:123456789012:stream/iot".into(),
            },
            Destination::EventBridge {
                event_bus: "default".into(),
            },
            Destination::Sqs {
                queue_url: "https://sqs.eu-west-1.amazonaws.com/123456789012/q.fifo".into(),
            },
        ];
        for d in &good {
            assert_eq!(check_destination(d, &l), Ok(()), "{d}");
        }
    }

    #[test]
    fn ascii_name_reports_first_fault() {
        let alnum = |b: u8| b.is_ascii_alphanumeric();
        assert_eq!(ascii_name("", 3, alnum), Err(NameFault::Empty));
        assert_eq!(ascii_name("ab-", 3, alnum), Err(NameFault::BadChar(3)));
        assert_eq!(ascii_name("é-", 3, alnum), Err(NameFault::BadChar(1)));
        assert_eq!(ascii_name("ab", 3, alnum), Ok(()));
        assert_eq!(ascii_name("abc", 3, alnum), Ok(()));
        assert_eq!(ascii_name("abcd", 3, alnum), Err(NameFault::TooLong(4)));
    }

    #[test]
    fn path_renders_keys_and_indexes_without_echoing_long_keys() {
        let root = Path::root("payload");
        let a = root.key("a");
        let i = a.index(2);
        let b = i.key("b\n");
        assert_eq!(b.render(), "payload.a[2].b\\n");
        let long = "k".repeat(100);
        let p = root.key(&long);
        assert_eq!(p.render(), format!("payload.{}…", "k".repeat(64)));
    }

    #[test]
    fn base64_examples() {
        for ok in ["", "aGVsbG8=", "aGk=", "aGVs", "+/+/", "AA=="] {
            assert!(is_base64(ok), "{ok}");
        }
        for bad in [
            "a", "aGk", "aG=k", "a===", "====", "aGVsbG8", "aB==", "aGl=", "a-_b", "aGk=\n",
        ] {
            assert!(!is_base64(bad), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn base64_check_agrees_with_the_decoder(s in "[A-Za-z0-9+/=\\-]{0,12}") {
            prop_assert_eq!(is_base64(&s), BASE64.decode(&s).is_ok(), "{}", s);
        }

        #[test]
        fn encoded_bytes_are_base64(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert!(is_base64(&BASE64.encode(&bytes)));
        }
    }
}
