//! SQS `SendMessageBatch` entries: the queue URL, the message body (characters and size with
//! attributes), FIFO message groups, DelaySeconds and message attributes.

use super::sns::{
    DataType, attribute_field, body_len, check_attribute_name, number_fault, parse_data_type,
};
use std::fmt;

use super::{ContractError, NameSet, ascii_name, is_base64, name_rule};
use crate::destination::{Destination, SnsAttribute, SqsParams};
use crate::message::Payload;

/// Queue names: 1–80 characters of `[A-Za-z0-9_-]`, FIFO names ending `.fifo` within the 80
/// (API reference, CreateQueue: QueueName).
const MAX_QUEUE_NAME_CHARS: usize = 80;
const FIFO_SUFFIX: &str = ".fifo";
/// MessageGroupId: "The maximum length of MessageGroupId is 128 characters. Valid values:
/// alphanumeric characters and punctuation" (API reference, SendMessageBatchRequestEntry).
const MAX_GROUP_ID_CHARS: usize = 128;
/// "Amazon SQS messages can contain up to 10 metadata attributes" (Developer Guide, message
/// attributes).
const MAX_ATTRIBUTES: usize = 10;
/// Data types, custom suffix included: up to 256 characters (SQS message attribute data types).
const MAX_DATA_TYPE_CHARS: usize = 256;
/// The largest a queue's MaximumMessageSize can be: 1 MiB (API reference, SetQueueAttributes,
/// since August 2025).
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// What a target assumes of its queue unless told more: 256 KiB, the MaximumMessageSize of
/// queues created with the defaults before SQS raised the ceiling, and within every queue that
/// kept or raised its limit. A queue whose MaximumMessageSize is larger can say so with
/// `maxMessageBytes` (up to [`MAX_MESSAGE_BYTES`]).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 262_144;

/// `http(s)://<host>/<12-digit account>/<queue name>`, the form GetQueueUrl and CreateQueue return.
pub(super) fn check_queue_url(dest: &Destination, url: &str) -> Result<(), ContractError> {
    const SHAPE: &str = "https://sqs.<region>.amazonaws.com/<12-digit account id>/<queue name>";
    let bad = |why: &str| ContractError::new(dest, "QueueUrl", format!("must be {SHAPE}: {why}"));
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| bad("it must start with https://"))?;
    let mut parts = rest.split('/');
    let (Some(host), Some(account), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("the path must be /<account id>/<queue name>"));
    };
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("the host is empty or has spaces or control characters"));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the account id must be 12 digits"));
    }
    ascii_name(name, MAX_QUEUE_NAME_CHARS, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
    })
    .map_err(|f| {
        ContractError::new(
            dest,
            "QueueUrl",
            format!(
                "queue name {}",
                name_rule(
                    f,
                    MAX_QUEUE_NAME_CHARS,
                    "[A-Za-z0-9_-] with an optional `.fifo` suffix"
                )
            ),
        )
    })?;
    let base = name.strip_suffix(FIFO_SUFFIX).unwrap_or(name);
    if base.is_empty() || base.contains('.') {
        return Err(ContractError::new(
            dest,
            "QueueUrl",
            "queue name must be 1 or more of [A-Za-z0-9_-], optionally followed by `.fifo`; `.` \
             is allowed only in that suffix",
        ));
    }
    Ok(())
}

/// SQS takes only the XML character set in messages: `#x9 | #xA | #xD | #x20–#xD7FF |
/// #xE000–#xFFFD | #x10000–#x10FFFF` (API reference, SendMessageBatch).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Bytes SQS counts toward the message size: the body, and each attribute's name, type and value.
pub(crate) fn message_len(payload: &Payload, attributes: &[SnsAttribute]) -> usize {
    attributes
        .iter()
        .map(SnsAttribute::size)
        .fold(body_len(payload), usize::saturating_add)
}

pub(super) fn check(
    dest: &Destination,
    queue_url: &str,
    payload: &Payload,
    params: &SqsParams,
) -> Result<(), ContractError> {
    if body_len(payload) == 0 {
        return Err(ContractError::new(
            dest,
            "MessageBody",
            "must not be empty (SQS refuses an empty message body)",
        ));
    }
    // JSON text holds no raw control characters, but may hold U+FFFE and U+FFFF, which SQS
    // refuses; base64 bodies are plain ASCII.
    if let Payload::Json(json) = payload
        && json.raw().contains(['\u{FFFE}', '\u{FFFF}'])
    {
        return Err(ContractError::new(
            dest,
            "MessageBody",
            "holds U+FFFE or U+FFFF, which SQS refuses (it takes the XML character set only)",
        ));
    }
    check_attributes(dest, &params.attributes)?;
    let total = message_len(payload, &params.attributes);
    let max = params.max_message_bytes;
    if total > max {
        return Err(ContractError::new(
            dest,
            "MessageBody",
            format!(
                "body and attributes add up to {total} bytes, over this queue's maximum message \
                 size of {max} bytes (raise `maxMessageBytes` if the queue's MaximumMessageSize \
                 allows more)"
            ),
        ));
    }
    let fifo = queue_url.ends_with(FIFO_SUFFIX);
    match &params.group_id {
        Some(group) => check_group_id(dest, group)?,
        None if fifo => {
            return Err(ContractError::new(
                dest,
                "MessageGroupId",
                "is required for a FIFO (`.fifo`) queue: set the target's `groupId`",
            ));
        }
        None => {}
    }
    if fifo && params.delay_seconds.is_some() {
        return Err(ContractError::new(
            dest,
            "DelaySeconds",
            "FIFO queues take no per-message delay (only the queue's own): remove `delaySeconds`",
        ));
    }
    Ok(())
}

fn check_group_id(dest: &dyn fmt::Display, group: &str) -> Result<(), ContractError> {
    ascii_name(group, MAX_GROUP_ID_CHARS, |b| NameSet::GroupId.allows(b)).map_err(|f| {
        ContractError::new(
            dest,
            "MessageGroupId",
            name_rule(f, MAX_GROUP_ID_CHARS, NameSet::GroupId.describe()),
        )
    })
}

/// The SQS target fields a routing table fixes, checked at cold start with the rules `check`
/// applies per message: `attributes` are (name, data type, the value when it has no template).
pub(super) fn check_literals(
    dest: &dyn fmt::Display,
    group_id: Option<&str>,
    attributes: &[(&str, &str, Option<&str>)],
) -> Result<(), ContractError> {
    if let Some(group) = group_id {
        check_group_id(dest, group)?;
    }
    check_attribute_count(dest, attributes.len())?;
    for (i, (name, data_type, value)) in attributes.iter().enumerate() {
        check_attribute(dest, i, name, data_type, *value)?;
    }
    Ok(())
}

fn check_attribute_count(dest: &dyn fmt::Display, count: usize) -> Result<(), ContractError> {
    if count > MAX_ATTRIBUTES {
        return Err(ContractError::new(
            dest,
            "MessageAttributes",
            format!("has {count} attributes, over the limit of {MAX_ATTRIBUTES}"),
        ));
    }
    Ok(())
}

/// At most 10 attributes; names as SNS defines them (the same rules); types String, Number and
/// Binary with an optional custom suffix (`String.Array` is a String with the label `Array`).
fn check_attributes(dest: &Destination, attributes: &[SnsAttribute]) -> Result<(), ContractError> {
    check_attribute_count(dest, attributes.len())?;
    for (i, attr) in attributes.iter().enumerate() {
        if attributes.iter().take(i).any(|a| a.name == attr.name) {
            return Err(ContractError::new(
                dest,
                attribute_field(i, &attr.name, ""),
                "appears twice: attribute names must be unique",
            ));
        }
        check_attribute(dest, i, &attr.name, &attr.data_type, Some(&attr.value))?;
    }
    Ok(())
}

/// One attribute: its name and type, and its value when known.
fn check_attribute(
    dest: &dyn fmt::Display,
    i: usize,
    name: &str,
    data_type: &str,
    value: Option<&str>,
) -> Result<(), ContractError> {
    check_attribute_name(dest, i, name)?;
    let type_field = || attribute_field(i, name, ".DataType");
    let kind = (data_type.len() <= MAX_DATA_TYPE_CHARS)
        .then(|| parse_data_type(data_type))
        .flatten()
        .ok_or_else(|| {
            ContractError::new(
                dest,
                type_field(),
                "must be String, Number or Binary, optionally followed by a custom `.suffix` \
                 of [A-Za-z0-9_.-], at most 256 characters in all",
            )
        })?;
    let Some(value) = value else {
        return Ok(());
    };
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
        return bad("must not be empty (SQS refuses empty attribute values)".to_owned());
    }
    match kind {
        DataType::Binary if !is_base64(value) => {
            bad("must be standard base64 (RFC 4648, with padding)".to_owned())
        }
        DataType::Number => match number_fault(value) {
            Some(why) => bad(format!("must be a number: {why}")),
            None => Ok(()),
        },
        DataType::String | DataType::StringArray if !value.chars().all(xml_char) => bad(
            "holds a character SQS refuses (control characters other than tab, line \
             feed and carriage return, U+FFFE, U+FFFF or surrogates)"
                .to_owned(),
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::*;
    use super::super::{ContractLimits, check as check_any};
    use super::*;
    use crate::destination::EntryParams;
    use crate::message::Message;

    const STD: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/alerts";
    const FIFO: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/alerts.fifo";

    fn queue(url: &str) -> Destination {
        Destination::Sqs {
            queue_url: url.into(),
        }
    }

    fn params() -> SqsParams {
        SqsParams {
            group_id: None,
            delay_seconds: None,
            attributes: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }

    fn run_on(url: &str, m: &Message, p: SqsParams) -> Result<(), ContractError> {
        check_any(
            m,
            &target(queue(url), EntryParams::Sqs(Arc::new(p))),
            &ContractLimits::default(),
        )
    }

    fn attr(name: &str, data_type: &str, value: &str) -> SnsAttribute {
        SnsAttribute {
            name: name.into(),
            data_type: data_type.into(),
            value: value.into(),
        }
    }

    #[test]
    fn queue_urls() {
        let long = format!(
            "https://sqs.eu-west-1.amazonaws.com/123456789012/{}",
            "q".repeat(80)
        );
        for ok in [STD, FIFO, "http://127.0.0.1:5000/123456789012/q_1-a", &long] {
            assert_eq!(check_queue_url(&queue(ok), ok), Ok(()), "{ok}");
        }
        for bad in [
            "alerts",
            "sqs.eu-west-1.amazonaws.com/123456789012/alerts",
            "https://sqs.eu-west-1.amazonaws.com/alerts",
            "https://sqs.eu-west-1.amazonaws.com/12345678901/alerts",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/alerts/x",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/a.b",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/.fifo",
            "https:///123456789012/alerts",
            &format!(
                "https://sqs.eu-west-1.amazonaws.com/123456789012/{}",
                "q".repeat(81)
            ),
        ] {
            assert_eq!(
                check_queue_url(&queue(bad), bad).unwrap_err().field,
                "QueueUrl",
                "{bad}"
            );
        }
    }

    #[test]
    fn size_counts_body_and_attributes_against_the_queue_limit() {
        assert_eq!(run_on(STD, &sized(262_144), params()), Ok(()));
        let e = run_on(STD, &raw_sized(262_145), params()).unwrap_err();
        assert_eq!(e.field, "MessageBody");
        assert!(e.rule.contains("262145 bytes"), "{e}");
        let raised = SqsParams {
            max_message_bytes: MAX_MESSAGE_BYTES,
            ..params()
        };
        assert_eq!(run_on(STD, &raw_sized(262_145), raised), Ok(()));
        // "k" + "String" + "vvvv" = 11 bytes of attribute.
        let a = SqsParams {
            attributes: vec![attr("k", "String", "vvvv")],
            ..params()
        };
        assert_eq!(run_on(STD, &sized(262_133), a.clone()), Ok(()));
        assert!(run_on(STD, &sized(262_134), a).is_err());
        // Binary bodies travel as base64 text.
        assert_eq!(run_on(STD, &raw_binary(196_608), params()), Ok(()));
        assert!(run_on(STD, &raw_binary(196_609), params()).is_err());
        assert_eq!(
            run_on(STD, &binary(0), params()).unwrap_err().field,
            "MessageBody"
        );
    }

    #[test]
    fn body_characters() {
        assert_eq!(run_on(STD, &msg("\"tab\\there ✓\""), params()), Ok(()));
        let e = run_on(STD, &msg("\"\u{FFFF}\""), params()).unwrap_err();
        assert_eq!(e.field, "MessageBody");
    }

    #[test]
    fn fifo_queues_need_a_group_and_take_no_delay() {
        let m = msg("1");
        let grouped = SqsParams {
            group_id: Some("sensor-42".into()),
            ..params()
        };
        assert_eq!(run_on(FIFO, &m, grouped.clone()), Ok(()));
        assert_eq!(
            run_on(FIFO, &m, params()).unwrap_err().field,
            "MessageGroupId"
        );
        let delayed = SqsParams {
            delay_seconds: Some(5),
            ..grouped.clone()
        };
        assert_eq!(
            run_on(FIFO, &m, delayed.clone()).unwrap_err().field,
            "DelaySeconds"
        );
        // A standard queue takes both (a group id is used by fair queues).
        assert_eq!(run_on(STD, &m, delayed), Ok(()));
        let spaced = SqsParams {
            group_id: Some("a b".into()),
            ..params()
        };
        assert_eq!(run_on(STD, &m, spaced).unwrap_err().field, "MessageGroupId");
    }

    #[test]
    fn attributes() {
        let m = msg("1");
        let with = |attrs: Vec<SnsAttribute>| {
            run_on(
                STD,
                &m,
                SqsParams {
                    attributes: attrs,
                    ..params()
                },
            )
        };
        assert_eq!(
            with(vec![
                attr("device", "String", "sensor-42"),
                attr("level", "Number.int", "3"),
                attr("raw", "Binary", "AAE="),
                attr("list", "String.Array", "not checked as an array"),
            ]),
            Ok(())
        );
        let field = |a: SnsAttribute| with(vec![a]).unwrap_err().field;
        assert_eq!(
            field(attr("AWS.x", "String", "v")),
            "MessageAttributes.AWS.x"
        );
        assert_eq!(
            field(attr("a", "Integer", "1")),
            "MessageAttributes.a.DataType"
        );
        assert_eq!(
            field(attr("a", "Number", "one")),
            "MessageAttributes.a.StringValue"
        );
        assert_eq!(
            field(attr("a", "Binary", "!")),
            "MessageAttributes.a.BinaryValue"
        );
        assert_eq!(
            field(attr("a", "String", "")),
            "MessageAttributes.a.StringValue"
        );
        assert_eq!(
            field(attr("a", "String", "bell\u{7}")),
            "MessageAttributes.a.StringValue"
        );
        let eleven = (0..11)
            .map(|i| attr(&format!("a{i}"), "String", "v"))
            .collect();
        assert_eq!(with(eleven).unwrap_err().field, "MessageAttributes");
        let twice = vec![attr("a", "String", "1"), attr("a", "String", "2")];
        assert!(with(twice).unwrap_err().rule.starts_with("appears twice"));
    }
}
