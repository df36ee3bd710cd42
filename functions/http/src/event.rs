//! API Gateway HTTP API (payload 2.0) and function URL events in, responses out. The conversion
//! is done here instead of by lambda_http's adapter, which panics (and, with `panic = "abort"`,
//! kills the process and every request in it) on a body marked base64 that is not, and on a path,
//! query string or Host header holding characters a URI may not: such a request gets a 400 here.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::header::{COOKIE, HOST};
use lambda_http::http::uri::{Authority, PathAndQuery, Uri};
use lambda_http::http::{HeaderValue, Request as HttpRequest};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, LambdaEvent, Request, RequestExt, Response};

use crate::{HttpApp, handle, reply};

/// The Lambda handler: the event becomes a request, the answer an API Gateway response.
pub async fn handle_event(
    http: &HttpApp,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    let LambdaEvent { payload, context } = event;
    let response = match to_request(payload) {
        Ok(req) => handle(http, req.with_lambda_context(context)).await?,
        Err(why) => reply::error(400, "InvalidRequest", why),
    };
    Ok(to_event(response))
}

/// The request API Gateway described, or why it cannot be one (never the offending value).
pub fn to_request(event: ApiGatewayV2httpRequest) -> Result<Request, &'static str> {
    let raw_path = event.raw_path.clone().unwrap_or_default();
    let raw_query = event.raw_query_string.clone().unwrap_or_default();
    let host = event
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| event.request_context.domain_name.clone());

    let path = if raw_path.is_empty() { "/" } else { &raw_path };
    let path_and_query = if raw_query.is_empty() {
        PathAndQuery::try_from(path)
    } else {
        PathAndQuery::try_from(format!("{path}?{raw_query}"))
    }
    .map_err(|_| "the request path or query string holds characters a URL may not")?;
    let uri = match host {
        Some(host) => {
            let authority = Authority::try_from(host.as_str())
                .map_err(|_| "the Host header is not a valid host name")?;
            Uri::builder()
                .scheme("https")
                .authority(authority)
                .path_and_query(path_and_query)
                .build()
        }
        None => Uri::builder().path_and_query(path_and_query).build(),
    }
    .map_err(|_| "the request URL cannot be built from its path, query string and host")?;

    let body = match event.body.as_deref() {
        None => Body::Empty,
        Some(text) if event.is_base64_encoded => Body::Binary(
            BASE64
                .decode(text)
                .map_err(|_| "the body is marked base64-encoded but is not valid base64")?,
        ),
        Some(text) => Body::Text(text.to_owned()),
    };

    let mut headers = event.headers;
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty())
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        headers.insert(COOKIE, value);
    }
    let mut request = HttpRequest::builder()
        .method(event.request_context.http.method.clone())
        .uri(uri)
        .body(body)
        .map_err(|_| "the request cannot be built")?;
    *request.headers_mut() = headers;
    // rawQueryString, not queryStringParameters: API Gateway joins repeated keys with commas
    // there, which would hide a flag given twice.
    let query: QueryMap = raw_query.parse().unwrap_or_default();
    Ok(request
        .with_raw_http_path(raw_path)
        .with_query_string_parameters(query)
        .with_request_context(RequestContext::ApiGatewayV2(event.request_context)))
}

/// The API Gateway response for an answer: JSON text bodies as text, anything else as base64.
pub fn to_event(response: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut event = ApiGatewayV2httpResponse::default();
    event.status_code = i64::from(parts.status.as_u16());
    event.headers = parts.headers;
    match body {
        Body::Empty => {}
        Body::Text(text) => event.body = Some(Body::Text(text)),
        Body::Binary(bytes) => {
            event.body = Some(Body::Text(BASE64.encode(bytes)));
            event.is_base64_encoded = true;
        }
        _ => {}
    }
    event
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(edit: impl FnOnce(&mut serde_json::Value)) -> ApiGatewayV2httpRequest {
        let mut v = json!({
            "version": "2.0", "routeKey": "POST /messages", "rawPath": "/messages",
            "rawQueryString": "dryRun=true", "headers": {"host": "abc.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {"http": {"method": "POST", "path": "/messages"}, "stage": "$default",
                               "requestId": "r-1", "domainName": "abc.execute-api.us-east-1.amazonaws.com"},
            "body": "{}", "isBase64Encoded": false
        });
        edit(&mut v);
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_well_formed_event_becomes_the_request_it_describes() {
        let req = to_request(event(|_| {})).unwrap();
        assert_eq!(req.method(), "POST");
        assert_eq!(req.uri().path(), "/messages");
        assert_eq!(
            req.query_string_parameters_ref().unwrap().first("dryRun"),
            Some("true")
        );
        assert!(matches!(req.body(), Body::Text(t) if t == "{}"));
        let req = to_request(event(|v| {
            v["isBase64Encoded"] = json!(true);
            v["body"] = json!("e30=");
        }))
        .unwrap();
        assert!(matches!(req.body(), Body::Binary(b) if b == b"{}"));
    }

    #[test]
    fn events_lambda_http_would_panic_on_are_refused() {
        let hostile = [
            ("isBase64Encoded", "body", json!("not base64!")),
            ("rawQueryString", "", json!("a=\"b c\"<>")),
            ("rawPath", "", json!("/mess ages\"<>")),
            ("headers", "host", json!("bad host<>")),
        ];
        for (field, inner, value) in hostile {
            let err = to_request(event(|v| {
                if field == "isBase64Encoded" {
                    v[field] = json!(true);
                    v[inner] = value.clone();
                } else if inner.is_empty() {
                    v[field] = value.clone();
                } else {
                    v[field][inner] = value.clone();
                }
            }))
            .unwrap_err();
            assert!(!err.is_empty(), "{field}");
        }
    }

    #[test]
    fn answers_keep_status_headers_and_json_text() {
        let out = to_event(reply::error(413, "TooLarge", "too large"));
        assert_eq!(out.status_code, 413);
        assert_eq!(out.headers["content-type"], "application/json");
        assert!(!out.is_base64_encoded);
        assert!(matches!(out.body, Some(Body::Text(t)) if t.contains("TooLarge")));
    }
}
