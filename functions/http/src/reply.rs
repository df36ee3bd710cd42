//! JSON responses: every answer, errors included, is a JSON body with a status code.

use lambda_http::http::header::{ACCEPT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::{Body, Response};
use serde::Serialize;

pub(crate) fn json(status: u16, body: &impl Serialize) -> Response<Body> {
    build(status, body, None)
}

/// 503 with `Retry-After` (seconds): nothing was delivered, and trying again may help.
pub(crate) fn json_retry_after(status: u16, body: &impl Serialize, seconds: u32) -> Response<Body> {
    build(status, body, Some(seconds))
}

/// A request refused before it reached the engine: the status, a stable code and what to fix.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// The content codings this endpoint decodes, sent as `Accept-Encoding` with a 415
    /// (RFC 9110 §15.5.16: a 415 caused by a content coding ought to list the accepted ones).
    pub(crate) accept_encoding: Option<&'static str>,
}

impl Refusal {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
            accept_encoding: None,
        }
    }

    /// The `{"error": {"code", "message"}}` answer of `POST /messages` and unknown routes.
    pub(crate) fn into_response(self) -> Response<Body> {
        let response = error(self.status, self.code, &self.message);
        self.with_headers(response)
    }

    /// Adds the refusal's headers to an answer in another shape (`POST /batch-pub`'s).
    pub(crate) fn with_headers(&self, mut response: Response<Body>) -> Response<Body> {
        if let Some(codings) = self.accept_encoding {
            response.headers_mut().insert(
                ACCEPT_ENCODING,
                lambda_http::http::HeaderValue::from_static(codings),
            );
        }
        response
    }
}

/// A name the caller chose (a query parameter, a JSON field, a header value), quoted for an
/// error message when it is short printable ASCII; anything else is described, never repeated.
pub(crate) fn quoted(name: &str) -> String {
    const MAX_SHOWN: usize = 64;
    if !name.is_empty() && name.len() <= MAX_SHOWN && name.bytes().all(|b| b.is_ascii_graphic()) {
        format!("`{name}`")
    } else {
        format!(
            "(a name of {} bytes, not shown: only up to {MAX_SHOWN} printable ASCII characters are)",
            name.len()
        )
    }
}

pub(crate) fn error(status: u16, code: &str, message: &str) -> Response<Body> {
    #[derive(Serialize)]
    struct Error<'a> {
        code: &'a str,
        message: &'a str,
    }
    #[derive(Serialize)]
    struct Envelope<'a> {
        error: Error<'a>,
    }
    json(
        status,
        &Envelope {
            error: Error { code, message },
        },
    )
}

fn build(status: u16, body: &impl Serialize, retry_after: Option<u32>) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(_) => (
            500,
            r#"{"error":{"code":"InternalError","message":"the response could not be encoded"}}"#
                .to_owned(),
        ),
    };
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    if let Some(seconds) = retry_after {
        headers.insert(RETRY_AFTER, lambda_http::http::HeaderValue::from(seconds));
    }
    response
}
