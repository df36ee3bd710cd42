//! Alibaba Cloud IoT Platform sink: one `BatchPub` (API version 2018-01-20) per call, an
//! RPC-style HTTPS request to the region's (or the instance's) endpoint, signed with
//! ACS3-HMAC-SHA256 (`signature.rs`). BatchPub answers all or nothing: `Success: true` delivers
//! the call's one entry, anything else fails it with Alibaba's code and message, classified for
//! the dispatcher (throttled, transient or permanent) whatever the HTTP status.

pub mod credentials;
mod signature;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_smithy_types::date_time::{DateTime, Format};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt as _, Full, Limited};
use serde::Deserialize;

use self::credentials::AccessKey;
use super::aws::{send_each, short, wrong_destination};
use super::https_client::{self, Pooled};
use super::{Call, CallError, CallReport, Entry, ErrorClass, Sink};
use crate::config::ConfigError;
use crate::destination::{AlibabaDevices, Destination, EntryParams};

pub const ACTION: &str = "BatchPub";
pub const VERSION: &str = "2018-01-20";
/// Points every BatchPub at another base URL (a local stand-in of the endpoint, in tests); the
/// request keeps the real endpoint as its signed `host`.
pub const ENDPOINT_VAR: &str = "FANOUT_ALIBABA_ENDPOINT";
/// How long to wait for a connection to the endpoint; the dispatcher's deadline bounds the rest.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// BatchPub's answer is a few hundred bytes of JSON; more is not read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The `alibaba` destination's settings, read with the rest of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub credentials: credentials::CredentialSource,
    /// `FANOUT_ALIBABA_ENDPOINT`: scheme and authority every call goes to instead.
    pub endpoint_override: Option<String>,
}

impl Settings {
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let endpoint_override = get(ENDPOINT_VAR)
            .map(|url| {
                let url = url.trim().trim_end_matches('/').to_owned();
                match url.parse::<http::Uri>() {
                    Ok(uri)
                        if matches!(uri.scheme_str(), Some("http" | "https"))
                            && uri.authority().is_some()
                            && uri.path() == "/"
                            && uri.query().is_none() =>
                    {
                        Ok(url)
                    }
                    _ => Err(ConfigError::Invalid {
                        var: ENDPOINT_VAR,
                        rule: "must be a base URL such as http://127.0.0.1:8080 (scheme and host, no path)".to_owned(),
                    }),
                }
            })
            .transpose()?;
        Ok(Settings {
            credentials: credentials::CredentialSource::from_lookup(get)?,
            endpoint_override,
        })
    }
}

/// Why the `alibaba` destination cannot start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialsError),
    #[error("cannot build its HTTPS client: the platform's root certificates could not be read")]
    Tls(#[source] std::io::Error),
}

/// The sink for `alibaba` targets, built once at cold start when the routing table has some
/// (`needed`) or an AccessKey is configured; `None` leaves [`NoCredentials`] in place. A table
/// with `alibaba` targets and no AccessKey fails here, before any message.
pub async fn sink(
    settings: &Settings,
    config: &aws_config::SdkConfig,
    needed: bool,
) -> Result<Option<std::sync::Arc<dyn Sink>>, InitError> {
    if !needed && !settings.credentials.is_configured() {
        return Ok(None);
    }
    let key = credentials::resolve(&settings.credentials, config)
        .await?
        .ok_or(credentials::CredentialsError::Missing)?;
    let sink = AlibabaSink::new(key, settings.endpoint_override.clone()).map_err(InitError::Tls)?;
    Ok(Some(std::sync::Arc::new(sink)))
}

/// The BatchPub sink, with its AccessKey and its HTTPS client.
pub struct AlibabaSink {
    client: Pooled<Full<Bytes>>,
    key: AccessKey,
    endpoint_override: Option<String>,
}

impl std::fmt::Debug for AlibabaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlibabaSink")
            .field("endpoint_override", &self.endpoint_override)
            .finish_non_exhaustive()
    }
}

impl AlibabaSink {
    /// Builds the HTTPS client (built as the SDK clients' own: `sink::https_client`) once, at
    /// cold start; without the platform's root certificates the destination cannot start.
    pub fn new(key: AccessKey, endpoint_override: Option<String>) -> std::io::Result<Self> {
        Ok(AlibabaSink {
            client: https_client::pooled(https_client::tls_config()?, Some(CONNECT_TIMEOUT)),
            key,
            endpoint_override,
        })
    }

    async fn batch_pub(&self, devices: &AlibabaDevices, entry: &Entry) -> Result<(), CallError> {
        let qos = match &entry.params {
            EntryParams::Alibaba(p) => p.qos,
            _ => 0,
        };
        let host = devices.host();
        let query = signature::canonical_query(&parameters(devices, qos, &entry.payload));
        let base = match &self.endpoint_override {
            Some(url) => url.clone(),
            None => format!("https://{host}"),
        };
        let request = self
            .signed_request(&base, &host, &query)
            .map_err(|e| e.with_destination(devices))?;
        let fail = |class: ErrorClass, code: &str, what: &str| {
            CallError::new(
                class,
                code,
                format!("{ACTION} to alibaba:{} {what}", devices.path()),
            )
        };
        let response = self.client.request(request).await.map_err(|e| {
            let what = if e.is_connect() {
                "could not connect to the endpoint"
            } else {
                "failed before an answer came"
            };
            fail(ErrorClass::Transient, "DispatchFailure", what).with_source(e)
        })?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|_| {
                fail(
                    ErrorClass::Transient,
                    &format!("HTTP{status}"),
                    &format!("answered HTTP {status}, and its body could not be read"),
                )
            })?
            .to_bytes();
        answer(devices, status, &body)
    }

    /// The signed POST: every parameter in the query string, as the official SDKs send
    /// BatchPub's (its API metadata puts them all `in: query`), and an empty body.
    fn signed_request(
        &self,
        base: &str,
        host: &str,
        query: &str,
    ) -> Result<http::Request<Full<Bytes>>, RequestError> {
        let date = now();
        let nonce = format!("{:032x}", fastrand::u128(..));
        let payload_hash = signature::sha256_hex(b"");
        let mut signed: Vec<(&str, &str)> = vec![
            ("host", host),
            ("x-acs-action", ACTION),
            ("x-acs-version", VERSION),
            ("x-acs-date", &date),
            ("x-acs-signature-nonce", &nonce),
            ("x-acs-content-sha256", &payload_hash),
        ];
        if let Some(token) = self.key.security_token() {
            signed.push(("x-acs-security-token", token));
        }
        let authorization =
            signature::authorization("POST", query, &signed, &payload_hash, &self.key)
                .map_err(|_| RequestError("the AccessKey secret cannot key HMAC-SHA256"))?;
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("{base}/?{query}"))
            .header("accept", "application/json")
            .header("authorization", authorization);
        for (name, value) in signed {
            request = request.header(name, value);
        }
        request.body(Full::new(Bytes::new())).map_err(|_| {
            RequestError("the request could not be built from its endpoint and parameters")
        })
    }
}

/// Why a request could not be built; it names no value.
#[derive(Debug)]
struct RequestError(&'static str);

impl RequestError {
    fn with_destination(self, devices: &AlibabaDevices) -> CallError {
        CallError::new(
            ErrorClass::Permanent,
            "InvalidRequest",
            format!("{ACTION} to alibaba:{}: {}", devices.path(), self.0),
        )
    }
}

impl Sink for AlibabaSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            let Destination::Alibaba(devices) = &call.destination else {
                return Err(wrong_destination("Alibaba IoT", call));
            };
            send_each(call, |entry| self.batch_pub(devices, entry)).await
        })
    }
}

/// The sink while no AccessKey is configured: a call (from a caller's explicit target or an
/// inline job the table did not foresee) fails with what to set.
#[derive(Debug)]
pub struct NoCredentials;

impl Sink for NoCredentials {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            Err(CallError::new(
                ErrorClass::Permanent,
                "NoCredentials",
                format!(
                    "{ACTION} to {} needs an Alibaba Cloud AccessKey: set FANOUT_ALIBABA_SECRET, or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                    call.destination
                ),
            ))
        })
    }
}

/// BatchPub's request parameters, by their API names: the call's devices as `DeviceName.N`,
/// and the message in base64 as `MessageContent`.
pub fn parameters(devices: &AlibabaDevices, qos: u8, message: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(devices.devices.len() + 5);
    out.push(("ProductKey".to_owned(), devices.product_key.clone()));
    out.push((
        "TopicShortName".to_owned(),
        devices.topic_short_name.clone(),
    ));
    out.push(("Qos".to_owned(), qos.to_string()));
    if let Some(instance) = &devices.iot_instance_id {
        out.push(("IotInstanceId".to_owned(), instance.clone()));
    }
    out.push(("MessageContent".to_owned(), BASE64.encode(message)));
    for (i, device) in devices.devices.iter().enumerate() {
        out.push((format!("DeviceName.{}", i + 1), device.clone()));
    }
    out
}

/// `x-acs-date`: UTC in ISO 8601, to the second (`2026-01-02T03:04:05Z`).
fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DateTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// The fields of BatchPub's answer and of the gateway's error answer (`Message`, `Recommend`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    success: Option<bool>,
    code: Option<String>,
    error_message: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

/// What an answer means for the call.
fn answer(devices: &AlibabaDevices, status: u16, body: &[u8]) -> Result<(), CallError> {
    let parsed: Option<Answer> = serde_json::from_slice(body).ok();
    let path = devices.path();
    let Some(parsed) = parsed else {
        // Not confirmed either way: a 2xx without a readable answer is retried, never counted.
        let class = match super::aws::classify(None, Some(status)) {
            ErrorClass::Permanent if (200..300).contains(&status) => ErrorClass::Transient,
            class => class,
        };
        return Err(CallError::new(
            class,
            format!("HTTP{status}"),
            format!("{ACTION} to alibaba:{path}: unreadable answer (HTTP {status})"),
        ));
    };
    let ok_status = (200..300).contains(&status);
    match (ok_status, parsed.success) {
        (true, Some(true)) => return Ok(()),
        // Neither delivered nor refused: retried, never counted delivered.
        (true, None) if parsed.code.is_none() => {
            return Err(CallError::new(
                ErrorClass::Transient,
                "NoResult",
                format!("{ACTION} to alibaba:{path} answered HTTP {status} without `Success`"),
            ));
        }
        _ => {}
    }
    let code = parsed.code.unwrap_or_else(|| {
        if parsed.success == Some(false) {
            "Unsuccessful".to_owned()
        } else {
            format!("HTTP{status}")
        }
    });
    let detail = parsed
        .error_message
        .or(parsed.message)
        .map(|m| format!(" ({})", short(&m)))
        .unwrap_or_default();
    let request = parsed
        .request_id
        .map(|id| format!("; request id {}", short(&id)))
        .unwrap_or_default();
    let class = classify(&code, status);
    let message = if status == 403
        || code.starts_with("Forbidden")
        || code.contains("PermissionDeny")
    {
        format!(
            "access denied: the AccessKey's RAM user needs iot:BatchPub on product `{}` (alibaba:{path}): {code}{detail}{request}",
            devices.product_key
        )
    } else {
        format!("{ACTION} to alibaba:{path} failed: {code}{detail}{request}")
    };
    Err(CallError::new(class, code, message))
}

/// Alibaba's codes: the gateway throttles with `Throttling` and `Throttling.*` (user, API)
/// whatever the HTTP status; `iot.system.SystemException` is IoT Platform's "try again later";
/// a reused nonce (`SignatureNonceUsed`) is cured by the next attempt's new one. Everything
/// else (unknown product, forbidden, not on BatchPub's whitelist, bad signature) is permanent.
fn classify(code: &str, status: u16) -> ErrorClass {
    if code.starts_with("Throttling") {
        return ErrorClass::Throttled;
    }
    if matches!(code, "iot.system.SystemException" | "SignatureNonceUsed") {
        return ErrorClass::Transient;
    }
    super::aws::classify(Some(code), Some(status))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn devices() -> AlibabaDevices {
        AlibabaDevices {
            iot_instance_id: Some("iot-cn-0pp1n8t".into()),
            ..crate::validate::testing::alibaba(&["dev-1", "dev-2"])
        }
    }

    #[test]
    fn parameters_are_batchpubs() {
        let p = parameters(&devices(), 1, b"hello world");
        let get = |name: &str| p.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(get("MessageContent"), Some("aGVsbG8gd29ybGQ="));
        assert_eq!(get("DeviceName.1"), Some("dev-1"));
        assert_eq!(get("DeviceName.2"), Some("dev-2"));
        assert_eq!(get("DeviceName.3"), None);
        assert_eq!(get("Qos"), Some("1"));
        assert_eq!(get("IotInstanceId"), Some("iot-cn-0pp1n8t"));
        assert_eq!(get("ProductKey"), Some("a1BwAGV"));
        assert_eq!(get("TopicShortName"), Some("get"));
    }

    #[test]
    fn success_false_fails_even_with_http_200() {
        let d = devices();
        assert!(answer(&d, 200, br#"{"RequestId": "r1", "Success": true}"#).is_ok());
        let e = answer(&d, 200, br#"{"RequestId": "r2", "Success": false, "Code": "iot.prod.NotExistedProduct", "ErrorMessage": "The product does not exist."}"#).unwrap_err();
        assert_eq!(
            (e.class, e.code.as_str()),
            (ErrorClass::Permanent, "iot.prod.NotExistedProduct")
        );
        assert!(
            e.message.contains("The product does not exist.")
                && e.message.contains("request id r2"),
            "{e}"
        );
        let e = answer(&d, 200, br#"{"Success": false}"#).unwrap_err();
        assert_eq!(e.code, "Unsuccessful");
        // A 2xx that says neither is not counted delivered.
        for body in [&br#"{"RequestId": "r3"}"#[..], b"<html>"] {
            let e = answer(&d, 200, body).unwrap_err();
            assert_eq!(e.class, ErrorClass::Transient, "{e}");
        }
    }

    #[test]
    fn codes_are_classified_whatever_the_status() {
        let d = devices();
        let class =
            |status: u16, body: &str| answer(&d, status, body.as_bytes()).unwrap_err().class;
        assert_eq!(
            class(
                400,
                r#"{"Code": "Throttling.User", "Message": "Request was denied due to user flow control."}"#
            ),
            ErrorClass::Throttled
        );
        assert_eq!(
            class(503, r#"{"Code": "Throttling"}"#),
            ErrorClass::Throttled
        );
        assert_eq!(class(429, "{}"), ErrorClass::Throttled);
        assert_eq!(
            class(503, r#"{"Code": "ServiceUnavailable"}"#),
            ErrorClass::Transient
        );
        assert_eq!(class(500, "oops"), ErrorClass::Transient);
        assert_eq!(
            class(
                200,
                r#"{"Success": false, "Code": "iot.system.SystemException"}"#
            ),
            ErrorClass::Transient
        );
        assert_eq!(
            class(400, r#"{"Code": "SignatureDoesNotMatch"}"#),
            ErrorClass::Permanent
        );
        let e = answer(
            &d,
            403,
            br#"{"Code": "Forbidden.RAM", "Message": "User not authorized"}"#,
        )
        .unwrap_err();
        assert_eq!(e.class, ErrorClass::Permanent);
        assert!(
            e.message.starts_with(
                "access denied: the AccessKey's RAM user needs iot:BatchPub on product `a1BwAGV`"
            ),
            "{e}"
        );
        assert!(
            e.message.contains("Forbidden.RAM (User not authorized)"),
            "{e}"
        );
    }

    #[test]
    fn the_endpoint_override_is_a_base_url() {
        let settings = |url: &str| {
            Settings::from_lookup(&|k: &str| (k == ENDPOINT_VAR).then(|| url.to_owned()))
        };
        assert_eq!(
            settings("http://127.0.0.1:8080/")
                .unwrap()
                .endpoint_override
                .as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in [
            "127.0.0.1:8080",
            "ftp://x",
            "http://x/path",
            "http://x/?a=b",
        ] {
            assert!(
                settings(bad)
                    .unwrap_err()
                    .to_string()
                    .starts_with("FANOUT_ALIBABA_ENDPOINT:"),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn without_a_key_calls_fail_with_what_to_set() {
        let call = Call {
            destination: Destination::Alibaba(std::sync::Arc::new(devices())),
            entries: Vec::new(),
        };
        let e = NoCredentials.send(&call).await.unwrap_err();
        assert_eq!(
            (e.class, e.code.as_str()),
            (ErrorClass::Permanent, "NoCredentials")
        );
        assert!(e.message.contains("FANOUT_ALIBABA_SECRET"), "{e}");
    }

    #[test]
    fn dates_are_iso_8601_to_the_second() {
        let date = now();
        assert_eq!(date.len(), 20, "{date}");
        assert!(date.ends_with('Z') && date.as_bytes()[10] == b'T', "{date}");
    }
}
