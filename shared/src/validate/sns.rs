//! SNS `PublishBatch` entries: the topic ARN, the message body and its size with attributes, FIFO
//! message groups, Subject, `MessageStructure=json` and message attributes.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::{ContractError, NameSet, Path, ascii_name, is_base64, name_rule, push_key};
use crate::destination::{Destination, SnsAttribute, SnsParams};
use crate::message::{Payload, json_type};

/// Body plus attributes (name + type + value bytes) of one message: 256 KiB (PublishBatch seed
/// document: "All parts of the message attribute … are included in the message size restriction,
/// which is currently 256 KB (262,144 bytes)").
const MAX_MESSAGE_BYTES: usize = 262_144;
/// Topic names: 1–256 characters of `[A-Za-z0-9_-]`, FIFO names ending `.fifo` (SNS CreateTopic);
/// the `.fifo` suffix counts toward the 256.
const MAX_TOPIC_NAME_CHARS: usize = 256;
const FIFO_SUFFIX: &str = ".fifo";
/// MessageGroupId: "The length of MessageGroupId is 128 characters" (seed document).
const MAX_GROUP_ID_CHARS: usize = 128;
/// Subject: "must be less than 100 characters long" (SNS Publish); the design brief reads it as at
/// most 100, which is what SNS accepts in practice.
const MAX_SUBJECT_CHARS: usize = 100;
/// At most 10 attributes: SNS drops messages with more when a subscription uses raw delivery, and
/// we cannot see the subscriptions, so the cap always applies (design brief).
const MAX_ATTRIBUTES: usize = 10;
/// Attribute names: up to 256 characters (SNS message attributes).
const MAX_ATTRIBUTE_NAME_CHARS: usize = 256;
/// Data types, custom suffix included: up to 256 characters (SNS/SQS message attribute data types).
const MAX_DATA_TYPE_CHARS: usize = 256;
/// Number attributes: up to 38 significant digits, magnitude 10^-128 … 10^+126 (SNS message
/// attribute data types).
const MAX_NUMBER_DIGITS: usize = 38;
const MIN_NUMBER_MAGNITUDE: f64 = 1e-128;
const MAX_NUMBER_MAGNITUDE: f64 = 1e126;

/// The SNS `Message` text for a payload. SNS messages are strings: JSON payloads go as their exact
/// text; binary payloads as standard base64 (RFC 4648, padded), which subscribers decode.
pub fn sns_body(payload: &Payload) -> Cow<'_, [u8]> {
    match payload {
        Payload::Json(json) => Cow::Borrowed(json.raw().as_bytes()),
        Payload::Binary(bytes) => Cow::Owned(BASE64.encode(bytes).into_bytes()),
    }
}

/// Length of [`sns_body`] without building it: padded base64 is 4 bytes per started 3.
pub(super) fn body_len(payload: &Payload) -> usize {
    match payload {
        Payload::Json(json) => json.raw().len(),
        Payload::Binary(bytes) => bytes.len().div_ceil(3).saturating_mul(4),
    }
}

/// `arn:<partition>:sns:<region>:<12-digit account>:<topic name>`.
pub(super) fn check_topic_arn(dest: &Destination, arn: &str) -> Result<(), ContractError> {
    const SHAPE: &str = "arn:<partition>:sns:<region>:<12-digit account id>:<topic name>";
    let bad = |why: &str| ContractError::new(dest, "TopicArn", format!("must be {SHAPE}: {why}"));
    let mut parts = arn.splitn(6, ':');
    let (Some(prefix), Some(partition), Some(service), Some(region), Some(account), Some(name)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad("it does not have six `:`-separated parts"));
    };
    // Partitions (aws, aws-cn, aws-us-gov, aws-iso-b, …) and regions are lowercase words and dashes.
    let word = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if prefix != "arn" {
        return Err(bad("it must start with `arn:`"));
    }
    if !word(partition) {
        return Err(bad(
            "the partition (such as `aws`) must be lowercase letters, digits and `-`",
        ));
    }
    if service != "sns" {
        return Err(bad("the service must be `sns`"));
    }
    if !word(region) {
        return Err(bad(
            "the region (such as `eu-west-1`) must be lowercase letters, digits and `-`",
        ));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the account id must be 12 digits"));
    }
    ascii_name(name, MAX_TOPIC_NAME_CHARS, |b| {
        NameSet::SnsTopic.allows(b) || b == b'.'
    })
    .map_err(|f| {
        ContractError::new(
            dest,
            "TopicArn",
            format!(
                "topic name {}",
                name_rule(
                    f,
                    MAX_TOPIC_NAME_CHARS,
                    "[A-Za-z0-9_-] with an optional `.fifo` suffix"
                )
            ),
        )
    })?;
    // `.` is allowed above only as part of the suffix.
    let base = name.strip_suffix(FIFO_SUFFIX).unwrap_or(name);
    if base.is_empty() || base.contains('.') {
        return Err(ContractError::new(
            dest,
            "TopicArn",
            "topic name must be 1 or more of [A-Za-z0-9_-], optionally followed by `.fifo`; \
             `.` is allowed only in that suffix",
        ));
    }
    Ok(())
}

pub(super) fn check(
    dest: &Destination,
    topic_arn: &str,
    payload: &Payload,
    params: &SnsParams,
) -> Result<(), ContractError> {
    let body = body_len(payload);
    if body == 0 {
        return Err(ContractError::new(
            dest,
            "Message",
            "must not be empty (SNS refuses an empty message body)",
        ));
    }
    check_attributes(dest, &params.attributes)?;
    let attrs: usize = params.attributes.iter().map(SnsAttribute::size).sum();
    let total = body.saturating_add(attrs);
    if total > MAX_MESSAGE_BYTES {
        return Err(ContractError::new(
            dest,
            "Message",
            format!(
                "body ({body} bytes) and attributes ({attrs} bytes) add up to {total} bytes, \
                 over the SNS limit of {MAX_MESSAGE_BYTES} bytes (256 KiB)"
            ),
        ));
    }
    if let Some(subject) = &params.subject {
        check_subject(dest, subject)?;
    }
    check_fifo(dest, topic_arn.ends_with(FIFO_SUFFIX), params)?;
    if params.message_structure_json {
        check_structure(dest, payload)?;
    }
    Ok(())
}

/// The SNS target fields a routing table fixes, checked at cold start with the rules `check`
/// applies per message: `attributes` are (name, data type, the value when it has no template).
pub(super) fn check_literals(
    dest: &dyn fmt::Display,
    subject: Option<&str>,
    group_id: Option<&str>,
    attributes: &[(&str, &str, Option<&str>)],
) -> Result<(), ContractError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ContractError::new(
            dest,
            "MessageAttributes",
            format!(
                "has {} attributes, over the limit of {MAX_ATTRIBUTES}",
                attributes.len()
            ),
        ));
    }
    for (i, (name, data_type, value)) in attributes.iter().enumerate() {
        check_attribute_name(dest, i, name)?;
        let kind = check_data_type(dest, i, name, data_type)?;
        if let Some(value) = value {
            check_typed_value(dest, i, name, kind, value)?;
        }
    }
    if let Some(subject) = subject {
        check_subject(dest, subject)?;
    }
    if let Some(group) = group_id {
        check_group_id(dest, group)?;
    }
    Ok(())
}

/// FIFO topics need a MessageGroupId; standard topics may carry one (passed to SQS fair queues,
/// design brief). Content-based deduplication is a FIFO topic setting only.
fn check_fifo(
    dest: &dyn fmt::Display,
    fifo: bool,
    params: &SnsParams,
) -> Result<(), ContractError> {
    match &params.group_id {
        Some(group) => check_group_id(dest, group)?,
        None if fifo => {
            return Err(ContractError::new(
                dest,
                "MessageGroupId",
                "is required for a FIFO (`.fifo`) topic: set the route's group id",
            ));
        }
        None => {}
    }
    if params.content_based_deduplication && !fifo {
        return Err(ContractError::new(
            dest,
            "ContentBasedDeduplication",
            "applies only to FIFO (`.fifo`) topics: turn it off for this standard topic",
        ));
    }
    Ok(())
}

/// 1–128 characters of alphanumerics and ASCII punctuation (the seed document's list
/// `!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~` is exactly the ASCII graphic characters besides alphanumerics).
fn check_group_id(dest: &dyn fmt::Display, group: &str) -> Result<(), ContractError> {
    ascii_name(group, MAX_GROUP_ID_CHARS, |b| NameSet::GroupId.allows(b)).map_err(|f| {
        ContractError::new(
            dest,
            "MessageGroupId",
            name_rule(
                f,
                MAX_GROUP_ID_CHARS,
                "alphanumerics and ASCII punctuation (no spaces)",
            ),
        )
    })
}

/// SNS Publish: "Subjects must be ASCII text that begins with a letter, number, or punctuation
/// mark; must not include line breaks or control characters; and must be less than 100 characters".
fn check_subject(dest: &dyn fmt::Display, subject: &str) -> Result<(), ContractError> {
    let bad = |rule: String| Err(ContractError::new(dest, "Subject", rule));
    if !subject.bytes().next().is_some_and(|b| b.is_ascii_graphic()) {
        return bad("must begin with a letter, digit or punctuation mark".to_owned());
    }
    if let Some(i) = subject.bytes().position(|b| !(b' '..=b'~').contains(&b)) {
        let pos = subject
            .char_indices()
            .take_while(|&(at, _)| at <= i)
            .count();
        return bad(format!(
            "must be printable ASCII without line breaks or control characters: character {pos} is not"
        ));
    }
    if subject.len() > MAX_SUBJECT_CHARS {
        return bad(format!(
            "must be at most {MAX_SUBJECT_CHARS} characters, is {}",
            subject.len()
        ));
    }
    Ok(())
}

/// `MessageStructure=json`: the body is a JSON object whose `default` key holds a string, as do
/// the per-protocol keys ("Keys in the JSON object that correspond to supported transport
/// protocols must have simple JSON string values", SNS Publish).
fn check_structure(dest: &Destination, payload: &Payload) -> Result<(), ContractError> {
    let Some(value) = payload.json() else {
        return Err(ContractError::new(
            dest,
            "Message",
            "MessageStructure=json needs a JSON object payload, not a binary one",
        ));
    };
    let Value::Object(map) = value else {
        return Err(ContractError::new(
            dest,
            "Message",
            format!(
                "MessageStructure=json needs a JSON object with a string `default` key, found {}",
                json_type(value)
            ),
        ));
    };
    if !matches!(map.get("default"), Some(Value::String(_))) {
        return Err(ContractError::new(
            dest,
            "Message.default",
            "MessageStructure=json needs a top-level `default` key holding a string",
        ));
    }
    let root = Path::root("Message");
    if let Some((key, v)) = map.iter().find(|(_, v)| !v.is_string()) {
        return Err(ContractError::new(
            dest,
            root.key(key).render(),
            format!(
                "MessageStructure=json needs every per-protocol message to be a string, found {}",
                json_type(v)
            ),
        ));
    }
    Ok(())
}

/// The field name of an attribute (`MessageAttributes.<name>`), shortened and escaped.
pub(super) fn attribute_field(index: usize, name: &str, part: &str) -> String {
    let mut field = String::from("MessageAttributes");
    if name.is_empty() {
        field.push_str(&format!("[{index}]"));
    } else {
        field.push('.');
        push_key(&mut field, name);
    }
    field.push_str(part);
    field
}

fn check_attributes(
    dest: &dyn fmt::Display,
    attributes: &[SnsAttribute],
) -> Result<(), ContractError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(ContractError::new(
            dest,
            "MessageAttributes",
            format!(
                "has {} attributes, over the limit of {MAX_ATTRIBUTES}",
                attributes.len()
            ),
        ));
    }
    for (i, attr) in attributes.iter().enumerate() {
        check_attribute_name(dest, i, &attr.name)?;
        if attributes.iter().take(i).any(|a| a.name == attr.name) {
            return Err(ContractError::new(
                dest,
                attribute_field(i, &attr.name, ""),
                "appears twice: attribute names must be unique (they are case-sensitive)",
            ));
        }
        check_attribute_value(dest, i, attr)?;
    }
    Ok(())
}

/// SNS attribute names: `[A-Za-z0-9_.-]`, 1–256 characters, no leading or trailing `.`, no `..`,
/// not starting with the reserved prefixes `AWS.` or `Amazon.` (any case).
pub(super) fn check_attribute_name(
    dest: &dyn fmt::Display,
    i: usize,
    name: &str,
) -> Result<(), ContractError> {
    let field = || attribute_field(i, name, "");
    ascii_name(name, MAX_ATTRIBUTE_NAME_CHARS, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
    })
    .map_err(|f| {
        ContractError::new(
            dest,
            field(),
            format!(
                "name {}",
                name_rule(f, MAX_ATTRIBUTE_NAME_CHARS, "[A-Za-z0-9_.-]")
            ),
        )
    })?;
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return Err(ContractError::new(
            dest,
            field(),
            "name must not start or end with `.` or contain `..`",
        ));
    }
    let reserved = ["AWS.", "Amazon."].iter().any(|p| {
        name.get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    });
    if reserved {
        return Err(ContractError::new(
            dest,
            field(),
            "name must not start with `AWS.` or `Amazon.` (any case): reserved by AWS",
        ));
    }
    Ok(())
}

/// The logical type under a data type, custom suffix (`Number.float`, `Binary.gif`) allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DataType {
    String,
    StringArray,
    Number,
    Binary,
}

pub(super) fn parse_data_type(data_type: &str) -> Option<DataType> {
    let (base, suffix) = match data_type.split_once('.') {
        Some((base, suffix)) => (base, Some(suffix)),
        None => (data_type, None),
    };
    // A custom suffix is one or more of `[A-Za-z0-9_.-]`.
    let custom_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    if let Some(s) = suffix
        && !custom_ok(s)
    {
        return None;
    }
    match (base, suffix) {
        // `String.Array` (and `String.Array.<custom>`) is the array type; checking such values as
        // arrays is the stricter reading.
        ("String", Some(s)) if s == "Array" || s.starts_with("Array.") => {
            Some(DataType::StringArray)
        }
        ("String", _) => Some(DataType::String),
        ("Number", _) => Some(DataType::Number),
        ("Binary", _) => Some(DataType::Binary),
        _ => None,
    }
}

fn check_data_type(
    dest: &dyn fmt::Display,
    i: usize,
    name: &str,
    data_type: &str,
) -> Result<DataType, ContractError> {
    let type_field = || attribute_field(i, name, ".DataType");
    if data_type.len() > MAX_DATA_TYPE_CHARS {
        return Err(ContractError::new(
            dest,
            type_field(),
            format!(
                "must be at most {MAX_DATA_TYPE_CHARS} characters, is {}",
                data_type.chars().count()
            ),
        ));
    }
    parse_data_type(data_type).ok_or_else(|| {
        ContractError::new(
            dest,
            type_field(),
            "must be String, String.Array, Number or Binary, optionally followed by a custom \
             `.suffix` of [A-Za-z0-9_.-]",
        )
    })
}

fn check_attribute_value(
    dest: &dyn fmt::Display,
    i: usize,
    attr: &SnsAttribute,
) -> Result<(), ContractError> {
    let kind = check_data_type(dest, i, &attr.name, &attr.data_type)?;
    check_typed_value(dest, i, &attr.name, kind, &attr.value)
}

fn check_typed_value(
    dest: &dyn fmt::Display,
    i: usize,
    name: &str,
    kind: DataType,
    value: &str,
) -> Result<(), ContractError> {
    let part = if kind == DataType::Binary {
        ".BinaryValue"
    } else {
        ".StringValue"
    };
    let bad = |rule: String| {
        Err(ContractError::new(
            dest,
            attribute_field(i, name, part),
            rule,
        ))
    };
    if value.is_empty() {
        return bad("must not be empty (SNS refuses empty attribute values)".to_owned());
    }
    // Text values reach SQS subscribers as SQS message attributes, whose character set
    // excludes most control characters (SendMessage, MessageAttributeValue); a tab passes SNS
    // and then fails delivery. Control characters (tab and line breaks included) and the
    // noncharacters U+FFFE and U+FFFF are refused here so every subscriber can take the value.
    if kind != DataType::Binary
        && let Some(at) = value
            .chars()
            .position(|c| c.is_control() || matches!(c, '\u{fffe}' | '\u{ffff}'))
    {
        return bad(format!(
            "character {} is a control character or a noncharacter, which SNS cannot deliver to every subscriber",
            at + 1
        ));
    }
    match kind {
        DataType::String => Ok(()),
        DataType::Binary if is_base64(value) => Ok(()),
        DataType::Binary => bad("must be standard base64 (RFC 4648, with padding)".to_owned()),
        DataType::Number => match number_fault(value) {
            Some(why) => bad(format!("must be a number: {why}")),
            None => Ok(()),
        },
        DataType::StringArray => match string_array_fault(value) {
            Some(why) => bad(format!("must be a JSON array text: {why}")),
            None => Ok(()),
        },
    }
}

/// Why a Number attribute value is not one SNS accepts: decimal notation (`-12`, `3.5`, `1e-3`),
/// at most 38 significant digits, magnitude 10^-128 … 10^+126 (or zero).
pub(super) fn number_fault(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let unsigned = bytes
        .strip_prefix(b"-")
        .or_else(|| bytes.strip_prefix(b"+"))
        .unwrap_or(bytes);
    let (mantissa, exponent) = match unsigned.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (
            unsigned.get(..at).unwrap_or_default(),
            unsigned.get(at + 1..),
        ),
        None => (unsigned, None),
    };
    let digits = mantissa.iter().filter(|b| b.is_ascii_digit()).count();
    let dots = mantissa.iter().filter(|&&b| b == b'.').count();
    let mantissa_ok = digits > 0 && dots <= 1 && digits + dots == mantissa.len();
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e
            .strip_prefix(b"-")
            .or_else(|| e.strip_prefix(b"+"))
            .unwrap_or(e);
        !e.is_empty() && e.iter().all(u8::is_ascii_digit)
    });
    if !mantissa_ok || !exponent_ok {
        return Some("use decimal notation such as -12, 3.5 or 1.5e-3".to_owned());
    }
    let significant: Vec<u8> = mantissa
        .iter()
        .copied()
        .filter(u8::is_ascii_digit)
        .collect();
    let start = significant.iter().position(|&b| b != b'0');
    let end = significant.iter().rposition(|&b| b != b'0');
    let precision = match (start, end) {
        (Some(s), Some(e)) => e + 1 - s,
        _ => 0,
    };
    if precision > MAX_NUMBER_DIGITS {
        return Some(format!(
            "has {precision} significant digits, over the limit of {MAX_NUMBER_DIGITS}"
        ));
    }
    // Syntax is checked above, so this parse fails only on exponents f64 cannot hold at all.
    let magnitude = text.parse::<f64>().map_or(f64::INFINITY, f64::abs);
    let in_range = (MIN_NUMBER_MAGNITUDE..=MAX_NUMBER_MAGNITUDE).contains(&magnitude);
    if precision > 0 && !in_range {
        return Some("its magnitude must be between 10^-128 and 10^+126 (or zero)".to_owned());
    }
    None
}

/// Why a String.Array value is not what SNS accepts: a JSON array of strings, numbers, `true`,
/// `false` or `null` (SNS message attribute data types).
fn string_array_fault(text: &str) -> Option<String> {
    match serde_json::from_str::<Value>(text) {
        Err(_) => Some("it is not valid JSON".to_owned()),
        Ok(Value::Array(items)) => items
            .iter()
            .position(|v| matches!(v, Value::Array(_) | Value::Object(_)))
            .map(|at| {
                format!(
                    "element {at} is nested; elements must be strings, numbers, true, false or null"
                )
            }),
        Ok(other) => Some(format!("found {}", json_type(&other))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::*;
    use super::super::{ContractLimits, check};
    use super::*;
    use crate::destination::EntryParams;
    use crate::message::Message;

    const STD: &str = "arn:aws:sns:eu-west-1:123456789012:alerts";
    const FIFO: &str = "arn:aws:sns:eu-west-1:123456789012:alerts.fifo";

    fn topic(arn: &str) -> Destination {
        Destination::Sns {
            topic_arn: arn.into(),
        }
    }

    fn run_on(arn: &str, m: &Message, params: SnsParams) -> Result<(), ContractError> {
        check(
            m,
            &target(topic(arn), EntryParams::Sns(Arc::new(params))),
            &ContractLimits::default(),
        )
    }

    fn run(m: &Message, params: SnsParams) -> Result<(), ContractError> {
        run_on(STD, m, params)
    }

    fn attr(name: &str, data_type: &str, value: &str) -> SnsAttribute {
        SnsAttribute {
            name: name.into(),
            data_type: data_type.into(),
            value: value.into(),
        }
    }

    fn with_attrs(attributes: Vec<SnsAttribute>) -> SnsParams {
        SnsParams {
            attributes,
            ..SnsParams::default()
        }
    }

    fn grouped(group: &str) -> SnsParams {
        SnsParams {
            group_id: Some(group.into()),
            ..SnsParams::default()
        }
    }

    #[test]
    fn body_is_json_text_or_base64() {
        let m = msg(r#"{"a": 1}"#);
        assert_eq!(&*sns_body(&m.payload), br#"{"a": 1}"#);
        assert!(matches!(sns_body(&m.payload), Cow::Borrowed(_)));
        let b = Message::decode(r#"{"id":"b","payloadBase64":"aGVsbG8="}"#, None).unwrap();
        assert_eq!(&*sns_body(&b.payload), b"aGVsbG8=");
        for n in 0..10 {
            let m = binary(n);
            assert_eq!(body_len(&m.payload), sns_body(&m.payload).len(), "{n}");
        }
    }

    #[test]
    fn topic_arns() {
        let c = |arn: &str| check_topic_arn(&topic(arn), arn);
        let long = format!("arn:aws:sns:us-east-1:123456789012:{}", "t".repeat(256));
        let long_fifo = format!(
            "arn:aws:sns:us-east-1:123456789012:{}.fifo",
            "t".repeat(251)
        );
        for ok in [
            STD,
            FIFO,
            "arn:aws-cn:sns:cn-north-1:000000000000:a_B-9",
            &long,
            &long_fifo,
        ] {
            assert_eq!(c(ok), Ok(()), "{ok}");
        }
        let too_long = format!("arn:aws:sns:us-east-1:123456789012:{}", "t".repeat(257));
        assert_eq!(
            c(&too_long).unwrap_err().rule,
            "topic name must be 1–256 characters, is 257"
        );
        for bad in [
            "alerts",
            "arn:aws:sqs:eu-west-1:123456789012:alerts",
            "arn:aws:sns:eu-west-1:12345678901:alerts",
            "arn:aws:sns:eu-west-1:12345678901x:alerts",
            "arn:aws:sns::123456789012:alerts",
            "arn::sns:eu-west-1:123456789012:alerts",
            "arn:AWS:sns:eu-west-1:123456789012:alerts",
            "urn:aws:sns:eu-west-1:123456789012:alerts",
            "arn:aws:sns:eu-west-1:123456789012:",
            "arn:aws:sns:eu-west-1:123456789012:.fifo",
            "arn:aws:sns:eu-west-1:123456789012:a.b",
            "arn:aws:sns:eu-west-1:123456789012:a b",
            "arn:aws:sns:eu-west-1:123456789012:a:b",
            &too_long,
        ] {
            let e = c(bad).unwrap_err();
            assert_eq!(e.field, "TopicArn", "{bad}");
        }
        assert_eq!(
            c("alerts").unwrap_err().to_string(),
            "sns:alerts field `TopicArn`: must be arn:<partition>:sns:<region>:<12-digit account id>:<topic name>: \
             it does not have six `:`-separated parts"
        );
    }

    #[test]
    fn empty_body_is_refused() {
        assert_eq!(
            run(&binary(0), SnsParams::default()).unwrap_err().field,
            "Message"
        );
        assert_eq!(run(&binary(1), SnsParams::default()), Ok(()));
        assert_eq!(run(&msg("0"), SnsParams::default()), Ok(()));
    }

    #[test]
    fn size_counts_body_and_attributes() {
        assert_eq!(run(&sized(262_144), SnsParams::default()), Ok(()));
        let e = run(&raw_sized(262_145), SnsParams::default()).unwrap_err();
        assert_eq!(e.field, "Message");
        assert_eq!(
            e.rule,
            "body (262145 bytes) and attributes (0 bytes) add up to 262145 bytes, \
             over the SNS limit of 262144 bytes (256 KiB)"
        );
        // "k" + "String" + "vvvv" = 11 bytes of attribute.
        let a = || with_attrs(vec![attr("k", "String", "vvvv")]);
        assert_eq!(run(&sized(262_133), a()), Ok(()));
        assert!(
            run(&sized(262_134), a())
                .unwrap_err()
                .rule
                .contains("attributes (11 bytes)")
        );
        // Binary bodies count as their base64 text: 196,608 bytes encode to exactly 262,144.
        assert_eq!(run(&raw_binary(196_608), SnsParams::default()), Ok(()));
        assert!(run(&raw_binary(196_609), SnsParams::default()).is_err());
    }

    #[test]
    fn fifo_needs_a_valid_group() {
        let m = msg("1");
        assert_eq!(run_on(FIFO, &m, grouped("g-1")), Ok(()));
        let e = run_on(FIFO, &m, SnsParams::default()).unwrap_err();
        assert_eq!(e.field, "MessageGroupId");
        assert!(e.rule.starts_with("is required for a FIFO"), "{e}");
        let punct = r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~aZ9"##;
        assert_eq!(run_on(FIFO, &m, grouped(punct)), Ok(()));
        assert_eq!(run_on(FIFO, &m, grouped(&"g".repeat(128))), Ok(()));
        assert_eq!(
            run_on(FIFO, &m, grouped(&"g".repeat(129)))
                .unwrap_err()
                .rule,
            "must be 1–128 characters, is 129"
        );
        assert_eq!(
            run_on(FIFO, &m, grouped("")).unwrap_err().rule,
            "must be 1–128 characters, is empty"
        );
        for bad in ["a b", "é", "a\tb"] {
            assert_eq!(
                run_on(FIFO, &m, grouped(bad)).unwrap_err().field,
                "MessageGroupId",
                "{bad}"
            );
        }
    }

    #[test]
    fn standard_topics_take_an_optional_group_but_no_content_dedup() {
        let m = msg("1");
        assert_eq!(run(&m, SnsParams::default()), Ok(()));
        assert_eq!(run(&m, grouped("g")), Ok(()));
        assert_eq!(run(&m, grouped("a b")).unwrap_err().field, "MessageGroupId");
        let dedup = SnsParams {
            content_based_deduplication: true,
            ..grouped("g")
        };
        assert_eq!(run_on(FIFO, &m, dedup.clone()), Ok(()));
        assert_eq!(
            run(&m, dedup).unwrap_err().field,
            "ContentBasedDeduplication"
        );
    }

    #[test]
    fn subjects() {
        let m = msg("1");
        let s = |subject: &str| {
            run(
                &m,
                SnsParams {
                    subject: Some(subject.into()),
                    ..SnsParams::default()
                },
            )
        };
        for ok in [
            "Alarm",
            "9 pumps down",
            "[warn] tank low!",
            "~",
            &"s".repeat(100),
        ] {
            assert_eq!(s(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            s(&"s".repeat(101)).unwrap_err().rule,
            "must be at most 100 characters, is 101"
        );
        for bad in [
            "",
            " leading space",
            "line\nbreak",
            "tab\there",
            "bell\u{7}",
            "café",
            "\u{7f}",
        ] {
            assert_eq!(s(bad).unwrap_err().field, "Subject", "{bad:?}");
        }
        assert_eq!(
            s("café").unwrap_err().rule,
            "must be printable ASCII without line breaks or control characters: character 4 is not"
        );
    }

    #[test]
    fn message_structure_json() {
        let p = || SnsParams {
            message_structure_json: true,
            ..SnsParams::default()
        };
        assert_eq!(
            run(
                &msg(r#"{"default":"hi","email":"long text","sms":"hi"}"#),
                p()
            ),
            Ok(())
        );
        assert_eq!(
            run(&msg(r#"{"default":"hi","sms":{"x":1}}"#), p())
                .unwrap_err()
                .field,
            "Message.sms"
        );
        assert_eq!(
            run(&msg(r#"{"sms":"hi"}"#), p()).unwrap_err().field,
            "Message.default"
        );
        assert_eq!(
            run(&msg(r#"{"default":1}"#), p()).unwrap_err().field,
            "Message.default"
        );
        let e = run(&msg(r#"["default"]"#), p()).unwrap_err();
        assert_eq!(e.field, "Message");
        assert!(e.rule.ends_with("found an array"), "{e}");
        assert!(
            run(&binary(3), p())
                .unwrap_err()
                .rule
                .contains("not a binary one")
        );
        // Without the flag any payload goes as is.
        assert_eq!(run(&msg(r#"["default"]"#), SnsParams::default()), Ok(()));
    }

    #[test]
    fn attribute_count() {
        let m = msg("1");
        let n = |count: usize| {
            with_attrs(
                (0..count)
                    .map(|i| attr(&format!("a{i}"), "String", "v"))
                    .collect(),
            )
        };
        assert_eq!(run(&m, n(10)), Ok(()));
        let e = run(&m, n(11)).unwrap_err();
        assert_eq!(e.field, "MessageAttributes");
        assert_eq!(e.rule, "has 11 attributes, over the limit of 10");
    }

    #[test]
    fn attribute_names() {
        let m = msg("1");
        let name = |n: &str| run(&m, with_attrs(vec![attr(n, "String", "v")]));
        for ok in [
            "a",
            "deviceId",
            "a.b-c_d",
            "AWSX.a",
            "my.AWS.x",
            "Amazonian",
            &"n".repeat(256),
        ] {
            assert_eq!(name(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            name(&"n".repeat(257)).unwrap_err().rule,
            "name must be 1–256 characters, is 257"
        );
        for bad in [
            ".a",
            "a.",
            "a..b",
            "AWS.x",
            "aws.x",
            "amazon.sns",
            "Amazon.x",
            "a b",
            "a/b",
            "é",
        ] {
            let e = name(bad).unwrap_err();
            assert!(e.field.starts_with("MessageAttributes."), "{bad}: {e}");
        }
        let e = name("").unwrap_err();
        assert_eq!(e.field, "MessageAttributes[0]");
        assert_eq!(e.rule, "name must be 1–256 characters, is empty");
        let e = name("AWS.trace").unwrap_err();
        assert_eq!(e.field, "MessageAttributes.AWS.trace");
        let dup = run(
            &m,
            with_attrs(vec![attr("a", "String", "1"), attr("a", "Number", "2")]),
        );
        assert!(dup.unwrap_err().rule.starts_with("appears twice"));
        let cased = run(
            &m,
            with_attrs(vec![attr("a", "String", "1"), attr("A", "Number", "2")]),
        );
        assert_eq!(cased, Ok(()));
    }

    #[test]
    fn data_types() {
        assert_eq!(parse_data_type("String"), Some(DataType::String));
        assert_eq!(parse_data_type("String.custom"), Some(DataType::String));
        assert_eq!(parse_data_type("String.Array"), Some(DataType::StringArray));
        assert_eq!(
            parse_data_type("String.Array.x"),
            Some(DataType::StringArray)
        );
        assert_eq!(parse_data_type("String.Arrays"), Some(DataType::String));
        assert_eq!(parse_data_type("Number"), Some(DataType::Number));
        assert_eq!(parse_data_type("Number.float"), Some(DataType::Number));
        assert_eq!(parse_data_type("Binary.gif"), Some(DataType::Binary));
        for bad in [
            "",
            "string",
            "Int",
            "Number.",
            "Binary.a b",
            "String.é",
            ".String",
        ] {
            assert_eq!(parse_data_type(bad), None, "{bad}");
        }
        let m = msg("1");
        let t = |dt: &str| run(&m, with_attrs(vec![attr("a", dt, "1")]));
        assert_eq!(t(&format!("Number.{}", "x".repeat(249))), Ok(()));
        let e = t(&format!("Number.{}", "x".repeat(250))).unwrap_err();
        assert_eq!(e.field, "MessageAttributes.a.DataType");
        assert_eq!(e.rule, "must be at most 256 characters, is 257");
        assert_eq!(
            t("Integer").unwrap_err().field,
            "MessageAttributes.a.DataType"
        );
    }

    #[test]
    fn attribute_values() {
        let m = msg("1");
        let v = |dt: &str, value: &str| run(&m, with_attrs(vec![attr("a", dt, value)]));
        assert_eq!(v("String", "any text ✓"), Ok(()));
        assert_eq!(
            v("String", "").unwrap_err().field,
            "MessageAttributes.a.StringValue"
        );
        assert_eq!(v("Binary", "aGk="), Ok(()));
        assert_eq!(v("Binary.png", "AA=="), Ok(()));
        let e = v("Binary", "not base64").unwrap_err();
        assert_eq!(e.field, "MessageAttributes.a.BinaryValue");
        assert_eq!(e.rule, "must be standard base64 (RFC 4648, with padding)");
        assert!(v("Binary", "").is_err());
        assert_eq!(v("String.Array", r#"["a", 1, true, false, null]"#), Ok(()));
        assert_eq!(v("String.Array", "[]"), Ok(()));
        for bad in [
            "a",
            r#""a""#,
            "{}",
            r#"["a", ["b"]]"#,
            r#"[{"a":1}]"#,
            "[1,",
        ] {
            assert!(v("String.Array", bad).is_err(), "{bad}");
        }
        assert_eq!(
            v("String.Array", "[[1]]").unwrap_err().rule,
            "must be a JSON array text: element 0 is nested; elements must be strings, numbers, true, false or null"
        );
    }

    #[test]
    fn number_values() {
        let ok_38 = "1".repeat(38);
        let with_zeros = format!("000{}000.000", "9".repeat(32));
        for ok in [
            "0",
            "-0",
            "12",
            "-12",
            "+7",
            "3.5",
            ".5",
            "5.",
            "1e3",
            "1.5E-3",
            "1e126",
            "-1e-128",
            "0.0000",
            &ok_38,
            &with_zeros,
        ] {
            assert_eq!(number_fault(ok), None, "{ok}");
        }
        for bad in [
            "", "-", ".", "e5", "1e", "1e+", "1.2.3", "1,5", "NaN", "inf", "-inf", "0x10", " 1",
            "1 ", "1e127", "1e-129", "1e99999",
        ] {
            assert!(number_fault(bad).is_some(), "{bad}");
        }
        assert_eq!(
            number_fault(&"1".repeat(39)).unwrap(),
            "has 39 significant digits, over the limit of 38"
        );
        let m = msg("1");
        let e = run(&m, with_attrs(vec![attr("n", "Number", "twelve")])).unwrap_err();
        assert_eq!(e.field, "MessageAttributes.n.StringValue");
        assert!(e.rule.starts_with("must be a number"), "{e}");
    }

    #[test]
    fn errors_never_echo_payload_or_values() {
        let secret = "s3cr3t-value";
        let m = msg(&format!(r#"{{"default":"x","sms":{{"v":"{secret}"}}}}"#));
        let p = SnsParams {
            message_structure_json: true,
            attributes: vec![attr("n", "Number", secret)],
            ..SnsParams::default()
        };
        let e = run(&m, p).unwrap_err();
        assert!(!e.to_string().contains(secret), "{e}");
        let p = SnsParams {
            message_structure_json: true,
            ..SnsParams::default()
        };
        let e = run(&m, p).unwrap_err();
        assert!(!e.to_string().contains(secret), "{e}");
    }
}
