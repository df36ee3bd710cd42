//! fanout-http: API Gateway HTTP API (payload v2) and function URL requests in, through the
//! fanout engine, JSON results out. Routes requests to `POST /messages` and `POST /batch-pub`.

mod batch_pub;
mod body;
mod event;
mod json;
mod messages;
mod query;
mod reply;
mod settings;

use fanout::app::App;
use lambda_http::http::Method;
use lambda_http::{Body, Error, Request, RequestExt, Response};

pub use event::{handle_event, to_event, to_request};
pub use settings::{HttpSettings, SettingsError};

/// Everything a request borrows, built once at cold start.
#[derive(Debug)]
pub struct HttpApp {
    pub app: App,
    pub settings: HttpSettings,
}

/// The handler: dispatches on method and path. Every answer is JSON; no input panics.
pub async fn handle(http: &HttpApp, req: Request) -> Result<Response<Body>, Error> {
    let endpoint = endpoint(req.uri().path(), stage(&req).as_deref());
    let response = match (endpoint, req.method()) {
        (Some(Endpoint::Messages), &Method::POST) => messages::handle(http, &req).await,
        (Some(Endpoint::BatchPub), &Method::POST) => batch_pub::handle(http, &req).await,
        (Some(_), _) => reply::error(
            405,
            "MethodNotAllowed",
            &format!("{} is not allowed here; use POST", req.method()),
        ),
        (None, _) => reply::error(
            404,
            "NotFound",
            "no such path; the endpoints are POST /messages and POST /batch-pub",
        ),
    };
    Ok(response)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Messages,
    BatchPub,
}

/// API Gateway puts a named stage in front of the path (`/prod/messages`); `$default` does not.
fn stage(req: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    }
}

fn endpoint(path: &str, stage: Option<&str>) -> Option<Endpoint> {
    let mut path = path.trim_end_matches('/');
    if let Some(stage) = stage.filter(|s| *s != "$default")
        && let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage))
        && rest.starts_with('/')
    {
        path = rest;
    }
    match path {
        "/messages" => Some(Endpoint::Messages),
        "/batch-pub" => Some(Endpoint::BatchPub),
        _ => None,
    }
}

/// The invocation's deadline, from the Lambda context.
fn deadline(req: &Request) -> tokio::time::Instant {
    fanout::engine::deadline_from_epoch_ms(req.lambda_context_ref().map_or(0, |c| c.deadline))
}

/// The Lambda request id (what the function's logs carry); API Gateway's own id when run
/// without a Lambda context (tests, local emulators).
fn request_id(req: &Request) -> String {
    use lambda_http::request::RequestContext;
    let lambda = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty());
    let gateway = || match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    lambda
        .or_else(gateway)
        .unwrap_or_else(|| "local".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_with_and_without_stage() {
        assert_eq!(endpoint("/messages", None), Some(Endpoint::Messages));
        assert_eq!(
            endpoint("/messages/", Some("$default")),
            Some(Endpoint::Messages)
        );
        assert_eq!(
            endpoint("/prod/messages", Some("prod")),
            Some(Endpoint::Messages)
        );
        assert_eq!(
            endpoint("/prod/batch-pub", Some("prod")),
            Some(Endpoint::BatchPub)
        );
        assert_eq!(endpoint("/prod/messages", None), None);
        assert_eq!(endpoint("/other", None), None);
        assert_eq!(endpoint("/productmessages", Some("prod")), None);
    }
}
