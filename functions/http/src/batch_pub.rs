//! `POST /batch-pub`: Alibaba IoT `BatchPub` semantics on AWS IoT Core: one message, base64,
//! published to `/${ProductKey}/${DeviceName}/user/${TopicShortName}` for up to 100 devices.
//! Requests are checked as Alibaba checks them (its naming rules, a non-empty message), and
//! against AWS IoT Core's publish limit, since that is where the message goes.

use std::collections::HashSet;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fanout::engine::Inbound;
use fanout::message::{Message, Payload};
use fanout::outcome::{Status, TargetStatus};
use fanout::routes::{MAX_FLEET_DEVICES, Routed, RoutingTable};
use fanout::validate::ContractLimits;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, json};

use crate::json::Fields;
use crate::query::{self, Accepted};
use crate::{HttpApp, body, deadline, reply, request_id};

/// The decoded MessageContent is sent with AWS IoT Core `Publish`, whose payload limit is
/// 128 KiB: "The payload for every publish request can be no larger than 128 KB" (AWS IoT Core
/// endpoints and quotas, message broker: https://docs.aws.amazon.com/general/latest/gr/iot-core.html).
/// BatchPub's own 256 KB limit is Alibaba's and does not apply here.
pub(crate) const MAX_CONTENT_BYTES: usize = 128 * 1024;
/// Alibaba IoT Platform RegisterDevice: a DeviceName "must be 4 to 32 characters in length, and
/// can contain letters, digits, hyphens (-), underscores (_), at signs (@), periods (.), and
/// colons (:)" (https://www.alibabacloud.com/help/doc-detail/69470.htm).
const DEVICE_NAME_CHARS: (usize, usize) = (4, 32);
/// A ProductKey is issued by IoT Platform (a1BwAGV****, 11 letters and digits in every documented
/// example); Alibaba publishes no pattern, so this takes letters and digits, up to 32.
const MAX_PRODUCT_KEY_CHARS: usize = 32;
/// The BatchPub request parameters read from the body.
const FIELDS: [&str; 5] = [
    "ProductKey",
    "DeviceName",
    "TopicShortName",
    "MessageContent",
    "Qos",
];
/// Accepted for compatibility with Alibaba callers and ignored, in the body or the query string:
/// `IotInstanceId` (AWS IoT Core has no instances) and Alibaba's common request parameters of
/// signed RPC calls (IoT Platform "Common parameters",
/// https://www.alibabacloud.com/help/doc-detail/30561.html, and `SecurityToken` for STS
/// credentials); API Gateway authorizes the caller here.
const IGNORED: [&str; 12] = [
    "IotInstanceId",
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
    "RegionId",
    "SecurityToken",
];
const QUERY: Accepted = Accepted {
    flags: &[],
    ignored: &IGNORED,
};
const ROUTE: &str = "batch-pub";
/// Codes in Alibaba's `iot.<area>.<Reason>` style, so BatchPub callers can branch on them.
const CODE_INVALID: &str = "iot.common.InvalidParameter";
const CODE_PARTIAL: &str = "iot.messagebroker.PartialFailure";
const CODE_FAILED: &str = "iot.messagebroker.PublishFailed";

/// The BatchPub request parameters this endpoint reads.
struct BatchPub {
    product_key: String,
    device_name: Vec<String>,
    topic_short_name: String,
    message_content: String,
    qos: u8,
}

impl BatchPub {
    /// The body's fields by name, each with its type; no error repeats a value.
    fn parse(text: &str) -> Result<BatchPub, String> {
        let fields = Fields::parse(text)?;
        fields.only(&FIELDS, &IGNORED)?;
        let string = "must be a string";
        Ok(BatchPub {
            product_key: fields.required("ProductKey", string)?,
            device_name: fields.required("DeviceName", "must be an array of device names")?,
            topic_short_name: fields.required("TopicShortName", string)?,
            message_content: fields.required("MessageContent", "must be a base64 string")?,
            qos: fields.optional("Qos", "must be 0 or 1")?.unwrap_or(0),
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    request_id: String,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    results: Vec<DeviceResult>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeviceResult {
    device_name: String,
    topic: String,
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    retryable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

pub(crate) async fn handle(http: &HttpApp, req: &Request) -> Response<Body> {
    let request_id = request_id(req);
    let invalid = |status: u16, message: String| {
        reply::json(
            status,
            &Answer {
                request_id: request_id.clone(),
                success: false,
                code: Some(CODE_INVALID),
                error_message: Some(message),
                results: Vec::new(),
            },
        )
    };
    let text = match query::read(req, &QUERY)
        .and_then(|_| body::json_text(req, http.settings.max_bytes))
    {
        Ok(text) => text,
        Err(refusal) => {
            return refusal.with_headers(invalid(refusal.status, refusal.message.clone()));
        }
    };
    let request = match BatchPub::parse(&text) {
        Ok(r) => r,
        Err(e) => return invalid(400, format!("the body must be a BatchPub JSON object: {e}")),
    };
    let Checked {
        devices,
        fleet,
        content,
    } = match check(request, &http.app.engine.config().limits) {
        Ok(checked) => checked,
        Err(message) => return invalid(400, message),
    };

    let msg = Message {
        id: request_id.clone(),
        topic: None,
        attributes: Map::new(),
        timestamp: None,
        payload: Payload::Binary(Arc::from(content)),
    };
    let targets = match fleet.route(&msg) {
        Ok(Routed::Targets(targets)) => targets,
        Ok(Routed::Dropped | Routed::Rejected) => Vec::new(),
        Err(e) => return invalid(400, e.to_string()),
    };
    let inbound = vec![Inbound {
        targets: Some(targets),
        ..Inbound::routed(ROUTE.to_owned(), Ok(msg))
    }];
    let report = http
        .app
        .engine
        .run(inbound, &http.app.sinks, deadline(req))
        .await;
    let Some(outcome) = report.outcomes.first() else {
        return reply::error(500, "InternalError", "the engine returned no outcome");
    };
    if outcome.status == Status::Invalid {
        return invalid(400, outcome.error.clone().unwrap_or_default());
    }
    let results: Vec<DeviceResult> = devices
        .into_iter()
        .zip(&outcome.targets)
        .map(|(device_name, t)| {
            let ok = t.status == TargetStatus::Delivered;
            DeviceResult {
                device_name,
                topic: t.destination.name().to_owned(),
                success: ok,
                retryable: (!ok).then_some(t.retryable),
                error_message: t.reason.clone(),
            }
        })
        .collect();
    let delivered = results.iter().filter(|r| r.success).count();
    let (status, code) = match delivered {
        n if n == results.len() => (200, None),
        0 if outcome.retryable => (503, Some(CODE_FAILED)),
        0 => (502, Some(CODE_FAILED)),
        _ => (207, Some(CODE_PARTIAL)),
    };
    let answer = Answer {
        request_id,
        success: code.is_none(),
        code,
        error_message: code
            .map(|_| format!("published to {delivered} of {} devices", results.len())),
        results,
    };
    if status == 503 {
        reply::json_retry_after(status, &answer, 2)
    } else {
        reply::json(status, &answer)
    }
}

/// A request BatchPub would accept: the devices in order, a fleet target for them, the content.
struct Checked {
    devices: Vec<String>,
    fleet: RoutingTable,
    content: Vec<u8>,
}

/// Checks the request as BatchPub would and builds one publish target per device.
fn check(request: BatchPub, limits: &ContractLimits) -> Result<Checked, String> {
    if request.product_key.is_empty()
        || request.product_key.len() > MAX_PRODUCT_KEY_CHARS
        || !request
            .product_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
    {
        return Err(format!(
            "ProductKey must be 1 to {MAX_PRODUCT_KEY_CHARS} letters and digits, as IoT Platform issues it"
        ));
    }
    if request.topic_short_name.is_empty()
        || request.topic_short_name.len() > 64
        || !request
            .topic_short_name
            .split('/')
            .all(|level| !level.is_empty() && level.bytes().all(name_char))
    {
        return Err(
            "TopicShortName must be 1 to 64 characters of A-Z a-z 0-9 _ - . @ : in levels separated by /"
                .to_owned(),
        );
    }
    if request.device_name.is_empty() || request.device_name.len() > MAX_FLEET_DEVICES {
        return Err(format!(
            "DeviceName lists {} devices; BatchPub takes 1 to {MAX_FLEET_DEVICES}",
            request.device_name.len()
        ));
    }
    let mut seen = HashSet::with_capacity(request.device_name.len());
    for (i, device) in request.device_name.iter().enumerate() {
        let (min, max) = DEVICE_NAME_CHARS;
        if !(min..=max).contains(&device.len()) || !device.bytes().all(name_char) {
            return Err(format!(
                "DeviceName[{i}] must be {min} to {max} characters of A-Z a-z 0-9 _ - . @ :"
            ));
        }
        if !seen.insert(device.as_str()) {
            return Err(format!("DeviceName[{i}] `{device}` is listed twice"));
        }
    }
    if request.qos > 1 {
        return Err(format!("Qos must be 0 or 1, found {}", request.qos));
    }
    let content = decode_content(&request.message_content)?;
    // The routing table's fleet target gives the topic layout; the names above hold no `$`, so
    // they are taken literally, not as templates.
    let fleet = json!({
        "type": "fleet",
        "productKey": request.product_key,
        "devices": request.device_name,
        "topicShortName": request.topic_short_name,
        "qos": request.qos,
    });
    let fleet = RoutingTable::single(ROUTE, &[fleet], limits).map_err(|e| e.to_string())?;
    Ok(Checked {
        devices: request.device_name,
        fleet,
        content,
    })
}

/// MessageContent: standard base64 of 1 to [`MAX_CONTENT_BYTES`] bytes. Errors say where the
/// text is wrong, never what it holds.
fn decode_content(text: &str) -> Result<Vec<u8>, String> {
    use base64::DecodeError;
    let text = text.trim();
    if text.is_empty() {
        return Err("MessageContent must not be empty: BatchPub publishes a message".to_owned());
    }
    let too_large = |size: usize| {
        format!(
            "MessageContent decodes to {size} bytes; /batch-pub publishes through AWS IoT Core, which takes at most {MAX_CONTENT_BYTES} bytes (128 KiB) per message"
        )
    };
    // Refuse an obviously oversized text before decoding it (4 characters carry 3 bytes).
    if text.len() / 4 * 3 > MAX_CONTENT_BYTES + 3 {
        return Err(too_large(text.len() / 4 * 3));
    }
    let content = BASE64.decode(text).map_err(|e| {
        let why = match e {
            DecodeError::InvalidByte(offset, _) => {
                format!("a character that is not base64 at offset {offset}")
            }
            DecodeError::InvalidLength(length) => {
                format!("{length} characters of data, a length no base64 text has")
            }
            DecodeError::InvalidLastSymbol(offset, _) => {
                format!("a last character at offset {offset} that leaves bits over")
            }
            DecodeError::InvalidPadding => "wrong padding".to_owned(),
        };
        format!("MessageContent must be standard base64 (RFC 4648, with padding); it has {why}")
    })?;
    if content.is_empty() {
        return Err("MessageContent must not be empty: BatchPub publishes a message".to_owned());
    }
    if content.len() > MAX_CONTENT_BYTES {
        return Err(too_large(content.len()));
    }
    Ok(content)
}

fn name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b':')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn req(devices: &[&str], content: &str) -> BatchPub {
        BatchPub {
            product_key: "a1BwAGV".into(),
            device_name: devices.iter().map(|d| (*d).to_owned()).collect(),
            topic_short_name: "get".into(),
            message_content: content.into(),
            qos: 1,
        }
    }

    fn refused(request: BatchPub) -> String {
        check(request, &ContractLimits::default()).err().unwrap()
    }

    #[test]
    fn alibaba_parameters_are_accepted_and_unknown_fields_refused() {
        let body = r#"{"ProductKey": "pk", "DeviceName": ["dev1"], "TopicShortName": "get",
                       "MessageContent": "aGk=", "IotInstanceId": "iot-cn-0pp1n8t",
                       "Action": "BatchPub", "Version": "2018-01-20", "Format": "JSON",
                       "AccessKeyId": "id", "Signature": "c2ln", "SignatureMethod": "HMAC-SHA1",
                       "SignatureVersion": "1.0", "SignatureNonce": "15215528852396",
                       "Timestamp": "2018-05-20T12:00:00Z", "RegionId": "cn-shanghai",
                       "SecurityToken": "t"}"#;
        let parsed = BatchPub::parse(body).unwrap();
        assert_eq!((parsed.qos, parsed.device_name.len()), (0, 1));
        let typo = body.replace("\"IotInstanceId\"", "\"Qso\"");
        assert!(
            BatchPub::parse(&typo)
                .err()
                .unwrap()
                .starts_with("unknown field `Qso`; the fields are `ProductKey`")
        );
        for (body, error) in [
            (r#"{"ProductKey": 5}"#, "`ProductKey` must be a string"),
            (
                r#"{"ProductKey": "p", "DeviceName": "dev1"}"#,
                "`DeviceName` must be an array of device names",
            ),
            (
                r#"{"ProductKey": "p", "DeviceName": [], "TopicShortName": "t", "MessageContent": "aGk=", "Qos": 300}"#,
                "`Qos` must be 0 or 1",
            ),
            (r#"{"ProductKey": "p"}"#, "missing field `DeviceName`"),
        ] {
            assert_eq!(BatchPub::parse(body).err().unwrap(), error, "{body}");
        }
    }

    #[test]
    fn builds_one_topic_per_device() {
        let Checked {
            devices,
            fleet,
            content,
        } = check(
            req(&["dev1", "dev2"], "aGVsbG8="),
            &ContractLimits::default(),
        )
        .ok()
        .unwrap();
        assert_eq!(devices, ["dev1", "dev2"]);
        assert_eq!(content, b"hello");
        let msg = Message::decode(r#"{"id": "r", "payload": 1}"#, None).unwrap();
        let Ok(Routed::Targets(targets)) = fleet.route(&msg) else {
            panic!()
        };
        let topics: Vec<String> = targets.iter().map(|t| t.destination.to_string()).collect();
        assert_eq!(
            topics,
            [
                "fleet:/a1BwAGV/dev1/user/get",
                "fleet:/a1BwAGV/dev2/user/get"
            ]
        );
        assert_eq!(
            targets[0].params,
            fanout::destination::EntryParams::Publish(Arc::new(
                fanout::destination::PublishParams {
                    qos: 1,
                    ..Default::default()
                }
            ))
        );
    }

    #[test]
    fn refuses_what_batchpub_refuses() {
        let many: Vec<String> = (0..101).map(|i| format!("dev-{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(refused(req(&refs, "aGVsbG8=")).contains("1 to 100"));
        assert!(check(req(&refs[..100], "aGVsbG8="), &ContractLimits::default()).is_ok());
        assert!(refused(req(&[], "aGVsbG8=")).contains("1 to 100"));
        assert!(refused(req(&["dev1", "dev1"], "aGVsbG8=")).contains("twice"));
        let mut r = req(&["dev1"], "aGVsbG8=");
        r.qos = 2;
        assert!(refused(r).starts_with("Qos"));
        let mut r = req(&["dev1"], "aGVsbG8=");
        r.topic_short_name = "a/+".into();
        assert!(refused(r).starts_with("TopicShortName"));
    }

    #[test]
    fn names_follow_alibabas_rules() {
        // DeviceName: 4 to 32 of letters, digits and - _ @ . :
        for good in ["dev1", "a-b_c@d.e:f", &"x".repeat(32)] {
            assert!(
                check(req(&[good], "aGk="), &ContractLimits::default()).is_ok(),
                "{good}"
            );
        }
        for bad in [
            "abc",
            &"x".repeat(33),
            "dev/1",
            "dev+",
            "dev#",
            "${id}",
            "dév1",
            "dev 1",
            "",
        ] {
            assert_eq!(
                refused(req(&["dev1", bad], "aGk=")),
                "DeviceName[1] must be 4 to 32 characters of A-Z a-z 0-9 _ - . @ :",
                "{bad}"
            );
        }
        // ProductKey: letters and digits only.
        for bad in ["", "a1B/wAGV", "a1B-wAGV", "$aws", &"k".repeat(33)] {
            let mut r = req(&["dev1"], "aGk=");
            r.product_key = bad.to_owned();
            assert!(refused(r).starts_with("ProductKey must be 1 to 32 letters and digits"));
        }
    }

    #[test]
    fn message_content_is_non_empty_base64_within_iot_cores_limit() {
        let b64 = |n: usize| BASE64.encode(vec![7u8; n]);
        for empty in ["", "  "] {
            assert!(refused(req(&["dev1"], empty)).starts_with("MessageContent must not be empty"));
        }
        assert!(
            check(
                req(&["dev1"], &b64(MAX_CONTENT_BYTES)),
                &ContractLimits::default()
            )
            .is_ok()
        );
        assert!(
            refused(req(&["dev1"], &b64(MAX_CONTENT_BYTES + 1)))
                .contains("takes at most 131072 bytes (128 KiB)")
        );
        assert!(refused(req(&["dev1"], &b64(MAX_CONTENT_BYTES * 2))).contains("AWS IoT Core"));
        for (bad, why) in [
            ("SECRET!!", "a character that is not base64 at offset 6"),
            ("aGVsbG8", "wrong padding"),
            ("aGVsb", "a length no base64 text has"),
            ("aGl=", "a last character at offset 2"),
        ] {
            let error = refused(req(&["dev1"], bad));
            assert!(
                error.starts_with("MessageContent must be standard base64"),
                "{error}"
            );
            assert!(
                error.ends_with(why) || error.contains(why),
                "{bad}: {error}"
            );
            assert!(!error.contains("SECRET"));
        }
    }
}
