//! A routing table in an S3 object, read with `GetObject`; a re-read is a conditional GET on the
//! ETag last seen, so an unchanged table costs a 304 and no transfer. The request is the one
//! aws-sdk-s3 sends, signed and sent by [`SignedHttp`]: that crate was 2.1 MB of each binary
//! for this one call per cold start (BENCHMARKS.md, budgets).

use std::borrow::Cow;

use aws_config::SdkConfig;
use aws_smithy_http::label::{EncodingStrategy, fmt_string};
use bytes::Bytes;

use super::{FETCH_TIMEOUT, Fetched, LoadError, MAX_TABLE_BYTES, too_large};
use crate::sink::aws::{Target, construction_failure};
use crate::sink::signed_http::{
    Failure, SendError, SignedHttp, USER_AGENT, Unsigned, with_retries,
};
use crate::sink::{CallError, ErrorClass};

/// S3 bucket names: 3–63 characters of lowercase letters, digits, dots and hyphens
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>).
pub(super) fn is_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

#[derive(Debug)]
pub(crate) struct S3Object {
    /// The bucket's endpoint on the HTTPS client the sinks share, or why it cannot be reached
    /// (no region, an endpoint URL that is not one): then every read fails with that reason.
    bucket: Result<SignedHttp, String>,
    /// The request path below the bucket's endpoint: `/` and the key.
    path: String,
    /// `s3://bucket/key`, for messages.
    url: String,
}

impl S3Object {
    /// Reaches the bucket with the region, credentials and endpoint settings of `sdk`
    /// (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` for a custom endpoint).
    pub(super) fn new(sdk: &SdkConfig, bucket: &str, key: &str) -> Self {
        S3Object {
            bucket: SignedHttp::s3_bucket(sdk, bucket),
            path: object_path(key),
            url: format!("s3://{bucket}/{key}"),
        }
    }

    fn target(&self) -> Target<'_> {
        Target {
            action: "s3:GetObject",
            what: "S3 object",
            name: &self.url,
        }
    }

    /// `seen` is the ETag (without its quotes) of the version read last, good or refused.
    /// Transient failures are retried ([`with_retries`]: the SDK client did the same), all
    /// attempts within [`FETCH_TIMEOUT`].
    pub(super) async fn fetch(&self, seen: Option<&str>) -> Result<Fetched, LoadError> {
        let bucket = self
            .bucket
            .as_ref()
            .map_err(|reason| self.read_error(construction_failure(reason, self.target())))?;
        let request = get_object(&self.path, seen);
        let attempts = with_retries(|| self.attempt(bucket, &request));
        match tokio::time::timeout(FETCH_TIMEOUT, attempts).await {
            Ok(fetched) => fetched,
            Err(_) => {
                let Target { action, what, name } = self.target();
                Err(self.read_error(CallError::new(
                    ErrorClass::Transient,
                    "Timeout",
                    format!("{action} to {what} `{name}` timed out"),
                )))
            }
        }
    }

    async fn attempt(
        &self,
        bucket: &SignedHttp,
        request: &Unsigned,
    ) -> Result<Fetched, Failure<LoadError>> {
        let target = self.target();
        let answer = match bucket.send_capped(request.clone(), MAX_TABLE_BYTES).await {
            Ok(answer) => answer,
            Err(SendError::TooLarge(bytes)) => {
                return Err(Failure::permanent(too_large(&self.url, bytes)));
            }
            Err(e) => {
                return Err(Failure::unanswered(e, target).map(|e| self.read_error(e)));
            }
        };
        // 304 Not Modified: the ETag asked about is still the object's.
        if answer.status == 304 {
            return Ok(Fetched::Unchanged);
        }
        if !answer.is_success() {
            let (code, message) = answer.xml_error();
            return Err(Failure::answered(
                code.as_deref(),
                message.as_deref(),
                answer.status,
                target,
            )
            .map(|e| self.read_error(e)));
        }
        let etag = answer
            .header("etag")
            .map(|t| t.trim().trim_matches('"').to_owned())
            .filter(|t| !t.is_empty());
        let text = String::from_utf8(answer.into_body()).map_err(|e| {
            Failure::permanent(LoadError::Read {
                from: self.url.clone(),
                reason: format!(
                    "the object is not UTF-8 text (byte {})",
                    e.utf8_error().valid_up_to()
                ),
                source: None,
            })
        })?;
        // Every S3 object has an ETag; a compatible store that sends none still gets a version.
        let version = etag.unwrap_or_else(|| super::content_version(&text));
        Ok(Fetched::New { text, version })
    }

    /// A failed read, with a hint where S3's answer misleads.
    fn read_error(&self, error: CallError) -> LoadError {
        let hint = if error.code.contains("AccessDenied") {
            " (S3 also answers 403 for a missing object when the role may not list the bucket)"
        } else {
            ""
        };
        LoadError::Read {
            from: self.url.clone(),
            reason: format!("{}{hint}", error.message),
            source: Some(Box::new(error)),
        }
    }
}

/// `/` and the key, encoded as aws-sdk-s3 encodes GetObject's `{Key+}` label: every byte but
/// the unreserved characters and `/` percent-encoded, so each segment is encoded and the
/// segments keep their `/` (`EncodingStrategy::Greedy`).
fn object_path(key: &str) -> String {
    format!("/{}", fmt_string(key, EncodingStrategy::Greedy))
}

/// GetObject, conditional on `seen` (`If-None-Match` takes the quoted ETag).
fn get_object(path: &str, seen: Option<&str>) -> Unsigned {
    let mut headers = vec![(Cow::Borrowed("user-agent"), USER_AGENT.to_owned())];
    if let Some(etag) = seen {
        headers.push((Cow::Borrowed("if-none-match"), format!("\"{etag}\"")));
    }
    Unsigned {
        method: "GET",
        path: path.to_owned(),
        headers,
        body: Bytes::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::sink::signed_http::testing::{Reply, StandIn};

    #[test]
    fn keys_are_encoded_per_segment() {
        assert_eq!(object_path("routes.json"), "/routes.json");
        assert_eq!(
            object_path("tables/prod v2/a+b%c~d_e-f.json"),
            "/tables/prod%20v2/a%2Bb%25c~d_e-f.json"
        );
        assert_eq!(
            object_path("ünï/路由.json"),
            "/%C3%BCn%C3%AF/%E8%B7%AF%E7%94%B1.json"
        );
        // S3 keys may hold what a path would normalize away; it is sent and signed as is.
        assert_eq!(object_path("a//./b/../c?x#y"), "/a//./b/../c%3Fx%23y");
    }

    fn object(stand_in: &StandIn, bucket: &str, key: &str) -> S3Object {
        S3Object::new(&stand_in.sdk_config("us-east-1", None), bucket, key)
    }

    #[tokio::test]
    async fn reads_the_object_then_asks_about_its_etag() {
        let stand_in = StandIn::new([
            Reply::status(200, r#"{"routes": []}"#).with_header("etag", "\"e1\""),
            Reply::status(304, ""),
        ]);
        let object = object(&stand_in, "my.bucket", "tables/a b.json");
        let Fetched::New { text, version } = object.fetch(None).await.unwrap() else {
            panic!("not read");
        };
        assert_eq!(
            (text.as_str(), version.as_str()),
            (r#"{"routes": []}"#, "e1")
        );
        assert!(matches!(
            object.fetch(Some("e1")).await.unwrap(),
            Fetched::Unchanged
        ));
        let seen = stand_in.seen();
        assert_eq!(
            seen[0].uri,
            "https://s3.us-east-1.amazonaws.com/my.bucket/tables/a%20b.json"
        );
        assert_eq!(seen[0].header("if-none-match"), None);
        assert_eq!(seen[1].header("if-none-match"), Some("\"e1\""));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_three_times_in_all() {
        let stand_in = StandIn::new([
            Reply::Drop,
            Reply::status(503, "<Error><Code>SlowDown</Code></Error>"),
            Reply::status(200, "{}").with_header("etag", "\"e2\""),
        ]);
        let object = object(&stand_in, "bucket", "k");
        assert!(matches!(
            object.fetch(None).await.unwrap(),
            Fetched::New { version, .. } if version == "e2"
        ));
        assert_eq!(stand_in.seen().len(), 3);

        let stand_in = StandIn::new([
            Reply::status(500, "<Error><Code>InternalError</Code></Error>"),
            Reply::status(500, "<Error><Code>InternalError</Code></Error>"),
            Reply::status(500, "<Error><Code>InternalError</Code></Error>"),
            Reply::status(200, "{}"),
        ]);
        let e = object_err(&stand_in, "bucket", "k").await;
        assert_eq!(stand_in.seen().len(), 3);
        assert!(e.contains("failed: InternalError"), "{e}");
    }

    async fn object_err(stand_in: &StandIn, bucket: &str, key: &str) -> String {
        object(stand_in, bucket, key)
            .fetch(None)
            .await
            .unwrap_err()
            .to_string()
    }

    #[tokio::test]
    async fn s3_errors_keep_their_code_and_are_not_retried() {
        let denied = StandIn::new([Reply::status(
            403,
            "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
        )]);
        let e = object_err(&denied, "bucket", "k.json").await;
        assert_eq!(
            e,
            "cannot read s3://bucket/k.json: access denied: the function's role needs \
             `s3:GetObject` on S3 object `s3://bucket/k.json` (Access Denied) (S3 also answers \
             403 for a missing object when the role may not list the bucket)"
        );
        assert_eq!(denied.seen().len(), 1);
        let missing = StandIn::new([Reply::status(404, "<Error><Code>NoSuchKey</Code></Error>")]);
        let e = object_err(&missing, "bucket", "k.json").await;
        assert!(e.contains("does not exist"), "{e}");
        assert_eq!(missing.seen().len(), 1);
    }

    #[tokio::test]
    async fn a_table_over_the_cap_or_not_text_is_refused() {
        let huge = (MAX_TABLE_BYTES + 1).to_string();
        let large = StandIn::new([Reply::status(200, "{}").with_header("content-length", &huge)]);
        let e = object_err(&large, "bucket", "k").await;
        assert!(
            e.contains(&format!(
                "it is {huge} bytes; a routing table may be at most"
            )),
            "{e}"
        );
        assert_eq!(large.seen().len(), 1);
        let binary = StandIn::new([Reply::Answer {
            status: 200,
            headers: Vec::new(),
            body: vec![b'{', 0xff],
        }]);
        let e = object_err(&binary, "bucket", "k").await;
        assert!(e.contains("is not UTF-8 text (byte 1)"), "{e}");
    }

    #[tokio::test]
    async fn an_unusable_configuration_fails_each_read_with_its_reason() {
        let stand_in = StandIn::new([]);
        let sdk = stand_in.sdk_config("us-iso-east-1", None);
        let e = S3Object::new(&sdk, "bucket", "k")
            .fetch(None)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("set AWS_ENDPOINT_URL_S3"), "{e}");
        assert!(stand_in.seen().is_empty());
    }
}
