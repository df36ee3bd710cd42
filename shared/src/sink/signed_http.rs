//! SigV4-signed HTTP calls that skip the SDK's orchestrator, for the one operation the functions
//! make once per message: IoT Core `Publish`. The orchestrator's fixed cost per operation (layered
//! configuration, a dozen interceptors, retry and telemetry bookkeeping) was most of the CPU a
//! publish cost (BENCHMARKS.md, "CPU per downstream call"). Everything else is the SDK's own: the
//! endpoint comes from the service's endpoint resolver with the parameters its client would use,
//! credentials from the shared identity cache, the connection from the shared HTTP client, and
//! the signature from `aws-sigv4` with the SDK's default SigV4 settings.

use std::borrow::Cow;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_runtime::auth::sigv4::{SCHEME_ID, SigV4AuthScheme};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime::client::retries::strategy::NeverRetryStrategy;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::identity::{
    ResolveCachedIdentity, SharedIdentityCache, SharedIdentityResolver,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::service_config::ServiceConfigKey;
use bytes::Bytes;
use futures::FutureExt as _;
use serde::Deserialize;

use super::CallError;
use super::aws::{Target, construction_failure, dispatch_failure, unreadable_answer};

/// One endpoint of one service, and everything needed to sign and send calls to it.
#[derive(Debug)]
pub(crate) struct SignedHttp {
    /// The endpoint's URL without a trailing `/`; request paths are appended to it.
    base: String,
    /// Headers the endpoint rules ask every request to carry.
    endpoint_headers: Vec<(Cow<'static, str>, String)>,
    region: String,
    signing_name: &'static str,
    identity_cache: SharedIdentityCache,
    identity_resolver: SharedIdentityResolver,
    /// The call's runtime components, where the identity cache and the HTTP client read their
    /// clock and timers.
    components: RuntimeComponents,
    bag: ConfigBag,
    connector: SharedHttpConnector,
}

/// A request before signing: method, path and query below the endpoint (already encoded),
/// headers and body.
#[derive(Debug)]
pub(crate) struct Unsigned {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) headers: Vec<(Cow<'static, str>, String)>,
    pub(crate) body: Bytes,
}

/// The whole answer to a call.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// `x-amzn-ErrorType`, where restJson1 services put the error code.
    error_type: Option<String>,
    body: Vec<u8>,
}

/// Why a call got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    /// A part of the request no HTTP request can carry (e.g. a control character in a header).
    Build(String),
    /// No credentials, or no signature: nothing was sent.
    Unsigned(BoxError),
    /// Not sent, or the connection ended before an answer.
    Dispatch(ConnectorError),
    /// An answer whose body could not be read to its end.
    Unreadable(u16),
}

impl SendError {
    /// Classified as the SDK's errors are (`call_error`): a request that cannot be built is
    /// permanent, everything that did not reach the service or got no answer is transient.
    pub(crate) fn into_call_error(self, target: Target<'_>) -> CallError {
        match self {
            SendError::Build(detail) => construction_failure(detail, target),
            SendError::Unsigned(source) => CallError {
                source: Some(source),
                ..dispatch_failure(false, false, target)
            },
            SendError::Dispatch(e) => {
                dispatch_failure(e.is_timeout(), e.is_io(), target).with_source(e)
            }
            SendError::Unreadable(status) => unreadable_answer(status, target),
        }
    }
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A restJson1 error's code and message: the code from `x-amzn-ErrorType` or the body's
    /// `code` / `__type`, without the namespace (`…#`) or the URL suffix (`:…`) services add;
    /// the message from `message`, `Message` or `errorMessage`.
    pub(crate) fn rest_json_error(&self) -> (Option<String>, Option<String>) {
        #[derive(Deserialize, Default)]
        struct ErrorBody {
            code: Option<String>,
            #[serde(rename = "__type")]
            kind: Option<String>,
            #[serde(alias = "Message", alias = "errorMessage")]
            message: Option<String>,
        }
        let body: ErrorBody = serde_json::from_slice(&self.body).unwrap_or_default();
        let code = self
            .error_type
            .as_deref()
            .or(body.code.as_deref())
            .or(body.kind.as_deref())
            .map(|code| {
                let code = code.split(':').next().unwrap_or(code);
                code.rsplit('#').next().unwrap_or(code).to_owned()
            })
            .filter(|code| !code.is_empty());
        (code, body.message)
    }
}

impl SignedHttp {
    /// The IoT data plane (service id `IoT Data Plane`, signing name `iotdata`), reached exactly
    /// as an `aws_sdk_iotdataplane::Client` built from `sdk` reaches it. The error says what is
    /// missing (a region, credentials, an endpoint) when it cannot be reached at all.
    pub(crate) fn iot_data(sdk: &SdkConfig) -> Result<SignedHttp, String> {
        use aws_sdk_iotdataplane::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};

        let region = sdk
            .region()
            .ok_or("no AWS region is configured (set AWS_REGION)")?
            .to_string();
        let params = Params::builder()
            .region(region.clone())
            .set_use_fips(sdk.use_fips())
            .set_use_dual_stack(sdk.use_dual_stack())
            .set_endpoint(endpoint_url(sdk, "IoT Data Plane"))
            .build()
            .map_err(|e| format!("IoT data plane endpoint: {e}"))?;
        let resolver = DefaultResolver::new();
        // The generated resolver evaluates its rules at once; its future is always ready.
        let endpoint = resolver
            .resolve_endpoint(&params)
            .now_or_never()
            .ok_or("the IoT data plane endpoint did not resolve at once")?
            .map_err(|e| format!("IoT data plane endpoint: {e}"))?;
        let base = endpoint.url().trim_end_matches('/').to_owned();
        let endpoint_headers = endpoint
            .headers()
            .flat_map(|(name, values)| {
                values.map(move |v| (Cow::Owned(name.to_owned()), v.to_owned()))
            })
            .collect();

        let credentials = sdk
            .credentials_provider()
            .ok_or("no AWS credentials provider is configured")?;
        let identity_resolver = SharedIdentityResolver::new(credentials);
        // aws-config always sets one (the lazy cache every client shares); an SdkConfig built by
        // hand may not, and the SDK clients then build the same default.
        let identity_cache = sdk
            .identity_cache()
            .unwrap_or_else(|| IdentityCache::lazy().build());
        let http_client = sdk.http_client().ok_or("no HTTP client is configured")?;
        // The identity cache and the HTTP client take their clock and timers from runtime
        // components; a valid set names the whole call, so it says what this one is: SigV4 on
        // the service's endpoint rules, no retries (the dispatcher retries).
        let components = RuntimeComponentsBuilder::new("fanout-signed-http")
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
                SCHEME_ID,
            ])))
            .with_auth_scheme(SigV4AuthScheme::new())
            .with_identity_resolver(SCHEME_ID, identity_resolver.clone())
            .with_identity_cache(Some(identity_cache.clone()))
            .with_endpoint_resolver(Some(resolver.into_shared_resolver()))
            .with_retry_strategy(Some(NeverRetryStrategy::new()))
            .with_http_client(Some(http_client.clone()))
            .with_time_source(sdk.time_source())
            .with_sleep_impl(sdk.sleep_impl())
            .build()
            .map_err(|e| e.to_string())?;
        // The connector the SDK clients use for the same timeouts: one connection pool.
        let timeouts = sdk.timeout_config();
        let mut settings = HttpConnectorSettings::builder();
        settings.set_connect_timeout(timeouts.and_then(|t| t.connect_timeout()));
        settings.set_read_timeout(timeouts.and_then(|t| t.read_timeout()));
        let connector = http_client.http_connector(&settings.build(), &components);
        Ok(SignedHttp {
            base,
            endpoint_headers,
            region,
            signing_name: "iotdata",
            identity_cache,
            identity_resolver,
            components,
            bag: ConfigBag::base(),
            connector,
        })
    }

    /// Signs and sends `request`, and reads its whole answer.
    pub(crate) async fn send(&self, request: Unsigned) -> Result<Answer, SendError> {
        let Unsigned {
            method,
            path,
            mut headers,
            body,
        } = request;
        let uri = format!("{}{path}", self.base);
        headers.extend(self.endpoint_headers.iter().cloned());
        let identity = self
            .identity_cache
            .resolve_cached_identity(self.identity_resolver.clone(), &self.components, &self.bag)
            .await
            .map_err(SendError::Unsigned)?;
        let now = self
            .components
            .time_source()
            .map_or_else(SystemTime::now, |clock| clock.now());
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.signing_name)
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SendError::Unsigned(e.into()))?
            .into();
        let signable = SignableRequest::new(
            method,
            uri.as_str(),
            headers
                .iter()
                .map(|(name, value)| (name.as_ref(), value.as_str())),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| SendError::Build(e.to_string()))?;
        let (signature, _) = sign(signable, &params)
            .map_err(|e| SendError::Unsigned(e.into()))?
            .into_parts();
        headers.extend(
            signature
                .into_parts()
                .0
                .iter()
                .map(|header| (Cow::Borrowed(header.name()), header.value().to_owned())),
        );

        let mut http = HttpRequest::new(SdkBody::from(body));
        http.set_method(method)
            .map_err(|e| SendError::Build(e.to_string()))?;
        http.set_uri(uri)
            .map_err(|e| SendError::Build(e.to_string()))?;
        for (name, value) in headers {
            http.headers_mut()
                .try_insert(name, value)
                .map_err(|e| SendError::Build(format!("a header: {e}")))?;
        }

        let response = self
            .connector
            .call(http)
            .await
            .map_err(SendError::Dispatch)?;
        let status = response.status().as_u16();
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .map(str::to_owned);
        // Read to the end, so the connection goes back to the pool.
        let body = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|_| SendError::Unreadable(status))?
            .to_vec();
        Ok(Answer {
            status,
            error_type,
            body,
        })
    }
}

/// The endpoint URL setting for one service, as the SDK's generated `From<&SdkConfig>` reads it:
/// set in code wins; otherwise `AWS_ENDPOINT_URL_<SERVICE>` or the profile's service section,
/// then the global `AWS_ENDPOINT_URL` / `endpoint_url`.
fn endpoint_url(sdk: &SdkConfig, service_id: &str) -> Option<String> {
    if sdk.get_origin("endpoint_url").is_client_config() {
        return sdk.endpoint_url().map(str::to_owned);
    }
    ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()
        .and_then(|key| sdk.service_config()?.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(error_type: Option<&str>, body: &str) -> Answer {
        Answer {
            status: 400,
            error_type: error_type.map(str::to_owned),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn error_codes_lose_their_namespace_and_url_suffix() {
        let header = answer(
            Some("ThrottlingException:http://internal.amazon.com/coral/com.amazonaws.iot/"),
            r#"{"message": "Rate exceeded"}"#,
        );
        assert_eq!(
            header.rest_json_error(),
            (
                Some("ThrottlingException".to_owned()),
                Some("Rate exceeded".to_owned())
            )
        );
        let typed = answer(
            None,
            r#"{"__type": "com.amazonaws.iot#UnauthorizedException", "Message": "no"}"#,
        );
        assert_eq!(
            typed.rest_json_error(),
            (
                Some("UnauthorizedException".to_owned()),
                Some("no".to_owned())
            )
        );
        let coded = answer(None, r#"{"code": "InvalidRequestException", "extra": [1]}"#);
        assert_eq!(
            coded.rest_json_error(),
            (Some("InvalidRequestException".to_owned()), None)
        );
    }

    #[test]
    fn an_answer_without_a_readable_error_has_no_code() {
        assert_eq!(
            answer(None, "<html>bad gateway</html>").rest_json_error(),
            (None, None)
        );
        assert_eq!(answer(Some(""), "").rest_json_error(), (None, None));
    }
}
