//! IoT Core `Publish` and device-fleet publishes: topic names, QoS, payload caps and the MQTT 5
//! properties (response topic, correlation data, user properties, expiry, content type).

use std::fmt;

use serde_json::Value;

use super::{ContractError, ContractLimits, NameSet, ascii_name, is_base64, name_rule};
use crate::destination::{Destination, PayloadFormat, PublishParams};
use crate::message::{Payload, json_type};

/// Topic names: at most 256 bytes of UTF-8 (AWS IoT Core message broker quotas, "Topic size").
const MAX_TOPIC_BYTES: usize = 256;
/// At most 7 forward slashes per topic, the Basic Ingest prefix `$aws/rules/<rule>/` not counted
/// (AWS IoT Core quotas, "Maximum number of slashes in topic and topic filter").
const MAX_TOPIC_SLASHES: usize = 7;
/// Basic Ingest: publishing to `$aws/rules/<rule-name>/…` feeds a rule directly.
const BASIC_INGEST: &str = "$aws/rules/";
/// Rule names: 1–128 characters, `^[a-zA-Z0-9_]+$` (IoT CreateTopicRule).
const MAX_RULE_NAME_CHARS: usize = 128;
/// IoT Core: 128 KiB per PUBLISH ("Message size", AWS IoT Core message broker quotas,
/// <https://docs.aws.amazon.com/general/latest/gr/iot-core.html#message-broker-limits>). Device
/// fleets publish through IoT Core too, so BatchPub's own 256 KB does not apply to them.
const MAX_PUBLISH_PAYLOAD: usize = 131_072;
/// Alibaba Cloud IoT Platform DeviceName: 4–32 characters (RegisterDevice).
const DEVICE_NAME_CHARS: std::ops::RangeInclusive<usize> = 4..=32;
/// ProductKey: issued by the platform (11 letters and digits today); no longer key is issued, so
/// a longer one is a typo or a hostile value.
const MAX_PRODUCT_KEY_CHARS: usize = 32;
/// contentType: IoT publishes no figure for the Publish API; the IoT rules republish action,
/// which sets the same MQTT 5 property, caps ContentType at 1024 characters. A MIME type is far
/// shorter (RFC 6838: type and subtype names are at most 127 characters each), so 1024 bytes
/// leaves room for parameters while refusing runaway templates.
const MAX_CONTENT_TYPE_BYTES: usize = 1024;
/// userProperties travel as one header: AWS IoT Core caps a message's user properties at 8 KB
/// ("User properties size", message broker and protocol quotas, MQTT 5).
const MAX_USER_PROPERTIES_BYTES: usize = 8192;
/// correlationData: the MQTT 5 headers of AWS IoT (`MqttHeaders`, IoT API reference) take at most
/// 1,024 characters of base64.
const MAX_CORRELATION_DATA_CHARS: usize = 1024;
/// messageExpiry is an MQTT 5 Four Byte Integer (seconds): 0 … 2^32−1.
const MAX_MESSAGE_EXPIRY: i64 = 4_294_967_295;

/// Checks a topic name (`field` is `topic` or `responseTopic`).
pub(super) fn check_topic(
    dest: &dyn fmt::Display,
    field: &str,
    topic: &str,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
    let bad = |rule: String| Err(ContractError::new(dest, field, rule));
    if topic.is_empty() {
        return bad("must not be empty".to_owned());
    }
    if topic.contains(['+', '#']) {
        return bad(
            "must not contain the MQTT wildcards `+` or `#`: a publish names one topic, not a filter"
                .to_owned(),
        );
    }
    if topic.contains('\0') {
        return bad("must not contain NUL (U+0000), which MQTT forbids in topic names".to_owned());
    }
    let counted = if let Some(rest) = topic.strip_prefix(BASIC_INGEST) {
        let (rule, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if let Err(f) = ascii_name(rule, MAX_RULE_NAME_CHARS, |b| {
            b.is_ascii_alphanumeric() || b == b'_'
        }) {
            return bad(format!(
                "Basic Ingest rule name (after `$aws/rules/`) {}",
                name_rule(f, MAX_RULE_NAME_CHARS, "^[a-zA-Z0-9_]+$")
            ));
        }
        tail
    } else if topic.starts_with('$') && !limits.allow_reserved_topics {
        return bad(
            "starts with `$`, reserved by AWS IoT: set FANOUT_ALLOW_RESERVED_TOPICS=true to publish \
             to reserved topics (Basic Ingest `$aws/rules/<rule>/…` is always allowed)"
                .to_owned(),
        );
    } else {
        topic
    };
    if counted.len() > MAX_TOPIC_BYTES {
        return bad(format!(
            "must be at most {MAX_TOPIC_BYTES} bytes (a `$aws/rules/<rule>/` prefix is not counted), is {}",
            counted.len()
        ));
    }
    let slashes = counted.bytes().filter(|&b| b == b'/').count();
    if slashes > MAX_TOPIC_SLASHES {
        return bad(format!(
            "has {slashes} `/`, over the AWS IoT limit of {MAX_TOPIC_SLASHES} \
             (a `$aws/rules/<rule>/` prefix is not counted)"
        ));
    }
    Ok(())
}

pub(super) fn check(
    dest: &Destination,
    payload: &Payload,
    params: &PublishParams,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
    // Empty payloads are allowed: with retain they delete the topic's retained message.
    if payload.len() > MAX_PUBLISH_PAYLOAD {
        return Err(ContractError::new(
            dest,
            "payload",
            format!(
                "is {} bytes, over the AWS IoT Core limit of {MAX_PUBLISH_PAYLOAD} bytes (128 KiB) for one publish",
                payload.len()
            ),
        ));
    }
    // MQTT 5: a payload marked UTF-8 must be valid UTF-8 (JSON payloads always are).
    if params.payload_format_indicator == Some(PayloadFormat::Utf8Data)
        && std::str::from_utf8(payload.bytes()).is_err()
    {
        return Err(ContractError::new(
            dest,
            "payloadFormatIndicator",
            "is UTF8_DATA but the payload is not valid UTF-8: use UNSPECIFIED_BYTES or omit it",
        ));
    }
    check_params(dest, params, limits)
}

/// QoS and the MQTT 5 properties: what a routing table fixes for a publish, and checks at cold
/// start when it has no template.
pub(super) fn check_params(
    dest: &dyn fmt::Display,
    params: &PublishParams,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
    if params.qos > 1 {
        return Err(ContractError::new(
            dest,
            "qos",
            format!(
                "must be 0 or 1 (AWS IoT does not support QoS 2), is {}",
                params.qos
            ),
        ));
    }
    if let Some(response) = &params.response_topic {
        check_topic(dest, "responseTopic", response, limits)?;
    }
    if let Some(data) = &params.correlation_data {
        if !is_base64(data) {
            return Err(ContractError::new(
                dest,
                "correlationData",
                "must be standard base64 (RFC 4648, with padding)",
            ));
        }
        if data.len() > MAX_CORRELATION_DATA_CHARS {
            return Err(ContractError::new(
                dest,
                "correlationData",
                format!(
                    "is {} characters of base64, over the limit of {MAX_CORRELATION_DATA_CHARS}",
                    data.len()
                ),
            ));
        }
    }
    if let Some(props) = &params.user_properties {
        check_user_properties(dest, props)?;
    }
    if let Some(expiry) = params.message_expiry
        && !(0..=MAX_MESSAGE_EXPIRY).contains(&expiry)
    {
        return Err(ContractError::new(
            dest,
            "messageExpiry",
            format!("must be 0 … {MAX_MESSAGE_EXPIRY} seconds, is {expiry}"),
        ));
    }
    if let Some(content_type) = &params.content_type {
        check_content_type(dest, content_type)?;
    }
    Ok(())
}

/// userProperties: "A JSON string that contains an array of JSON objects", each a name → string
/// value pair such as `[{"deviceName": "alpha"}, {"deviceCnt": "45"}]` (IoT data plane Publish).
fn check_user_properties(dest: &dyn fmt::Display, text: &str) -> Result<(), ContractError> {
    let bad = |rule: String| Err(ContractError::new(dest, "userProperties", rule));
    if text.len() > MAX_USER_PROPERTIES_BYTES {
        return bad(format!(
            "are {} bytes, over the AWS IoT Core limit of {MAX_USER_PROPERTIES_BYTES} bytes (8 KiB) for a message's user properties",
            text.len()
        ));
    }
    const SHAPE: &str =
        r#"must be a JSON array of objects with string values, such as [{"deviceName": "alpha"}]"#;
    let items = match serde_json::from_str::<Value>(text) {
        Err(_) => return bad(format!("{SHAPE}: it is not valid JSON")),
        Ok(Value::Array(items)) => items,
        Ok(other) => return bad(format!("{SHAPE}, found {}", json_type(&other))),
    };
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return bad(format!("{SHAPE}: element {i} is {}", json_type(item)));
        };
        if map.is_empty() {
            return bad(format!("{SHAPE}: element {i} is an empty object"));
        }
        if let Some(v) = map.values().find(|v| !v.is_string()) {
            return bad(format!(
                "{SHAPE}: element {i} has a value that is {}",
                json_type(v)
            ));
        }
    }
    Ok(())
}

fn check_content_type(dest: &dyn fmt::Display, content_type: &str) -> Result<(), ContractError> {
    let bad = |rule: String| Err(ContractError::new(dest, "contentType", rule));
    if content_type.is_empty() {
        return bad("must not be empty: omit it instead".to_owned());
    }
    if let Some(i) = content_type
        .bytes()
        .position(|b| !(b' '..=b'~').contains(&b))
    {
        let pos = content_type
            .char_indices()
            .take_while(|&(at, _)| at <= i)
            .count();
        return bad(format!(
            "must be printable ASCII (a MIME type such as application/json): character {pos} is not"
        ));
    }
    if content_type.len() > MAX_CONTENT_TYPE_BYTES {
        return bad(format!(
            "must be at most {MAX_CONTENT_TYPE_BYTES} characters, is {}",
            content_type.len()
        ));
    }
    Ok(())
}

/// A fleet's ProductKey: the platform issues it as letters and digits.
pub(super) fn check_product_key(
    dest: &dyn fmt::Display,
    product_key: &str,
) -> Result<(), ContractError> {
    ascii_name(product_key, MAX_PRODUCT_KEY_CHARS, |b| {
        NameSet::ProductKey.allows(b)
    })
    .map_err(|f| {
        ContractError::new(
            dest,
            "ProductKey",
            name_rule(f, MAX_PRODUCT_KEY_CHARS, NameSet::ProductKey.describe()),
        )
    })
}

/// A fleet's DeviceName: 4–32 letters, digits and `-_@.:` (Alibaba Cloud IoT Platform,
/// RegisterDevice). The name also fills one level of the device's topic, which `/` would break.
pub(super) fn check_device_name(
    dest: &dyn fmt::Display,
    device: &str,
) -> Result<(), ContractError> {
    let max = *DEVICE_NAME_CHARS.end();
    ascii_name(device, max, |b| NameSet::DeviceName.allows(b)).map_err(|f| {
        ContractError::new(
            dest,
            "DeviceName",
            name_rule(f, max, NameSet::DeviceName.describe()),
        )
    })?;
    if !DEVICE_NAME_CHARS.contains(&device.len()) {
        return Err(ContractError::new(
            dest,
            "DeviceName",
            format!(
                "must be {} to {max} characters, is {}",
                DEVICE_NAME_CHARS.start(),
                device.len()
            ),
        ));
    }
    Ok(())
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

    fn mqtt(topic: &str) -> Destination {
        Destination::Mqtt {
            topic: topic.into(),
        }
    }

    fn fleet(topic: &str) -> Destination {
        Destination::Fleet {
            topic: topic.into(),
        }
    }

    fn run_to(dest: Destination, m: &Message, params: PublishParams) -> Result<(), ContractError> {
        check(
            m,
            &target(dest, EntryParams::Publish(Arc::new(params))),
            &ContractLimits::default(),
        )
    }

    fn run(m: &Message, params: PublishParams) -> Result<(), ContractError> {
        run_to(mqtt("plant1/line3/alerts"), m, params)
    }

    fn topic_check(topic: &str, reserved: bool) -> Result<(), ContractError> {
        let limits = ContractLimits {
            allow_reserved_topics: reserved,
            ..ContractLimits::default()
        };
        check_topic(&mqtt(topic), "topic", topic, &limits)
    }

    #[test]
    fn topic_names() {
        let seven = "a/b/c/d/e/f/g/h";
        let long = "t".repeat(256);
        for ok in [
            "a",
            "a/b",
            "/leading",
            "trailing/",
            "a//b",
            "ünï/cødé",
            seven,
            &long,
        ] {
            assert_eq!(topic_check(ok, false), Ok(()), "{ok}");
        }
        let e = topic_check("a/b/c/d/e/f/g/h/i", false).unwrap_err();
        assert_eq!(e.field, "topic");
        assert!(
            e.rule.starts_with("has 8 `/`, over the AWS IoT limit of 7"),
            "{e}"
        );
        assert_eq!(
            topic_check(&"t".repeat(257), false).unwrap_err().rule,
            "must be at most 256 bytes (a `$aws/rules/<rule>/` prefix is not counted), is 257"
        );
        // Bytes, not characters: 128 two-byte characters fit, 129 do not.
        assert_eq!(topic_check(&"é".repeat(128), false), Ok(()));
        assert!(topic_check(&"é".repeat(129), false).is_err());
        for bad in ["", "a/+/b", "a/#", "+", "a\0b"] {
            assert_eq!(
                topic_check(bad, false).unwrap_err().field,
                "topic",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reserved_topics() {
        for t in ["$aws/things/pump/shadow/update", "$SYS/x", "$"] {
            let e = topic_check(t, false).unwrap_err();
            assert!(e.rule.contains("FANOUT_ALLOW_RESERVED_TOPICS"), "{e}");
            assert_eq!(topic_check(t, true), Ok(()), "{t}");
        }
    }

    #[test]
    fn basic_ingest() {
        // Always allowed, and its prefix does not count toward the 7 slashes.
        for ok in [
            "$aws/rules/my_rule",
            "$aws/rules/my_rule/",
            "$aws/rules/R1/a/b/c/d/e/f/g/h",
        ] {
            assert_eq!(topic_check(ok, false), Ok(()), "{ok}");
        }
        assert!(topic_check("$aws/rules/R1/a/b/c/d/e/f/g/h/i", false).is_err());
        let rule_128 = format!("$aws/rules/{}/x", "r".repeat(128));
        assert_eq!(topic_check(&rule_128, false), Ok(()));
        // The prefix does not count toward the 256 bytes either.
        let full = format!("$aws/rules/{}/{}", "r".repeat(128), "t".repeat(256));
        assert_eq!(topic_check(&full, false), Ok(()));
        let over = format!("$aws/rules/r/{}", "t".repeat(257));
        assert!(
            topic_check(&over, false)
                .unwrap_err()
                .rule
                .contains("is 257")
        );
        let rule_129 = format!("$aws/rules/{}/x", "r".repeat(129));
        assert_eq!(
            topic_check(&rule_129, false).unwrap_err().rule,
            "Basic Ingest rule name (after `$aws/rules/`) must be 1–128 characters, is 129"
        );
        for bad in ["$aws/rules/", "$aws/rules//x", "$aws/rules/my-rule/x"] {
            let e = topic_check(bad, true).unwrap_err();
            assert!(e.rule.starts_with("Basic Ingest rule name"), "{bad}: {e}");
        }
    }

    #[test]
    fn qos() {
        let m = msg("1");
        for qos in [0, 1] {
            assert_eq!(
                run(
                    &m,
                    PublishParams {
                        qos,
                        ..PublishParams::default()
                    }
                ),
                Ok(())
            );
        }
        let e = run(
            &m,
            PublishParams {
                qos: 2,
                ..PublishParams::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field, "qos");
        assert_eq!(
            e.rule,
            "must be 0 or 1 (AWS IoT does not support QoS 2), is 2"
        );
    }

    #[test]
    fn payload_caps() {
        let p = PublishParams::default;
        assert_eq!(run(&sized(131_072), p()), Ok(()));
        let e = run(&sized(131_073), p()).unwrap_err();
        assert_eq!(e.field, "payload");
        assert_eq!(
            e.rule,
            "is 131073 bytes, over the AWS IoT Core limit of 131072 bytes (128 KiB) for one publish"
        );
        assert!(run(&binary(131_073), p()).is_err());
        // Fleets publish through IoT Core: its 128 KiB applies, not BatchPub's 256 KB.
        let dev = || fleet("/a1BwAGV/dev1/user/get");
        assert_eq!(run_to(dev(), &sized(131_072), p()), Ok(()));
        assert_eq!(run_to(dev(), &binary(131_072), p()), Ok(()));
        let e = run_to(dev(), &binary(131_073), p()).unwrap_err();
        assert!(e.rule.contains("131072 bytes (128 KiB)"), "{e}");
        assert!(run_to(dev(), &sized(200 * 1024), p()).is_err());
        // Empty payloads are allowed (retain + empty deletes the retained message).
        let retain = PublishParams {
            retain: true,
            ..p()
        };
        assert_eq!(run(&binary(0), retain), Ok(()));
    }

    #[test]
    fn fleet_topics_follow_the_same_rules() {
        let m = msg("1");
        assert!(run_to(fleet("/p/d/user/+"), &m, PublishParams::default()).is_err());
        assert!(run_to(fleet("$aws/things/x"), &m, PublishParams::default()).is_err());
    }

    #[test]
    fn response_topic() {
        let m = msg("1");
        let r = |t: &str| {
            run(
                &m,
                PublishParams {
                    response_topic: Some(t.into()),
                    ..PublishParams::default()
                },
            )
        };
        assert_eq!(r("replies/pump-1"), Ok(()));
        assert_eq!(r("$aws/rules/replies/x"), Ok(()));
        for bad in [
            "",
            "replies/+",
            "replies/#",
            "$aws/things/x",
            &"r".repeat(257),
        ] {
            assert_eq!(r(bad).unwrap_err().field, "responseTopic", "{bad}");
        }
    }

    #[test]
    fn correlation_data() {
        let m = msg("1");
        let c = |d: &str| {
            run(
                &m,
                PublishParams {
                    correlation_data: Some(d.into()),
                    ..PublishParams::default()
                },
            )
        };
        assert_eq!(c("cmVxLTQy"), Ok(()));
        for bad in ["req-42", "cmVxLTQ", "cmVx LTQy"] {
            assert_eq!(c(bad).unwrap_err().field, "correlationData", "{bad}");
        }
        assert_eq!(c(&"AAAA".repeat(256)), Ok(()));
        assert!(c(&"AAAA".repeat(257)).unwrap_err().rule.contains("1024"));
    }

    #[test]
    fn user_properties() {
        let m = msg("1");
        let u = |text: &str| {
            run(
                &m,
                PublishParams {
                    user_properties: Some(text.into()),
                    ..PublishParams::default()
                },
            )
        };
        for ok in [
            r#"[{"deviceName": "alpha"}, {"deviceCnt": "45"}]"#,
            "[]",
            r#"[{"a":"1","b":""}]"#,
        ] {
            assert_eq!(u(ok), Ok(()), "{ok}");
        }
        // 8 KiB in all (AWS IoT Core MQTT 5 quotas).
        let sized = |n: usize| format!(r#"[{{"k":"{}"}}]"#, "v".repeat(n - 10));
        assert_eq!(u(&sized(8192)), Ok(()));
        assert!(u(&sized(8193)).unwrap_err().rule.contains("8 KiB"));
        for bad in [
            "",
            "{}",
            r#"{"a":"b"}"#,
            r#"[{"deviceCnt": 45}]"#,
            r#"["a"]"#,
            "[{}]",
            "[{",
            r#"[{"a":null}]"#,
        ] {
            assert_eq!(u(bad).unwrap_err().field, "userProperties", "{bad}");
        }
        assert_eq!(
            u(r#"[{"deviceCnt": 45}]"#).unwrap_err().rule,
            r#"must be a JSON array of objects with string values, such as [{"deviceName": "alpha"}]: element 0 has a value that is a number"#
        );
    }

    #[test]
    fn message_expiry() {
        let m = msg("1");
        let x = |s: i64| {
            run(
                &m,
                PublishParams {
                    message_expiry: Some(s),
                    ..PublishParams::default()
                },
            )
        };
        for ok in [0, 1, 3600, 4_294_967_295] {
            assert_eq!(x(ok), Ok(()), "{ok}");
        }
        for bad in [-1, i64::MIN, 4_294_967_296] {
            assert_eq!(x(bad).unwrap_err().field, "messageExpiry", "{bad}");
        }
    }

    #[test]
    fn content_type() {
        let m = msg("1");
        let c = |t: &str| {
            run(
                &m,
                PublishParams {
                    content_type: Some(t.into()),
                    ..PublishParams::default()
                },
            )
        };
        for ok in [
            "application/json",
            "text/plain; charset=utf-8",
            &"c".repeat(1024),
        ] {
            assert_eq!(c(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            c(&"c".repeat(1025)).unwrap_err().rule,
            "must be at most 1024 characters, is 1025"
        );
        for bad in ["", "text/plain\n", "tëxt/plain", "a\tb"] {
            assert_eq!(c(bad).unwrap_err().field, "contentType", "{bad:?}");
        }
    }

    #[test]
    fn payload_format_indicator() {
        let utf8 = || PublishParams {
            payload_format_indicator: Some(PayloadFormat::Utf8Data),
            ..PublishParams::default()
        };
        assert_eq!(run(&msg(r#"{"a":"é"}"#), utf8()), Ok(()));
        // `binary` payloads are 0xff bytes: never UTF-8.
        assert_eq!(
            run(&binary(4), utf8()).unwrap_err().field,
            "payloadFormatIndicator"
        );
        let bytes = PublishParams {
            payload_format_indicator: Some(PayloadFormat::UnspecifiedBytes),
            ..PublishParams::default()
        };
        assert_eq!(run(&binary(4), bytes), Ok(()));
    }
}
