//! JSON responses: every answer, errors included, is a JSON body with a status code.

use lambda_http::http::header::{CONTENT_TYPE, RETRY_AFTER};
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
}

impl Refusal {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    /// The `{"error": {"code", "message"}}` answer of `POST /messages` and unknown routes.
    pub(crate) fn into_response(self) -> Response<Body> {
        error(self.status, self.code, &self.message)
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
