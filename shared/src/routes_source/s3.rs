//! A routing table in an S3 object, read with `GetObject`; a re-read is a conditional GET on the
//! ETag last seen, so an unchanged table costs a 304 and no transfer.

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;

use super::{FETCH_TIMEOUT, Fetched, LoadError, MAX_TABLE_BYTES, too_large};
use crate::sink::aws::{Target, call_error};

/// S3 bucket names: 3–63 characters of lowercase letters, digits, dots and hyphens
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>).
pub(super) fn is_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// The S3 client, on the HTTPS client the sinks share. Unlike the sinks, it keeps the SDK's
/// standard retries: nothing else retries a table read, and at cold start one dropped
/// connection would otherwise fail the init.
pub(super) fn client(sdk: &SdkConfig) -> Client {
    let mut config = aws_sdk_s3::config::Builder::from(sdk)
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(FETCH_TIMEOUT)
                .build(),
        );
    // A custom endpoint (moto, MinIO, a VPC endpoint by IP), set for every service or for S3
    // alone, serves buckets by path; AWS by host name, which dotted bucket names need over HTTPS.
    let custom_endpoint =
        sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    config.set_force_path_style(Some(custom_endpoint));
    Client::from_conf(config.build())
}

#[derive(Debug)]
pub(crate) struct S3Object {
    client: Client,
    bucket: String,
    key: String,
    /// `s3://bucket/key`, for messages.
    url: String,
}

impl S3Object {
    pub(super) fn new(client: Client, bucket: &str, key: &str) -> Self {
        S3Object {
            client,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            url: format!("s3://{bucket}/{key}"),
        }
    }

    /// `seen` is the ETag (without its quotes) of the version read last, good or refused.
    pub(super) async fn fetch(&self, seen: Option<&str>) -> Result<Fetched, LoadError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_if_none_match(seen.map(|etag| format!("\"{etag}\"")));
        let object = match request.send().await {
            Ok(object) => object,
            // The SDK reports S3's 304 Not Modified as an error without a modelled code.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 304) => {
                return Ok(Fetched::Unchanged);
            }
            Err(e) => {
                let error = call_error(
                    e,
                    Target {
                        action: "s3:GetObject",
                        what: "S3 object",
                        name: &self.url,
                    },
                );
                let hint = if error.code.contains("AccessDenied") {
                    " (S3 also answers 403 for a missing object when the role may not list the bucket)"
                } else {
                    ""
                };
                return Err(LoadError::Read {
                    from: self.url.clone(),
                    reason: format!("{}{hint}", error.message),
                    source: Some(Box::new(error)),
                });
            }
        };
        let size = object
            .content_length()
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0);
        if size > MAX_TABLE_BYTES as u64 {
            return Err(too_large(&self.url, size));
        }
        let etag = object
            .e_tag()
            .map(|t| t.trim_matches('"').to_owned())
            .filter(|t| !t.is_empty());
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| LoadError::Read {
                from: self.url.clone(),
                reason: "the connection broke while the object was read".to_owned(),
                source: Some(Box::new(e)),
            })?
            .into_bytes();
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| LoadError::Read {
            from: self.url.clone(),
            reason: format!(
                "the object is not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ),
            source: None,
        })?;
        // Every S3 object has an ETag; a compatible store that sends none still gets a version.
        let version = etag.unwrap_or_else(|| super::content_version(&text));
        Ok(Fetched::New { text, version })
    }
}
