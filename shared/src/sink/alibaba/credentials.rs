//! The Alibaba Cloud AccessKey the `alibaba` destination signs with: from the environment
//! (Alibaba's own variable names), or in AWS from a Secrets Manager secret read once at cold
//! start. Never logged: `Debug` shows neither the id nor the secret, and no error quotes them.

use std::borrow::Cow;
use std::fmt;

use aws_config::SdkConfig;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use crate::config::ConfigError;
use crate::sink::aws::{Target, construction_failure};
use crate::sink::signed_http::{Failure, SignedHttp, Unsigned, with_retries};

/// The AccessKey id, as Alibaba's SDKs and CLI read it.
pub const ACCESS_KEY_ID_VAR: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
pub const ACCESS_KEY_SECRET_VAR: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// An STS token, with a temporary AccessKey.
pub const SECURITY_TOKEN_VAR: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
/// The Secrets Manager secret (name or ARN) holding the AccessKey, in AWS.
pub const SECRET_VAR: &str = "FANOUT_ALIBABA_SECRET";

/// An AccessKey pair and, for temporary credentials, its STS security token.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    id: String,
    secret: String,
    security_token: Option<String>,
}

impl AccessKey {
    pub fn new(id: String, secret: String, security_token: Option<String>) -> Self {
        AccessKey {
            id,
            secret,
            security_token,
        }
    }

    pub(super) fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn secret(&self) -> &str {
        &self.secret
    }

    pub(super) fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(redacted)")
    }
}

/// Where the AccessKey comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CredentialSource {
    /// None configured: `alibaba` targets fail the cold start (with `FANOUT_SINK=aws`).
    #[default]
    None,
    Environment(AccessKey),
    /// The secret's name or ARN; its JSON holds `AccessKeyId`, `AccessKeySecret` and, for an
    /// STS token, `SecurityToken`.
    SecretsManager(String),
}

impl CredentialSource {
    /// Reads the variables through `get` (blank values count as unset). Errors name the
    /// variable, never a value.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let invalid = |var: &'static str, rule: &str| ConfigError::Invalid {
            var,
            rule: rule.to_owned(),
        };
        let id = get(ACCESS_KEY_ID_VAR);
        let secret = get(ACCESS_KEY_SECRET_VAR);
        let token = get(SECURITY_TOKEN_VAR);
        let secret_id = get(SECRET_VAR);
        if secret_id.is_some() && (id.is_some() || secret.is_some() || token.is_some()) {
            return Err(invalid(
                SECRET_VAR,
                "set either this secret or the ALIBABA_CLOUD_ACCESS_KEY_* variables, not both",
            ));
        }
        if let Some(secret_id) = secret_id {
            return Ok(CredentialSource::SecretsManager(
                secret_id.trim().to_owned(),
            ));
        }
        match (id, secret) {
            (None, None) if token.is_none() => Ok(CredentialSource::None),
            (Some(id), Some(secret)) => {
                for (var, value) in [(ACCESS_KEY_ID_VAR, &id), (ACCESS_KEY_SECRET_VAR, &secret)] {
                    if !header_safe(value) {
                        return Err(invalid(var, NOT_HEADER_SAFE));
                    }
                }
                if let Some(t) = &token
                    && !header_safe(t)
                {
                    return Err(invalid(SECURITY_TOKEN_VAR, NOT_HEADER_SAFE));
                }
                Ok(CredentialSource::Environment(AccessKey::new(
                    id, secret, token,
                )))
            }
            (None, _) => Err(invalid(
                ACCESS_KEY_ID_VAR,
                "is not set, but other ALIBABA_CLOUD_* credentials are",
            )),
            (Some(_), None) => Err(invalid(
                ACCESS_KEY_SECRET_VAR,
                "is not set, but ALIBABA_CLOUD_ACCESS_KEY_ID is",
            )),
        }
    }

    pub fn is_configured(&self) -> bool {
        !matches!(self, CredentialSource::None)
    }
}

const NOT_HEADER_SAFE: &str =
    "must be printable ASCII without spaces (it travels in a signed request header)";

/// The id and the token travel in headers, and none of Alibaba's keys holds anything else.
fn header_safe(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())
}

/// Why the AccessKey could not be had at cold start.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "the routing table has alibaba targets, but no Alibaba Cloud AccessKey is configured: set FANOUT_ALIBABA_SECRET (a Secrets Manager secret; the template's AlibabaCredentialsSecretArn) or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"
    )]
    Missing,
    #[error(
        "cannot read the secret named by FANOUT_ALIBABA_SECRET ({code}): the function's role needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key, if it has its own)"
    )]
    Unreadable {
        code: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the secret named by FANOUT_ALIBABA_SECRET {0}")]
    Malformed(&'static str),
}

/// The secret's JSON fields, as Alibaba names them (STS AssumeRole's `Credentials`).
const SECRET_SHAPE: &str = r#"must hold JSON text {"AccessKeyId": "…", "AccessKeySecret": "…"} (and "SecurityToken" for an STS token)"#;

/// The AccessKey in a secret's text. Messages name the field, never its value.
pub fn parse_secret(text: &str) -> Result<AccessKey, CredentialsError> {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) else {
        return Err(CredentialsError::Malformed(SECRET_SHAPE));
    };
    let field = |name: &str| -> Result<Option<String>, CredentialsError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if header_safe(s) => Ok(Some(s.clone())),
            Some(_) => Err(CredentialsError::Malformed(
                "has an AccessKeyId, AccessKeySecret or SecurityToken that is not a string of printable ASCII without spaces",
            )),
        }
    };
    match (
        field("AccessKeyId")?,
        field("AccessKeySecret")?,
        field("SecurityToken")?,
    ) {
        (Some(id), Some(secret), token) => Ok(AccessKey::new(id, secret, token)),
        _ => Err(CredentialsError::Malformed(SECRET_SHAPE)),
    }
}

/// Reads the secret with Secrets Manager's `GetSecretValue`, signed and sent by [`SignedHttp`]
/// over the SDK's shared HTTPS client and configuration (region, credentials,
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER`): the request aws-sdk-secretsmanager sends, without that
/// crate in the binary for one call per cold start. The shared configuration leaves retries to
/// the dispatcher; this one read has no dispatcher, so it is retried here as the SDK's standard
/// mode did (3 attempts, transient failures only).
pub async fn read_secret(
    config: &SdkConfig,
    secret_id: &str,
) -> Result<AccessKey, CredentialsError> {
    let target = Target {
        action: "secretsmanager:GetSecretValue",
        what: "Secrets Manager secret",
        name: secret_id,
    };
    let service = SignedHttp::secrets_manager(config)
        .map_err(|reason| unreadable(None, construction_failure(reason, target)))?;
    let request = get_secret_value(secret_id)
        .map_err(|e| unreadable(None, construction_failure(e, target)))?;
    let answer = with_retries(|| async {
        let answer = service
            .send(request.clone())
            .await
            .map_err(|e| Failure::unanswered(e, target).map(|e| unreadable(None, e)))?;
        if answer.is_success() {
            return Ok(answer);
        }
        let (code, message) = answer.json_error();
        Err(
            Failure::answered(code.as_deref(), message.as_deref(), answer.status, target)
                .map(|e| unreadable(code.as_deref(), e)),
        )
    })
    .await?;
    #[derive(Deserialize)]
    struct Output {
        #[serde(rename = "SecretString")]
        secret_string: Option<String>,
    }
    // serde_json's errors name a line and column, never the text.
    let output: Output = serde_json::from_slice(answer.body()).map_err(|e| unreadable(None, e))?;
    match output.secret_string {
        Some(text) => parse_secret(&text),
        None => Err(CredentialsError::Malformed(
            "has no SecretString (a binary secret): store the JSON as the secret's text",
        )),
    }
}

/// The GetSecretValue request (awsJson1.1: `POST /`, the operation in `X-Amz-Target`, the input
/// as JSON; <https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html>).
fn get_secret_value(secret_id: &str) -> Result<Unsigned, serde_json::Error> {
    let body = Bytes::from(serde_json::to_vec(
        &serde_json::json!({ "SecretId": secret_id }),
    )?);
    let mut request = Unsigned::post("/".to_owned(), "application/x-amz-json-1.1", body);
    request.headers.push((
        Cow::Borrowed("x-amz-target"),
        "secretsmanager.GetSecretValue".to_owned(),
    ));
    Ok(request)
}

/// The secret could not be read: with the service's error code, or `no answer` when it sent
/// none (as the SDK client's errors were reported).
fn unreadable(
    code: Option<&str>,
    source: impl std::error::Error + Send + Sync + 'static,
) -> CredentialsError {
    CredentialsError::Unreadable {
        code: code.unwrap_or("no answer").to_owned(),
        source: Box::new(source),
    }
}

/// The AccessKey from its source, or `None` when none is configured.
pub async fn resolve(
    source: &CredentialSource,
    config: &SdkConfig,
) -> Result<Option<AccessKey>, CredentialsError> {
    match source {
        CredentialSource::None => Ok(None),
        CredentialSource::Environment(key) => Ok(Some(key.clone())),
        CredentialSource::SecretsManager(secret_id) => {
            read_secret(config, secret_id).await.map(Some)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn source(vars: &[(&str, &str)]) -> Result<CredentialSource, ConfigError> {
        let map: HashMap<&str, &str> = vars.iter().copied().collect();
        CredentialSource::from_lookup(&|k: &str| map.get(k).map(|v| (*v).to_owned()))
    }

    #[test]
    fn from_the_environment_or_a_secret_never_both() {
        assert_eq!(source(&[]).unwrap(), CredentialSource::None);
        let key = source(&[
            (ACCESS_KEY_ID_VAR, "LTAIid"),
            (ACCESS_KEY_SECRET_VAR, "s3cr3t"),
            (SECURITY_TOKEN_VAR, "tok"),
        ])
        .unwrap();
        assert_eq!(
            key,
            CredentialSource::Environment(AccessKey::new(
                "LTAIid".into(),
                "s3cr3t".into(),
                Some("tok".into())
            ))
        );
        assert_eq!(
            source(&[(SECRET_VAR, "fanout/alibaba")]).unwrap(),
            CredentialSource::SecretsManager("fanout/alibaba".into())
        );
        let err = |vars: &[(&str, &str)]| source(vars).unwrap_err().to_string();
        assert!(
            err(&[(SECRET_VAR, "s"), (ACCESS_KEY_ID_VAR, "i")])
                .starts_with("FANOUT_ALIBABA_SECRET: set either")
        );
        assert!(
            err(&[(ACCESS_KEY_ID_VAR, "i")])
                .starts_with("ALIBABA_CLOUD_ACCESS_KEY_SECRET: is not set")
        );
        assert!(
            err(&[(SECURITY_TOKEN_VAR, "t")])
                .starts_with("ALIBABA_CLOUD_ACCESS_KEY_ID: is not set")
        );
        let e = err(&[
            (ACCESS_KEY_ID_VAR, "i"),
            (ACCESS_KEY_SECRET_VAR, "top secret\n"),
        ]);
        assert!(
            e.starts_with("ALIBABA_CLOUD_ACCESS_KEY_SECRET: must be printable"),
            "{e}"
        );
        assert!(!e.contains("top secret"), "{e}");
    }

    #[test]
    fn debug_and_errors_never_show_the_key() {
        let key = AccessKey::new(
            "LTAI-ID-MARKER".into(),
            "SECRET-MARKER".into(),
            Some("TOKEN-MARKER".into()),
        );
        let shown = format!("{key:?} {:?}", CredentialSource::Environment(key.clone()));
        for marker in ["ID-MARKER", "SECRET-MARKER", "TOKEN-MARKER"] {
            assert!(!shown.contains(marker), "{shown}");
        }
        for text in [
            r#"{"AccessKeyId": "LTAI-ID-MARKER"}"#,
            r#"{"AccessKeyId": "LTAI-ID-MARKER", "AccessKeySecret": 7}"#,
            r#"{"AccessKeyId": "LTAI ID-MARKER", "AccessKeySecret": "SECRET-MARKER"}"#,
            "SECRET-MARKER",
            "[]",
        ] {
            let e = parse_secret(text).unwrap_err().to_string();
            assert!(!e.contains("MARKER"), "{e}");
            assert!(
                e.starts_with("the secret named by FANOUT_ALIBABA_SECRET"),
                "{e}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_secret_is_read_with_get_secret_value_and_retried_when_transient() {
        use crate::sink::signed_http::testing::{Reply, StandIn};

        let value = serde_json::json!({
            "Name": "fanout/alibaba",
            "SecretString": r#"{"AccessKeyId": "LTAIid", "AccessKeySecret": "s"}"#,
        });
        let stand_in = StandIn::new([
            Reply::status(500, r#"{"__type": "InternalServiceError"}"#),
            Reply::Drop,
            Reply::status(200, &value.to_string()),
        ]);
        let sdk = stand_in.sdk_config("eu-west-1", None);
        let id = r#"fanout/"quoted"\name"#;
        let key = read_secret(&sdk, id).await.unwrap();
        assert_eq!(key, AccessKey::new("LTAIid".into(), "s".into(), None));
        let seen = stand_in.seen();
        assert_eq!(seen.len(), 3);
        let request = &seen[2];
        assert_eq!(
            (request.method.as_str(), request.uri.as_str()),
            ("POST", "https://secretsmanager.eu-west-1.amazonaws.com/")
        );
        assert_eq!(
            request.header("x-amz-target"),
            Some("secretsmanager.GetSecretValue")
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/x-amz-json-1.1")
        );
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body, serde_json::json!({ "SecretId": id }));
    }

    #[tokio::test]
    async fn errors_carry_the_services_code_and_never_the_secret() {
        use crate::sink::signed_http::testing::{Reply, StandIn};

        let stand_in = StandIn::new([Reply::status(
            400,
            r#"{"__type": "ResourceNotFoundException", "Message": "Secrets Manager can't find the specified secret."}"#,
        )
        .with_header("x-amzn-errortype", "ResourceNotFoundException:http://internal/")]);
        let e = read_secret(&stand_in.sdk_config("eu-west-1", None), "missing")
            .await
            .unwrap_err();
        assert!(
            matches!(&e, CredentialsError::Unreadable { code, .. } if code == "ResourceNotFoundException"),
            "{e}"
        );
        assert_eq!(stand_in.seen().len(), 1, "a permanent error is not retried");

        let binary = StandIn::new([Reply::status(
            200,
            r#"{"SecretBinary": "U0VDUkVULU1BUktFUg=="}"#,
        )]);
        let e = read_secret(&binary.sdk_config("eu-west-1", None), "bin")
            .await
            .unwrap_err();
        assert!(matches!(e, CredentialsError::Malformed(_)), "{e}");

        let garbled = StandIn::new([Reply::status(200, "SECRET-MARKER")]);
        let e = read_secret(&garbled.sdk_config("eu-west-1", None), "g")
            .await
            .unwrap_err();
        let shown = format!("{e} {e:?} {:?}", std::error::Error::source(&e));
        assert!(!shown.contains("MARKER"), "{shown}");
        assert!(
            matches!(&e, CredentialsError::Unreadable { code, .. } if code == "no answer"),
            "{e}"
        );
    }

    #[test]
    fn a_secret_holds_alibabas_field_names() {
        assert_eq!(
            parse_secret(
                r#"{"AccessKeyId": "LTAIid", "AccessKeySecret": "s", "SecurityToken": null}"#
            )
            .unwrap(),
            AccessKey::new("LTAIid".into(), "s".into(), None)
        );
        assert_eq!(
            parse_secret(r#"{"AccessKeyId": "STS.id", "AccessKeySecret": "s", "SecurityToken": "t", "Expiration": "2026-01-01T00:00:00Z"}"#)
                .unwrap()
                .security_token(),
            Some("t")
        );
    }
}
