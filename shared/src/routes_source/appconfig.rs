//! A routing table in AWS AppConfig, read from the AWS AppConfig Agent Lambda extension's local
//! HTTP endpoint, `GET localhost:PORT/applications/A/environments/E/configurations/P`
//! (<https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-integration-lambda-extensions.html>).
//! The extension polls AppConfig itself and answers from its cache, so a read is one loopback
//! request; its `Configuration-Version` header tells a new table from the one in use.

use http_body_util::{BodyExt as _, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::net::TcpStream;

use super::{FETCH_TIMEOUT, Fetched, LoadError, MAX_TABLE_BYTES, too_large};

/// The extension's port unless `AWS_APPCONFIG_EXTENSION_HTTP_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 2772;
/// The configuration version the extension serves (a hosted configuration's version number).
const VERSION_HEADER: &str = "configuration-version";
/// Path segments keep RFC 3986's unreserved characters; names with spaces or slashes are encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[derive(Debug)]
pub(crate) struct Agent {
    port: u16,
    path: String,
    /// `appconfig://application/environment/profile`, for messages.
    url: String,
}

/// What the extension answered.
struct Answer {
    status: u16,
    version: Option<String>,
    body: Bytes,
}

impl Agent {
    pub(super) fn new(port: u16, application: &str, environment: &str, profile: &str) -> Self {
        let segment = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
        Agent {
            port,
            path: format!(
                "/applications/{}/environments/{}/configurations/{}",
                segment(application),
                segment(environment),
                segment(profile)
            ),
            url: format!("appconfig://{application}/{environment}/{profile}"),
        }
    }

    /// `seen` is the configuration version read last, good or refused.
    pub(super) async fn fetch(&self, seen: Option<&str>) -> Result<Fetched, LoadError> {
        let answer = tokio::time::timeout(FETCH_TIMEOUT, self.get())
            .await
            .map_err(|_| {
                self.error(format!(
                    "the AppConfig extension on localhost:{} did not answer within {} s",
                    self.port,
                    FETCH_TIMEOUT.as_secs()
                ))
            })??;
        if answer.status != 200 {
            return Err(self.error(format!(
                "the AppConfig extension answered HTTP {}: {}{}",
                answer.status,
                first_line(&answer.body),
                match answer.status {
                    400 | 404 => " (is a version of this profile deployed to this environment?)",
                    _ => "",
                }
            )));
        }
        if let (Some(version), Some(seen)) = (&answer.version, seen)
            && version == seen
        {
            return Ok(Fetched::Unchanged);
        }
        let text = String::from_utf8(answer.body.to_vec()).map_err(|e| {
            self.error(format!(
                "the configuration is not UTF-8 text (byte {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let version = answer
            .version
            .unwrap_or_else(|| super::content_version(&text));
        Ok(Fetched::New { text, version })
    }

    async fn get(&self) -> Result<Answer, LoadError> {
        let stream = TcpStream::connect(("localhost", self.port))
            .await
            .map_err(|e| {
                self.error(format!(
                    "cannot connect to the AppConfig extension on localhost:{}: {e} (is the AWS AppConfig Agent Lambda extension layer attached, on the port AWS_APPCONFIG_EXTENSION_HTTP_PORT names?)",
                    self.port
                ))
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.broken(e))?;
        // The connection is driven apart from the request; it ends when the answer is read.
        tokio::spawn(connection);
        let request = http::Request::get(&self.path)
            .header(http::header::HOST, format!("localhost:{}", self.port))
            .body(Empty::<Bytes>::new())
            .map_err(|e| self.broken(e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| self.broken(e))?;
        let status = response.status().as_u16();
        let version = response
            .headers()
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let body = Limited::new(response.into_body(), MAX_TABLE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    too_large(&self.url, MAX_TABLE_BYTES as u64 + 1)
                } else {
                    self.error(format!("the answer could not be read: {e}"))
                }
            })?
            .to_bytes();
        Ok(Answer {
            status,
            version,
            body,
        })
    }

    fn error(&self, reason: String) -> LoadError {
        LoadError::Read {
            from: self.url.clone(),
            reason,
            source: None,
        }
    }

    fn broken(&self, e: impl std::error::Error + Send + Sync + 'static) -> LoadError {
        LoadError::Read {
            from: self.url.clone(),
            reason: format!(
                "the AppConfig extension on localhost:{} broke off the request",
                self.port
            ),
            source: Some(Box::new(e)),
        }
    }
}

/// The start of an error answer (the extension names the AppConfig error there), kept short and
/// printable.
fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    let line: String = line.chars().filter(|c| !c.is_control()).take(200).collect();
    if line.is_empty() {
        "(no message)".to_owned()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_into_the_path() {
        let agent = Agent::new(2772, "iot fanout", "prod", "routes/v2");
        assert_eq!(
            agent.path,
            "/applications/iot%20fanout/environments/prod/configurations/routes%2Fv2"
        );
        assert_eq!(
            first_line(b"BadRequestException: no such profile\nmore"),
            "BadRequestException: no such profile"
        );
        assert_eq!(first_line(b""), "(no message)");
    }
}
