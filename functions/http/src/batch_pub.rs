//! `POST /batch-pub`: Alibaba IoT `BatchPub` semantics on AWS IoT Core: one message, base64,
//! published to `/${ProductKey}/${DeviceName}/user/${TopicShortName}` for up to 100 devices.

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
use serde::{Deserialize, Serialize};
use serde_json::{Map, json};

use crate::{HttpApp, body_text, check_content_type, deadline, reply, request_id};

/// BatchPub: "The maximum size of a message is 256 KB" (of the decoded MessageContent).
pub(crate) const MAX_CONTENT_BYTES: usize = 256 * 1024;
const ROUTE: &str = "batch-pub";
/// Codes in Alibaba's `iot.<area>.<Reason>` style, so BatchPub callers can branch on them.
const CODE_INVALID: &str = "iot.common.InvalidParameter";
const CODE_PARTIAL: &str = "iot.messagebroker.PartialFailure";
const CODE_FAILED: &str = "iot.messagebroker.PublishFailed";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BatchPub {
    product_key: String,
    device_name: Vec<String>,
    topic_short_name: String,
    message_content: String,
    #[serde(default)]
    qos: u8,
    /// Accepted for compatibility with Alibaba callers and ignored: AWS IoT Core has no instances.
    #[serde(default, rename = "IotInstanceId")]
    _iot_instance_id: Option<serde::de::IgnoredAny>,
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
    let text = match check_content_type(req).and_then(|()| body_text(req)) {
        Ok(text) => text,
        Err(refusal) => return invalid(refusal.status, refusal.message),
    };
    if text.len() > http.settings.max_bytes {
        return invalid(
            413,
            format!(
                "the body is {} bytes; this endpoint accepts at most {} bytes",
                text.len(),
                http.settings.max_bytes
            ),
        );
    }
    let request: BatchPub = match serde_json::from_str(text) {
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
    name("ProductKey", &request.product_key, 64)?;
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
        name(&format!("DeviceName[{i}]"), device, 128)?;
        if !seen.insert(device.as_str()) {
            return Err(format!("DeviceName[{i}] `{device}` is listed twice"));
        }
    }
    if request.qos > 1 {
        return Err(format!("Qos must be 0 or 1, found {}", request.qos));
    }
    let content = BASE64
        .decode(request.message_content.trim())
        .map_err(|e| format!("MessageContent must be base64: {e}"))?;
    if content.len() > MAX_CONTENT_BYTES {
        return Err(format!(
            "MessageContent decodes to {} bytes; BatchPub accepts at most {MAX_CONTENT_BYTES} (256 KB)",
            content.len()
        ));
    }
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

/// Product keys and device names become topic levels: no `/`, `+`, `#` or `$`.
fn name(field: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() || value.len() > max || !value.bytes().all(name_char) {
        return Err(format!(
            "{field} must be 1 to {max} characters of A-Z a-z 0-9 _ - . @ :"
        ));
    }
    Ok(())
}

fn name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(devices: &[&str], content: &str) -> BatchPub {
        BatchPub {
            product_key: "a1BwAGV".into(),
            device_name: devices.iter().map(|d| (*d).to_owned()).collect(),
            topic_short_name: "get".into(),
            message_content: content.into(),
            qos: 1,
            _iot_instance_id: None,
        }
    }

    #[test]
    fn alibaba_instance_ids_are_accepted_and_unknown_fields_refused() {
        let body = r#"{"ProductKey": "pk", "DeviceName": ["d"], "TopicShortName": "get",
                       "MessageContent": "aGk=", "IotInstanceId": "iot-cn-0pp1n8t"}"#;
        assert!(serde_json::from_str::<BatchPub>(body).is_ok());
        let typo = body
            .replace("Qos", "")
            .replace("\"IotInstanceId\"", "\"Qso\"");
        assert!(serde_json::from_str::<BatchPub>(&typo).is_err());
    }

    #[test]
    fn builds_one_topic_per_device() {
        let Checked {
            devices,
            fleet,
            content,
        } = check(
            req(&["dev-1", "dev-2"], "aGVsbG8="),
            &ContractLimits::default(),
        )
        .ok()
        .unwrap();
        assert_eq!(devices, ["dev-1", "dev-2"]);
        assert_eq!(content, b"hello");
        let msg = Message::decode(r#"{"id": "r", "payload": 1}"#, None).unwrap();
        let Ok(Routed::Targets(targets)) = fleet.route(&msg) else {
            panic!()
        };
        let topics: Vec<String> = targets.iter().map(|t| t.destination.to_string()).collect();
        assert_eq!(
            topics,
            [
                "fleet:/a1BwAGV/dev-1/user/get",
                "fleet:/a1BwAGV/dev-2/user/get"
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
        assert!(
            check(req(&refs, "aGVsbG8="), &ContractLimits::default())
                .err()
                .unwrap()
                .contains("1 to 100")
        );
        assert!(check(req(&refs[..100], "aGVsbG8="), &ContractLimits::default()).is_ok());
        assert!(check(req(&[], "aGVsbG8="), &ContractLimits::default()).is_err());
        assert!(
            check(req(&["a/b"], "aGVsbG8="), &ContractLimits::default())
                .err()
                .unwrap()
                .starts_with("DeviceName[0]")
        );
        assert!(check(req(&["${id}"], "aGVsbG8="), &ContractLimits::default()).is_err());
        assert!(
            check(
                req(&["dev-a", "dev-a"], "aGVsbG8="),
                &ContractLimits::default()
            )
            .err()
            .unwrap()
            .contains("twice")
        );
        assert!(
            check(req(&["dev-a"], "not base64!"), &ContractLimits::default())
                .err()
                .unwrap()
                .starts_with("MessageContent")
        );
        let mut r = req(&["dev-a"], "aGVsbG8=");
        r.qos = 2;
        assert!(
            check(r, &ContractLimits::default())
                .err()
                .unwrap()
                .starts_with("Qos")
        );
        let mut r = req(&["dev-a"], "aGVsbG8=");
        r.topic_short_name = "a/+".into();
        assert!(
            check(r, &ContractLimits::default())
                .err()
                .unwrap()
                .starts_with("TopicShortName")
        );
    }
}
