//! SigV4-signed HTTP calls without the SDK's orchestrator: IoT Core `Publish` and
//! `UpdateThingShadow`, made once per message, IoT Analytics and IoT Events Data
//! `BatchPutMessage`, and the two reads made once per cold start, S3 `GetObject` (the routing
//! table) and Secrets Manager `GetSecretValue` (the Alibaba AccessKey). The orchestrator's fixed
//! cost per operation (layered configuration, a dozen interceptors, retry and telemetry
//! bookkeeping) was most of the CPU a publish cost (BENCHMARKS.md, "CPU per downstream call");
//! the SDK crates of the two reads were over 2 MB of each binary for one call each, those of IoT
//! Analytics and IoT Events Data, whose last releases link older copies of four smithy crates,
//! about 300 KB, and the IoT data plane's, left with one operation, kept the binaries over their
//! 8 MB budget (BENCHMARKS.md, section 4 and budgets). Everything else is the SDK's own:
//! credentials from the shared identity cache, the connection from the shared HTTP client, the
//! signature from `aws-sigv4` with the settings the service's SDK client signs with. Endpoints
//! come from [`EndpointSettings`], the few rules of the services' SDK clients these calls need.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_runtime::auth::sigv4::{SCHEME_ID, SigV4AuthScheme};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime::client::identity::IdentityCache;
use aws_smithy_runtime::client::orchestrator::endpoints::StaticUriEndpointResolver;
use aws_smithy_runtime::client::retries::strategy::NeverRetryStrategy;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::static_resolver::StaticAuthSchemeOptionResolver;
use aws_smithy_runtime_api::client::endpoint::SharedEndpointResolver;
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
use aws_smithy_runtime_api::http::Headers;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::service_config::ServiceConfigKey;
use bytes::Bytes;
use serde::Deserialize;

use super::aws::{
    Target, construction_failure, dispatch_failure, service_error, unreadable_answer,
};
use super::{CallError, ErrorClass};
use crate::dispatch::RetryPolicy;

/// The `user-agent` of every signed call.
pub(crate) const USER_AGENT: &str = concat!("iot-fanout/", env!("CARGO_PKG_VERSION"));

/// One endpoint of one service, and everything needed to sign and send calls to it.
#[derive(Debug)]
pub(crate) struct SignedHttp {
    /// The endpoint's URL without a trailing `/`; request paths are appended to it.
    base: String,
    region: String,
    signing_name: &'static str,
    /// How the service wants requests signed (S3 differs from the SigV4 defaults).
    settings: SigningSettings,
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
#[derive(Debug, Clone)]
pub(crate) struct Unsigned {
    pub(crate) method: &'static str,
    pub(crate) path: String,
    pub(crate) headers: Vec<(Cow<'static, str>, String)>,
    pub(crate) body: Bytes,
}

impl Unsigned {
    /// A `POST` of `body` as `content_type` with its length and the user agent, the headers every
    /// SDK operation with a body sends; an operation's own headers are pushed after them.
    pub(crate) fn post(path: String, content_type: &'static str, body: Bytes) -> Unsigned {
        let header = |name: &'static str, value: String| (Cow::Borrowed(name), value);
        // Room for the operation's headers, the endpoint's and the signature's.
        let mut headers = Vec::with_capacity(10);
        headers.push(header("content-type", content_type.to_owned()));
        headers.push(header("content-length", body.len().to_string()));
        headers.push(header("user-agent", USER_AGENT.to_owned()));
        Unsigned {
            method: "POST",
            path,
            headers,
            body,
        }
    }
}

/// The whole answer to a call.
pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: Headers,
    body: Vec<u8>,
}

/// Bodies can hold secrets (a GetSecretValue answer) and payloads: never shown.
impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
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
    /// An answer whose body is longer than the caller's cap: the bytes it declares, or the bytes
    /// read when it passed the cap. The rest is not read.
    TooLarge(u64),
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
            SendError::TooLarge(bytes) => {
                let Target { action, what, name } = target;
                CallError::new(
                    ErrorClass::Permanent,
                    "TooLarge",
                    format!("{action} to {what} `{name}`: the answer is too large ({bytes} bytes)"),
                )
            }
        }
    }
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }

    pub(crate) fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// A JSON error's code and message (restJson1, awsJson1.1): the code from
    /// `x-amzn-ErrorType` or the body's `code` / `__type`, without the namespace (`…#`) or the
    /// URL suffix (`:…`) services add; the message from `message`, `Message` or `errorMessage`.
    pub(crate) fn json_error(&self) -> (Option<String>, Option<String>) {
        #[derive(Deserialize, Default)]
        struct ErrorBody {
            code: Option<String>,
            #[serde(rename = "__type")]
            kind: Option<String>,
            #[serde(alias = "Message", alias = "errorMessage")]
            message: Option<String>,
        }
        let body: ErrorBody = match serde_json::from_slice(&self.body) {
            Ok(body) => body,
            // Not JSON (a proxy's HTML page): the SDKs' error parser fails, and their error then
            // has no code, not even the header's.
            Err(e) if e.is_syntax() || (e.is_eof() && !self.body.trim_ascii().is_empty()) => {
                return (None, None);
            }
            // JSON of another shape: the SDKs take the header's code.
            Err(_) => ErrorBody::default(),
        };
        let code = self
            .header("x-amzn-errortype")
            .or(body.code.as_deref())
            .or(body.kind.as_deref())
            .map(|code| {
                let code = code.split(':').next().unwrap_or(code);
                code.rsplit('#').next().unwrap_or(code).to_owned()
            })
            .filter(|code| !code.is_empty());
        (code, body.message)
    }

    /// An S3 (restXml, unwrapped) error's code and message: `<Error><Code>…</Code>
    /// <Message>…</Message>…</Error>`, read as aws-sdk-s3 reads it
    /// (`rest_xml_unwrapped_errors::parse_error_metadata`). Nothing when the body is not that
    /// XML (a 304, a proxy's HTML page).
    pub(crate) fn xml_error(&self) -> (Option<String>, Option<String>) {
        use aws_smithy_xml::decode::{Document, XmlDecodeError, try_data};

        fn parse(body: &[u8]) -> Result<(Option<String>, Option<String>), XmlDecodeError> {
            let mut doc = Document::try_from(body)?;
            let mut root = doc.root_element()?;
            let (mut code, mut message) = (None, None);
            while let Some(mut tag) = root.next_tag() {
                match tag.start_el().local() {
                    "Code" => code = Some(try_data(&mut tag)?.into_owned()),
                    "Message" => message = Some(try_data(&mut tag)?.into_owned()),
                    _ => {}
                }
            }
            Ok((code, message))
        }
        if self.body.is_empty() {
            return (None, None);
        }
        let (code, message) = parse(&self.body).unwrap_or_default();
        (code.filter(|code| !code.is_empty()), message)
    }
}

impl SignedHttp {
    /// The IoT data plane, reached and signed as `aws-sdk-iotdataplane` reached and signed
    /// `Publish` and `UpdateThingShadow` ([`IOT_DATA`]). The error says what is missing (a
    /// region, credentials, an endpoint) when it cannot be reached at all.
    pub(crate) fn iot_data(sdk: &SdkConfig) -> Result<SignedHttp, String> {
        SignedHttp::standard(sdk, &IOT_DATA)
    }

    /// One S3 bucket (signing name `s3`): request paths are the object's key, `/`-prefixed and
    /// encoded ([`EndpointSettings::s3_bucket`] says where the bucket is reached).
    pub(crate) fn s3_bucket(sdk: &SdkConfig, bucket: &str) -> Result<SignedHttp, String> {
        let endpoint = EndpointSettings::from_sdk(sdk, "S3", "AWS_ENDPOINT_URL_S3")?;
        let base = endpoint.s3_bucket(bucket)?;
        SignedHttp::new(sdk, endpoint.region, base, "s3", s3_signing_settings())
    }

    /// IoT Analytics, reached and signed as `aws-sdk-iotanalytics` reached and signed
    /// `BatchPutMessage` ([`IOT_ANALYTICS`]).
    pub(crate) fn iot_analytics(sdk: &SdkConfig) -> Result<SignedHttp, String> {
        SignedHttp::standard(sdk, &IOT_ANALYTICS)
    }

    /// IoT Events Data, reached and signed as `aws-sdk-ioteventsdata` reached and signed
    /// `BatchPutMessage` ([`IOT_EVENTS_DATA`]).
    pub(crate) fn iot_events_data(sdk: &SdkConfig) -> Result<SignedHttp, String> {
        SignedHttp::standard(sdk, &IOT_EVENTS_DATA)
    }

    /// Secrets Manager, reached and signed as `aws_sdk_secretsmanager` reached and signed
    /// `GetSecretValue` ([`SECRETS_MANAGER`]).
    pub(crate) fn secrets_manager(sdk: &SdkConfig) -> Result<SignedHttp, String> {
        SignedHttp::standard(sdk, &SECRETS_MANAGER)
    }

    /// A service signed with the SigV4 defaults, at the endpoint its SDK's rules give.
    fn standard(sdk: &SdkConfig, service: &Service) -> Result<SignedHttp, String> {
        let endpoint = EndpointSettings::from_sdk(sdk, service.id, service.variable)?;
        let base = endpoint.url(service)?;
        SignedHttp::new(
            sdk,
            endpoint.region,
            base,
            service.signing_name,
            SigningSettings::default(),
        )
    }

    /// The credentials, HTTP client and timeouts of `sdk`, for calls to `base` in `region`,
    /// signed under `signing_name` with `settings`.
    fn new(
        sdk: &SdkConfig,
        region: String,
        base: String,
        signing_name: &'static str,
        settings: SigningSettings,
    ) -> Result<SignedHttp, String> {
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
        // the service's endpoint, no retries (the dispatcher, or `with_retries`, retries).
        let components = RuntimeComponentsBuilder::new("fanout-signed-http")
            .with_auth_scheme_option_resolver(Some(StaticAuthSchemeOptionResolver::new(vec![
                SCHEME_ID,
            ])))
            .with_auth_scheme(SigV4AuthScheme::new())
            .with_identity_resolver(SCHEME_ID, identity_resolver.clone())
            .with_identity_cache(Some(identity_cache.clone()))
            .with_endpoint_resolver(Some(SharedEndpointResolver::new(
                StaticUriEndpointResolver::uri(base.clone()),
            )))
            .with_retry_strategy(Some(NeverRetryStrategy::new()))
            .with_http_client(Some(http_client.clone()))
            .with_time_source(sdk.time_source())
            .with_sleep_impl(sdk.sleep_impl())
            .build()
            .map_err(|e| e.to_string())?;
        // The connector the SDK clients use for the same timeouts: one connection pool.
        let timeouts = sdk.timeout_config();
        let mut connector_settings = HttpConnectorSettings::builder();
        connector_settings.set_connect_timeout(timeouts.and_then(|t| t.connect_timeout()));
        connector_settings.set_read_timeout(timeouts.and_then(|t| t.read_timeout()));
        let connector = http_client.http_connector(&connector_settings.build(), &components);
        Ok(SignedHttp {
            base,
            region,
            signing_name,
            settings,
            identity_cache,
            identity_resolver,
            components,
            bag: ConfigBag::base(),
            connector,
        })
    }

    /// Signs and sends `request`, and reads its whole answer.
    pub(crate) async fn send(&self, request: Unsigned) -> Result<Answer, SendError> {
        self.send_capped(request, usize::MAX).await
    }

    /// Sends `request` to a JSON-protocol service (restJson1, awsJson) and returns its successful
    /// answer. Anything else becomes the [`CallError`] the service's SDK client gave: the code
    /// and message read from the answer as the SDK reads them, classified by code and status.
    pub(crate) async fn call_json(
        &self,
        request: Unsigned,
        target: Target<'_>,
    ) -> Result<Answer, CallError> {
        let answer = self
            .send(request)
            .await
            .map_err(|e| e.into_call_error(target))?;
        if answer.is_success() {
            return Ok(answer);
        }
        let (code, message) = answer.json_error();
        Err(service_error(
            code.as_deref(),
            message.as_deref(),
            answer.status,
            target,
        ))
    }

    /// As [`send`](Self::send), but an answer whose body is longer than `max_body` bytes (by its
    /// `content-length`, or as it is read) is refused without reading the rest.
    pub(crate) async fn send_capped(
        &self,
        request: Unsigned,
        max_body: usize,
    ) -> Result<Answer, SendError> {
        let Unsigned {
            method,
            path,
            mut headers,
            body,
        } = request;
        let uri = format!("{}{path}", self.base);
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
            .settings(self.settings.clone())
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

        let mut response = self
            .connector
            .call(http)
            .await
            .map_err(SendError::Dispatch)?;
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let declared = headers
            .get("content-length")
            .and_then(|length| length.trim().parse::<u64>().ok());
        if let Some(length) = declared
            && length > max_body as u64
        {
            return Err(SendError::TooLarge(length));
        }
        // Read to the end, so the connection goes back to the pool. The first allocation is
        // bounded whatever the answer declares.
        let capacity = declared.map_or(0, |length| length.min(1 << 20) as usize);
        let mut body = Vec::with_capacity(capacity);
        let mut stream = ByteStream::new(response.into_body());
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|_| SendError::Unreadable(status))?
        {
            if body.len().saturating_add(chunk.len()) > max_body {
                return Err(SendError::TooLarge(
                    body.len().saturating_add(chunk.len()) as u64
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

const NO_REGION: &str = "no AWS region is configured (set AWS_REGION)";

/// A service whose SDK client signs with the SigV4 defaults: its operations set
/// `SigningOptions` to double URI encoding, a normalized path and no `x-amz-content-sha256`,
/// which is [`SigningSettings::default`].
#[derive(Debug)]
struct Service {
    /// The SDK's service id, which names the service's endpoint URL setting.
    id: &'static str,
    /// That setting's environment variable, for messages.
    variable: &'static str,
    signing_name: &'static str,
    /// Where its SDK's endpoint rules send it.
    rules: Rules,
}

/// The endpoint rules of one service's SDK client ([`EndpointSettings::url`]).
#[derive(Debug)]
enum Rules {
    /// The standard rules: `https://{host}.{region}.{DNS suffix}`, `{host}-fips.` with FIPS.
    Standard {
        /// What comes before the region in the service's host names.
        host: &'static str,
        /// Whether they move dual-stack endpoints to the partition's dual-stack DNS suffix.
        dual_stack_suffix: bool,
    },
    /// The IoT data plane's own ([`EndpointSettings::iot_data`]).
    IotData,
}

/// As `aws-sdk-iotdataplane` 1.120 reached and signed it: service id `IoT Data Plane`, host
/// `data-ats.iot` (with exceptions: [`EndpointSettings::iot_data`]), signing name `iotdata`.
const IOT_DATA: Service = Service {
    id: "IoT Data Plane",
    variable: "AWS_ENDPOINT_URL_IOT_DATA_PLANE",
    signing_name: "iotdata",
    rules: Rules::IotData,
};

/// As `aws-sdk-iotanalytics` 1.94 (its last release) reaches and signs it: service id
/// `IoTAnalytics`, host `iotanalytics`, signing name `iotanalytics`.
const IOT_ANALYTICS: Service = Service {
    id: "IoTAnalytics",
    variable: "AWS_ENDPOINT_URL_IOTANALYTICS",
    signing_name: "iotanalytics",
    rules: Rules::Standard {
        host: "iotanalytics",
        dual_stack_suffix: true,
    },
};

/// As `aws-sdk-ioteventsdata` 1.103 (its last release) reaches and signs it: service id
/// `IoT Events Data`, host `data.iotevents` (FIPS `data.iotevents-fips`), signing name
/// `ioteventsdata`.
const IOT_EVENTS_DATA: Service = Service {
    id: "IoT Events Data",
    variable: "AWS_ENDPOINT_URL_IOT_EVENTS_DATA",
    signing_name: "ioteventsdata",
    rules: Rules::Standard {
        host: "data.iotevents",
        dual_stack_suffix: true,
    },
};

/// As `aws-sdk-secretsmanager` 1.108 reached and signed it: service id `Secrets Manager`, host
/// and signing name `secretsmanager`
/// (<https://docs.aws.amazon.com/general/latest/gr/asm.html>). Its rules resolve dual-stack to
/// the same host names, which answer over IPv6 as well.
const SECRETS_MANAGER: Service = Service {
    id: "Secrets Manager",
    variable: "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    signing_name: "secretsmanager",
    rules: Rules::Standard {
        host: "secretsmanager",
        dual_stack_suffix: false,
    },
};

/// The DNS suffixes of one partition (the SDKs' `partitions.json`).
#[derive(Debug, Clone, Copy)]
struct Partition {
    dns_suffix: &'static str,
    dual_stack_dns_suffix: &'static str,
    /// An ISO partition, where most services have suffixes and names of their own.
    iso: bool,
}

/// The standard partition, `aws`, which also takes regions no other partition names.
const AWS: Partition = Partition {
    dns_suffix: "amazonaws.com",
    dual_stack_dns_suffix: "api.aws",
    iso: false,
};

/// The other partitions, by the prefix of their region names (the SDKs' `partitions.json`,
/// version 1.1, as aws-sdk-iotdataplane 1.120 embeds it). GovCloud (`us-gov-`) has `aws`'s
/// suffixes.
const PARTITIONS: [(&str, Partition); 6] = [
    (
        "cn-",
        Partition {
            dns_suffix: "amazonaws.com.cn",
            dual_stack_dns_suffix: "api.amazonwebservices.com.cn",
            iso: false,
        },
    ),
    (
        "eusc-",
        Partition {
            dns_suffix: "amazonaws.eu",
            dual_stack_dns_suffix: "api.amazonwebservices.eu",
            iso: false,
        },
    ),
    (
        "us-iso-",
        Partition {
            dns_suffix: "c2s.ic.gov",
            dual_stack_dns_suffix: "api.aws.ic.gov",
            iso: true,
        },
    ),
    (
        "us-isob-",
        Partition {
            dns_suffix: "sc2s.sgov.gov",
            dual_stack_dns_suffix: "api.aws.scloud",
            iso: true,
        },
    ),
    (
        "us-isof-",
        Partition {
            dns_suffix: "csp.hci.ic.gov",
            dual_stack_dns_suffix: "api.aws.hci.ic.gov",
            iso: true,
        },
    ),
    (
        "eu-isoe-",
        Partition {
            dns_suffix: "cloud.adc-e.uk",
            dual_stack_dns_suffix: "api.cloud-aws.adc-e.uk",
            iso: true,
        },
    ),
];

/// S3 signs differently from the SigV4 defaults, as aws-sdk-s3 sets on every operation
/// (`SigningOptions`: `content_sha256_header`, `normalize_uri_path = false`; its endpoint rules:
/// `disableDoubleEncoding`): the payload's SHA-256 travels in `x-amz-content-sha256`, which S3
/// requires of every SigV4 request
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>), and the
/// path is signed as sent, encoded once and not normalized ("each path segment must be
/// URI-encoded twice, except for Amazon S3 which only gets URI-encoded once", and S3 keys may
/// hold `//` and `.`: <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>).
fn s3_signing_settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings
}

/// Where S3 and the services on the standard rules are reached: what their SDK clients' endpoint
/// rules would pick for the settings a call can have, or a clear error for settings they refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EndpointSettings {
    region: String,
    /// `AWS_USE_FIPS_ENDPOINT` / the profile's `use_fips_endpoint`.
    fips: bool,
    /// `AWS_USE_DUALSTACK_ENDPOINT` / the profile's `use_dualstack_endpoint`.
    dual_stack: bool,
    /// An endpoint URL set for the service or for all services, without a trailing `/`.
    custom: Option<String>,
    /// The variable that sets an endpoint URL for this service alone, for messages.
    variable: &'static str,
}

impl EndpointSettings {
    fn from_sdk(
        sdk: &SdkConfig,
        service_id: &str,
        variable: &'static str,
    ) -> Result<EndpointSettings, String> {
        let region = sdk.region().ok_or(NO_REGION)?.to_string();
        EndpointSettings {
            region,
            fips: sdk.use_fips().unwrap_or(false),
            dual_stack: sdk.use_dual_stack().unwrap_or(false),
            custom: endpoint_url(sdk, service_id),
            variable,
        }
        .checked()
    }

    /// The region goes into host names and the signature, so it must be a host label
    /// (the SDK's endpoint rules check `isValidHostLabel(Region)`); a custom endpoint must be an
    /// http(s) URL and, as in the SDKs' rules ("Invalid Configuration: FIPS and custom endpoint
    /// are not supported", the same for dual-stack), cannot be combined with FIPS or dual-stack.
    fn checked(mut self) -> Result<EndpointSettings, String> {
        let region = &self.region;
        let label = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
        if region.is_empty()
            || region.len() > 63
            || region.starts_with('-')
            || !region.bytes().all(label)
        {
            return Err(format!("`{region}` is not an AWS region name"));
        }
        if let Some(custom) = self.custom.take() {
            let custom = custom.trim().trim_end_matches('/').to_owned();
            let has_host = match custom.split_once("://") {
                Some(("http" | "https", rest)) => !rest.is_empty() && !rest.starts_with('/'),
                _ => false,
            };
            if !has_host || custom.chars().any(|c| c.is_whitespace() || c.is_control()) {
                // Not quoted: a URL can carry a user name and password.
                return Err(format!(
                    "the endpoint URL in {} or AWS_ENDPOINT_URL is not an http(s) URL",
                    self.variable
                ));
            }
            if self.fips || self.dual_stack {
                return Err(format!(
                    "a custom endpoint URL ({} or AWS_ENDPOINT_URL) cannot be combined with FIPS or dual-stack endpoints (AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT)",
                    self.variable
                ));
            }
            self.custom = Some(custom);
        }
        Ok(self)
    }

    /// The region's partition (the SDKs' `partitions.json`): `amazonaws.com.cn` in China,
    /// `amazonaws.eu` in the European Sovereign Cloud, the ISO partitions' own, and
    /// `amazonaws.com` in the standard and GovCloud partitions and for regions not yet known,
    /// each with its dual-stack suffix.
    fn partition(&self) -> Partition {
        PARTITIONS
            .iter()
            .find(|(prefix, _)| self.region.starts_with(prefix))
            .map_or(AWS, |&(_, partition)| partition)
    }

    /// The region's partition for services on the standard rules and S3. The ISO partitions
    /// name many services differently: there the endpoint URL must be set.
    fn public_partition(&self) -> Result<Partition, String> {
        let partition = self.partition();
        if partition.iso {
            return Err(format!(
                "the endpoints of region `{}` are not built in: set {} to the endpoint URL",
                self.region, self.variable
            ));
        }
        Ok(partition)
    }

    /// The base URL of `bucket`, to which `/` and the encoded key are appended.
    ///
    /// A custom endpoint (moto, MinIO, a VPC endpoint by IP) serves buckets by path:
    /// `{endpoint}/{bucket}`. AWS serves them by host name, `https://{bucket}.s3.{region}.{dns}`
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html>), except
    /// names that are not one DNS label: a dotted name would not match the wildcard
    /// certificate over HTTPS, so, as the SDK's rules do (`isVirtualHostableS3Bucket`), those
    /// are read by path, `https://s3.{region}.{dns}/{bucket}`. FIPS and dual-stack endpoints
    /// are `s3-fips.` / `s3.dualstack.` / `s3-fips.dualstack.{region}.{dns}`
    /// (<https://docs.aws.amazon.com/general/latest/gr/s3.html>).
    fn s3_bucket(&self, bucket: &str) -> Result<String, String> {
        use aws_smithy_http::label::{EncodingStrategy, fmt_string};

        if let Some(custom) = &self.custom {
            return Ok(format!(
                "{custom}/{}",
                fmt_string(bucket, EncodingStrategy::Default)
            ));
        }
        let service = match (self.fips, self.dual_stack) {
            (false, false) => "s3",
            (true, false) => "s3-fips",
            (false, true) => "s3.dualstack",
            (true, true) => "s3-fips.dualstack",
        };
        let host = format!(
            "{service}.{}.{}",
            self.region,
            self.public_partition()?.dns_suffix
        );
        Ok(if is_one_dns_label(bucket) {
            format!("https://{bucket}.{host}")
        } else {
            format!(
                "https://{host}/{}",
                fmt_string(bucket, EncodingStrategy::Default)
            )
        })
    }

    /// The endpoint of `service`: the custom endpoint if one is set, else the one its rules
    /// give.
    fn url(&self, service: &Service) -> Result<String, String> {
        if let Some(custom) = &self.custom {
            return Ok(custom.clone());
        }
        match service.rules {
            Rules::Standard {
                host,
                dual_stack_suffix,
            } => self.standard(host, dual_stack_suffix),
            Rules::IotData => Ok(self.iot_data()),
        }
    }

    /// The standard rules (those of aws-sdk-iotanalytics 1.94, aws-sdk-ioteventsdata 1.103 and
    /// aws-sdk-secretsmanager 1.108): `https://{host}.{region}.{suffix}`, with `{host}-fips` for
    /// FIPS and, where the service's rules say so (`dual_stack_suffix`), the partition's
    /// dual-stack suffix for dual-stack (`iotanalytics-fips.us-east-1.api.aws`). Every
    /// partition these rules know supports both.
    fn standard(&self, host: &str, dual_stack_suffix: bool) -> Result<String, String> {
        let partition = self.public_partition()?;
        let fips = if self.fips { "-fips" } else { "" };
        let suffix = if self.dual_stack && dual_stack_suffix {
            partition.dual_stack_dns_suffix
        } else {
            partition.dns_suffix
        };
        Ok(format!("https://{host}{fips}.{}.{suffix}", self.region))
    }

    /// The IoT data plane's rules (aws-sdk-iotdataplane 1.120): the ATS endpoint,
    /// `https://data-ats.iot.{region}.{suffix}`, `data-ats.iot-fips.` with FIPS, on the
    /// partition's dual-stack suffix with dual-stack, in every partition, ISO ones included;
    /// but the older names the rules keep for cn-north-1 (`data.ats.iot.`) and for FIPS without
    /// dual-stack in the seven regions that had FIPS endpoints first (`data.iot-fips.`).
    fn iot_data(&self) -> String {
        /// The regions of `https://data.iot-fips.{region}.amazonaws.com`.
        const FIRST_FIPS: [&str; 7] = [
            "ca-central-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "us-gov-east-1",
            "us-gov-west-1",
        ];
        let region = self.region.as_str();
        let partition = self.partition();
        match (self.fips, self.dual_stack) {
            (true, true) => format!(
                "https://data-ats.iot-fips.{region}.{}",
                partition.dual_stack_dns_suffix
            ),
            (true, false) if FIRST_FIPS.contains(&region) => {
                format!("https://data.iot-fips.{region}.amazonaws.com")
            }
            (true, false) => format!(
                "https://data-ats.iot-fips.{region}.{}",
                partition.dns_suffix
            ),
            (false, true) => format!(
                "https://data-ats.iot.{region}.{}",
                partition.dual_stack_dns_suffix
            ),
            (false, false) if region == "cn-north-1" => {
                "https://data.ats.iot.cn-north-1.amazonaws.com.cn".to_owned()
            }
            (false, false) => format!("https://data-ats.iot.{region}.{}", partition.dns_suffix),
        }
    }
}

/// A bucket name that is one DNS label: 3 to 63 lowercase letters, digits and hyphens, starting
/// and ending with a letter or digit (the SDK's `isVirtualHostableS3Bucket` without dots).
fn is_one_dns_label(bucket: &str) -> bool {
    let alphanumeric =
        |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && alphanumeric(bucket.bytes().next())
        && alphanumeric(bucket.bytes().next_back())
}

/// Retries of the calls that nothing else retries (the cold-start reads): three attempts, as in
/// the SDK's standard retry mode (`RetryConfig::standard()`), with the dispatcher's jittered
/// exponential backoff.
const COLD_START_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_millis(50),
    max_delay: Duration::from_secs(20),
};

/// A failed attempt: the error it ends with if it is the last, and its class, which says whether
/// another attempt may succeed.
#[derive(Debug)]
pub(crate) struct Failure<E> {
    pub(crate) error: E,
    pub(crate) class: ErrorClass,
}

impl Failure<CallError> {
    /// A call that got no answer. As the SDK's standard retries classify it: connection errors,
    /// timeouts and answers cut short are transient; a request that cannot be built or signed,
    /// or an answer over the cap, fails the same way every time.
    pub(crate) fn unanswered(error: SendError, target: Target<'_>) -> Self {
        let class = match &error {
            SendError::Dispatch(_) | SendError::Unreadable(_) => ErrorClass::Transient,
            SendError::Build(_) | SendError::Unsigned(_) | SendError::TooLarge(_) => {
                ErrorClass::Permanent
            }
        };
        Failure {
            error: error.into_call_error(target),
            class,
        }
    }

    /// An error the service answered with, classified by its code and status (`classify`:
    /// throttling codes and 429 are throttled, 5xx and fault codes transient).
    pub(crate) fn answered(
        code: Option<&str>,
        message: Option<&str>,
        status: u16,
        target: Target<'_>,
    ) -> Self {
        let error = service_error(code, message, status, target);
        Failure {
            class: error.class,
            error,
        }
    }
}

impl<E> Failure<E> {
    pub(crate) fn permanent(error: E) -> Self {
        Failure {
            error,
            class: ErrorClass::Permanent,
        }
    }

    pub(crate) fn map<F>(self, f: impl FnOnce(E) -> F) -> Failure<F> {
        Failure {
            error: f(self.error),
            class: self.class,
        }
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or has been made
/// [`COLD_START_RETRY`]`.max_attempts` times, pausing its backoff between attempts. For the cold-start reads, which the shared SDK
/// configuration leaves unretried (the dispatcher retries the sinks' calls) and where one
/// dropped connection would otherwise fail the init.
pub(crate) async fn with_retries<T, E, F, Fut>(mut attempt: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure<E>>>,
{
    let mut made = 0;
    loop {
        made += 1;
        match attempt().await {
            Ok(done) => return Ok(done),
            Err(failure) if made < COLD_START_RETRY.max_attempts && failure.class.retryable() => {
                tokio::time::sleep(COLD_START_RETRY.backoff(made)).await;
            }
            Err(failure) => return Err(failure.error),
        }
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

/// A stand-in for a service behind the shared HTTP client, for the tests of the signed calls:
/// it answers from a script and keeps every request as it reached the client, signed.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod testing {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use aws_sdk_sns::config::{
        AsyncSleep, Credentials, SharedAsyncSleep, SharedCredentialsProvider, Sleep,
    };
    use aws_smithy_runtime_api::client::http::{
        HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_types::sdk_config::{SharedTimeSource, TimeSource};

    /// The fake clock's time: 2024-01-01T00:00:00Z.
    pub(crate) const NOW: u64 = 1_704_067_200;

    /// What the stand-in does with one request.
    #[derive(Debug, Clone)]
    pub(crate) enum Reply {
        Answer {
            status: u16,
            headers: Vec<(&'static str, String)>,
            body: Vec<u8>,
        },
        /// The connection breaks before an answer.
        Drop,
    }

    impl Reply {
        pub(crate) fn status(status: u16, body: &str) -> Reply {
            Reply::Answer {
                status,
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
            }
        }

        pub(crate) fn with_header(mut self, name: &'static str, value: &str) -> Reply {
            if let Reply::Answer { headers, .. } = &mut self {
                headers.push((name, value.to_owned()));
            }
            self
        }
    }

    /// A request as it reached the HTTP client.
    #[derive(Debug, Clone)]
    pub(crate) struct Seen {
        pub(crate) method: String,
        pub(crate) uri: String,
        pub(crate) headers: Vec<(String, String)>,
        pub(crate) body: Vec<u8>,
    }

    impl Seen {
        pub(crate) fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    #[derive(Debug, Clone, Default)]
    pub(crate) struct StandIn {
        replies: Arc<Mutex<VecDeque<Reply>>>,
        seen: Arc<Mutex<Vec<Seen>>>,
    }

    impl StandIn {
        /// Answers with `replies` in turn, then breaks every connection.
        pub(crate) fn new(replies: impl IntoIterator<Item = Reply>) -> StandIn {
            StandIn {
                replies: Arc::new(Mutex::new(replies.into_iter().collect())),
                seen: Arc::default(),
            }
        }

        pub(crate) fn seen(&self) -> Vec<Seen> {
            self.seen.lock().unwrap().clone()
        }

        /// An SDK configuration on this stand-in: static credentials, the fake clock, `region`,
        /// and `endpoint` as if set in AWS_ENDPOINT_URL.
        pub(crate) fn sdk_config(&self, region: &str, endpoint: Option<&str>) -> SdkConfig {
            let this = self.clone();
            let mut builder = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new(region.to_owned()))
                .credentials_provider(SharedCredentialsProvider::new(credentials()))
                .http_client(http_client_fn(move |_, _| {
                    SharedHttpConnector::new(this.clone())
                }))
                .time_source(SharedTimeSource::new(FixedClock))
                .sleep_impl(SharedAsyncSleep::new(TokioSleep));
            if let Some(endpoint) = endpoint {
                builder = builder.endpoint_url(endpoint);
            }
            builder.build()
        }
    }

    pub(crate) fn credentials() -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "tests",
        )
    }

    impl HttpConnector for StandIn {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            self.seen.lock().unwrap().push(Seen {
                method: request.method().to_owned(),
                uri: request.uri().to_owned(),
                headers: request
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                body: request.body().bytes().unwrap_or_default().to_vec(),
            });
            let reply = self.replies.lock().unwrap().pop_front();
            HttpConnectorFuture::ready(match reply {
                Some(Reply::Answer {
                    status,
                    headers,
                    body,
                }) => {
                    let mut response =
                        HttpResponse::new(StatusCode::try_from(status).unwrap(), body.into());
                    for (name, value) in headers {
                        response.headers_mut().insert(name, value);
                    }
                    Ok(response)
                }
                Some(Reply::Drop) | None => Err(ConnectorError::io(
                    "connection reset by the stand-in".into(),
                )),
            })
        }
    }

    #[derive(Debug)]
    pub(crate) struct FixedClock;

    impl TimeSource for FixedClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(NOW)
        }
    }

    #[derive(Debug)]
    struct TokioSleep;

    impl AsyncSleep for TokioSleep {
        fn sleep(&self, duration: Duration) -> Sleep {
            Sleep::new(tokio::time::sleep(duration))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::testing::{Reply, Seen, StandIn};
    use super::*;

    fn answer(error_type: Option<&str>, body: &str) -> Answer {
        let mut headers = Headers::new();
        if let Some(error_type) = error_type {
            headers.insert("x-amzn-errortype", error_type.to_owned());
        }
        Answer {
            status: 400,
            headers,
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
            header.json_error(),
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
            typed.json_error(),
            (
                Some("UnauthorizedException".to_owned()),
                Some("no".to_owned())
            )
        );
        let coded = answer(None, r#"{"code": "InvalidRequestException", "extra": [1]}"#);
        assert_eq!(
            coded.json_error(),
            (Some("InvalidRequestException".to_owned()), None)
        );
    }

    #[test]
    fn an_answer_without_a_readable_error_has_no_code() {
        assert_eq!(
            answer(None, "<html>bad gateway</html>").json_error(),
            (None, None)
        );
        assert_eq!(answer(Some(""), "").json_error(), (None, None));
        // As the SDKs read them: a body that is not JSON leaves even the header's code out; an
        // empty one, or JSON of another shape, does not.
        assert_eq!(
            answer(Some("ThrottlingException"), "<html>slow down</html>").json_error(),
            (None, None)
        );
        assert_eq!(
            answer(Some("ThrottlingException"), "{\"message\": ").json_error(),
            (None, None)
        );
        for body in ["", " \n", "[1]", r#"{"message": 5}"#] {
            assert_eq!(
                answer(Some("ThrottlingException"), body)
                    .json_error()
                    .0
                    .as_deref(),
                Some("ThrottlingException"),
                "{body}"
            );
        }
        assert_eq!(
            answer(None, "<html>bad gateway</html>").xml_error(),
            (None, None)
        );
        assert_eq!(answer(None, "").xml_error(), (None, None));
        assert_eq!(answer(None, "{\"Code\": 1}").xml_error(), (None, None));
    }

    #[test]
    fn s3_errors_are_read_from_their_xml() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist &amp; never did.</Message><Key>a.json</Key><RequestId>R</RequestId></Error>"#;
        assert_eq!(
            answer(None, body).xml_error(),
            (
                Some("NoSuchKey".to_owned()),
                Some("The specified key does not exist & never did.".to_owned())
            )
        );
        assert_eq!(
            answer(None, "<Error><Code></Code></Error>").xml_error(),
            (None, None)
        );
    }

    #[test]
    fn answers_never_show_their_body() {
        let shown = format!("{:?}", answer(None, r#"{"SecretString": "MARKER"}"#));
        assert!(!shown.contains("MARKER"), "{shown}");
    }

    fn settings(region: &str, custom: Option<&str>) -> EndpointSettings {
        EndpointSettings {
            region: region.to_owned(),
            fips: false,
            dual_stack: false,
            custom: custom.map(str::to_owned),
            variable: "AWS_ENDPOINT_URL_S3",
        }
    }

    #[test]
    fn buckets_are_reached_by_host_name_on_aws_and_by_path_elsewhere() {
        let aws = settings("eu-west-1", None).checked().unwrap();
        assert_eq!(
            aws.s3_bucket("my-bucket").unwrap(),
            "https://my-bucket.s3.eu-west-1.amazonaws.com"
        );
        // Dots break the wildcard certificate; names that are not one label go by path.
        for bucket in ["my.dotted.bucket", "-odd", "odd-"] {
            assert_eq!(
                aws.s3_bucket(bucket).unwrap(),
                format!("https://s3.eu-west-1.amazonaws.com/{bucket}")
            );
        }
        assert_eq!(
            settings("cn-north-1", None).s3_bucket("my-bucket").unwrap(),
            "https://my-bucket.s3.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            settings("us-gov-west-1", None).s3_bucket("b.c.d").unwrap(),
            "https://s3.us-gov-west-1.amazonaws.com/b.c.d"
        );
        assert_eq!(
            settings("eusc-de-east-1", None)
                .s3_bucket("bucket")
                .unwrap(),
            "https://bucket.s3.eusc-de-east-1.amazonaws.eu"
        );
        for custom in ["http://127.0.0.1:5000", "http://127.0.0.1:5000/"] {
            let moto = settings("us-east-1", Some(custom)).checked().unwrap();
            assert_eq!(
                moto.s3_bucket("my-bucket").unwrap(),
                "http://127.0.0.1:5000/my-bucket"
            );
        }
        let prefixed = settings("us-east-1", Some("https://vpce.example/s3/"))
            .checked()
            .unwrap();
        assert_eq!(
            prefixed.s3_bucket("a.b").unwrap(),
            "https://vpce.example/s3/a.b"
        );
    }

    #[test]
    fn fips_and_dual_stack_have_their_own_host_names() {
        let with = |fips, dual_stack| EndpointSettings {
            fips,
            dual_stack,
            ..settings("us-east-2", None)
        };
        assert_eq!(
            with(true, false).s3_bucket("b-1").unwrap(),
            "https://b-1.s3-fips.us-east-2.amazonaws.com"
        );
        assert_eq!(
            with(false, true).s3_bucket("b.1").unwrap(),
            "https://s3.dualstack.us-east-2.amazonaws.com/b.1"
        );
        assert_eq!(
            with(true, true).s3_bucket("b-1").unwrap(),
            "https://b-1.s3-fips.dualstack.us-east-2.amazonaws.com"
        );
        assert_eq!(
            with(true, true).url(&SECRETS_MANAGER).unwrap(),
            "https://secretsmanager-fips.us-east-2.amazonaws.com"
        );
        assert_eq!(
            with(false, true).url(&SECRETS_MANAGER).unwrap(),
            "https://secretsmanager.us-east-2.amazonaws.com"
        );
        let e = EndpointSettings {
            fips: true,
            ..settings("us-east-2", Some("http://localhost:4566"))
        }
        .checked()
        .unwrap_err();
        assert!(e.contains("cannot be combined with FIPS"), "{e}");
    }

    #[test]
    fn secrets_manager_has_one_endpoint_per_region() {
        assert_eq!(
            settings("eu-central-1", None)
                .url(&SECRETS_MANAGER)
                .unwrap(),
            "https://secretsmanager.eu-central-1.amazonaws.com"
        );
        assert_eq!(
            settings("cn-northwest-1", None)
                .url(&SECRETS_MANAGER)
                .unwrap(),
            "https://secretsmanager.cn-northwest-1.amazonaws.com.cn"
        );
        let moto = settings("us-east-1", Some("http://127.0.0.1:5000/"))
            .checked()
            .unwrap();
        assert_eq!(moto.url(&SECRETS_MANAGER).unwrap(), "http://127.0.0.1:5000");
    }

    /// The endpoint tests aws-sdk-iotanalytics 1.94 and aws-sdk-ioteventsdata 1.103 ship with
    /// (`config/endpoint.rs`), but for the ISO partitions, where the endpoint URL must be set.
    #[test]
    fn iot_analytics_and_events_resolve_as_their_sdk_rules() {
        let cases = [
            (
                "ap-northeast-1",
                false,
                false,
                "iotanalytics.ap-northeast-1.amazonaws.com",
            ),
            (
                "us-east-1",
                true,
                true,
                "iotanalytics-fips.us-east-1.api.aws",
            ),
            (
                "us-east-1",
                true,
                false,
                "iotanalytics-fips.us-east-1.amazonaws.com",
            ),
            ("us-east-1", false, true, "iotanalytics.us-east-1.api.aws"),
            (
                "cn-north-1",
                false,
                false,
                "iotanalytics.cn-north-1.amazonaws.com.cn",
            ),
            (
                "cn-north-1",
                true,
                true,
                "iotanalytics-fips.cn-north-1.api.amazonwebservices.com.cn",
            ),
            (
                "cn-north-1",
                true,
                false,
                "iotanalytics-fips.cn-north-1.amazonaws.com.cn",
            ),
            (
                "cn-north-1",
                false,
                true,
                "iotanalytics.cn-north-1.api.amazonwebservices.com.cn",
            ),
            (
                "us-gov-east-1",
                true,
                true,
                "iotanalytics-fips.us-gov-east-1.api.aws",
            ),
            (
                "us-gov-east-1",
                false,
                false,
                "iotanalytics.us-gov-east-1.amazonaws.com",
            ),
        ];
        for (region, fips, dual_stack, host) in cases {
            let at = EndpointSettings {
                fips,
                dual_stack,
                ..settings(region, None)
            };
            assert_eq!(at.url(&IOT_ANALYTICS).unwrap(), format!("https://{host}"));
            // Same rules, another host.
            let events = host.replacen("iotanalytics", "data.iotevents", 1);
            assert_eq!(
                at.url(&IOT_EVENTS_DATA).unwrap(),
                format!("https://{events}")
            );
        }
        assert_eq!(
            settings("eusc-de-east-1", None)
                .url(&IOT_EVENTS_DATA)
                .unwrap(),
            "https://data.iotevents.eusc-de-east-1.amazonaws.eu"
        );
        let stub = settings("us-east-1", Some("http://127.0.0.1:4000/"))
            .checked()
            .unwrap();
        assert_eq!(stub.url(&IOT_ANALYTICS).unwrap(), "http://127.0.0.1:4000");
        let e = EndpointSettings {
            variable: IOT_EVENTS_DATA.variable,
            ..settings("us-iso-east-1", None)
        }
        .url(&IOT_EVENTS_DATA)
        .unwrap_err();
        assert!(e.contains("set AWS_ENDPOINT_URL_IOT_EVENTS_DATA"), "{e}");
    }

    /// Every endpoint test aws-sdk-iotdataplane 1.120 ships with (`config/endpoint.rs`); before
    /// the crate was removed, these rules also gave the SDK resolver's answer for each of 27
    /// regions (every partition, regions not yet known) with and without FIPS and dual-stack.
    #[test]
    fn the_iot_data_plane_resolves_as_its_sdk_rules() {
        let ats = |region: &str| format!("data-ats.iot.{region}.amazonaws.com");
        let mut cases: Vec<(&str, bool, bool, String)> = [
            "ap-east-1",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ca-central-1",
            "eu-central-1",
            "eu-north-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "me-south-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "us-gov-east-1",
            "us-gov-west-1",
        ]
        .into_iter()
        .map(|region| (region, false, false, ats(region)))
        .collect();
        for region in [
            "ca-central-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "us-gov-east-1",
            "us-gov-west-1",
        ] {
            cases.push((
                region,
                true,
                false,
                format!("data.iot-fips.{region}.amazonaws.com"),
            ));
        }
        for (region, fips, dual_stack, host) in [
            (
                "us-east-1",
                true,
                true,
                "data-ats.iot-fips.us-east-1.api.aws",
            ),
            ("us-east-1", false, true, "data-ats.iot.us-east-1.api.aws"),
            (
                "cn-north-1",
                false,
                false,
                "data.ats.iot.cn-north-1.amazonaws.com.cn",
            ),
            (
                "cn-northwest-1",
                false,
                false,
                "data-ats.iot.cn-northwest-1.amazonaws.com.cn",
            ),
            (
                "cn-north-1",
                true,
                true,
                "data-ats.iot-fips.cn-north-1.api.amazonwebservices.com.cn",
            ),
            (
                "cn-north-1",
                true,
                false,
                "data-ats.iot-fips.cn-north-1.amazonaws.com.cn",
            ),
            (
                "cn-north-1",
                false,
                true,
                "data-ats.iot.cn-north-1.api.amazonwebservices.com.cn",
            ),
            (
                "us-gov-east-1",
                true,
                true,
                "data-ats.iot-fips.us-gov-east-1.api.aws",
            ),
            (
                "us-gov-east-1",
                false,
                true,
                "data-ats.iot.us-gov-east-1.api.aws",
            ),
            (
                "us-iso-east-1",
                true,
                false,
                "data-ats.iot-fips.us-iso-east-1.c2s.ic.gov",
            ),
            (
                "us-iso-east-1",
                false,
                false,
                "data-ats.iot.us-iso-east-1.c2s.ic.gov",
            ),
            (
                "us-isob-east-1",
                true,
                false,
                "data-ats.iot-fips.us-isob-east-1.sc2s.sgov.gov",
            ),
            (
                "us-isob-east-1",
                false,
                false,
                "data-ats.iot.us-isob-east-1.sc2s.sgov.gov",
            ),
        ] {
            cases.push((region, fips, dual_stack, host.to_owned()));
        }
        for (region, fips, dual_stack, host) in cases {
            let at = EndpointSettings {
                fips,
                dual_stack,
                ..settings(region, None)
            };
            assert_eq!(
                at.url(&IOT_DATA).unwrap(),
                format!("https://{host}"),
                "{region} fips={fips} dual_stack={dual_stack}"
            );
        }
        let custom = settings("us-east-1", Some("https://example.com"))
            .checked()
            .unwrap();
        assert_eq!(custom.url(&IOT_DATA).unwrap(), "https://example.com");
        // "Invalid Configuration: FIPS and custom endpoint are not supported", and the same for
        // dual-stack.
        for (fips, dual_stack) in [(true, false), (false, true)] {
            let e = EndpointSettings {
                fips,
                dual_stack,
                ..settings("us-east-1", Some("https://example.com"))
            }
            .checked()
            .unwrap_err();
            assert!(
                e.contains("cannot be combined with FIPS or dual-stack"),
                "{e}"
            );
        }
    }

    #[test]
    fn settings_that_cannot_name_an_endpoint_are_refused() {
        let e = settings("us-iso-east-1", None)
            .s3_bucket("bucket")
            .unwrap_err();
        assert!(e.contains("set AWS_ENDPOINT_URL_S3"), "{e}");
        assert!(
            settings("eu-isoe-west-1", None)
                .url(&SECRETS_MANAGER)
                .is_err()
        );
        for region in ["", "us-east-1/x", "-a", "us east", "a.b"] {
            assert!(settings(region, None).checked().is_err(), "{region}");
        }
        for custom in [
            "localhost:5000",
            "ftp://host",
            "http://",
            "http:///x",
            "http://a b",
        ] {
            let e = settings("us-east-1", Some(custom)).checked().unwrap_err();
            assert!(e.contains("is not an http(s) URL"), "{custom}: {e}");
        }
    }

    #[test]
    fn only_connection_failures_and_transient_answers_are_retried() {
        let target = Target {
            action: "s3:GetObject",
            what: "S3 object",
            name: "s3://b/k",
        };
        let class =
            |code: Option<&str>, status| Failure::answered(code, None, status, target).class;
        assert_eq!(class(Some("SlowDown"), 503), ErrorClass::Throttled);
        assert_eq!(
            class(Some("ThrottlingException"), 400),
            ErrorClass::Throttled
        );
        assert_eq!(class(None, 429), ErrorClass::Throttled);
        assert_eq!(class(Some("InternalError"), 500), ErrorClass::Transient);
        assert_eq!(class(None, 502), ErrorClass::Transient);
        assert_eq!(class(Some("RequestTimeout"), 400), ErrorClass::Transient);
        for (code, status) in [
            ("AccessDenied", 403),
            ("NoSuchKey", 404),
            ("NoSuchBucket", 404),
            ("ResourceNotFoundException", 400),
            ("DecryptionFailure", 400),
        ] {
            assert_eq!(class(Some(code), status), ErrorClass::Permanent, "{code}");
        }
        let unanswered = |e| Failure::unanswered(e, target).class;
        assert_eq!(
            unanswered(SendError::Dispatch(ConnectorError::io("reset".into()))),
            ErrorClass::Transient
        );
        assert_eq!(
            unanswered(SendError::Dispatch(ConnectorError::timeout("slow".into()))),
            ErrorClass::Transient
        );
        assert_eq!(
            unanswered(SendError::Unreadable(200)),
            ErrorClass::Transient
        );
        assert_eq!(
            unanswered(SendError::Build("bad header".into())),
            ErrorClass::Permanent
        );
        assert_eq!(
            unanswered(SendError::Unsigned("no credentials".into())),
            ErrorClass::Permanent
        );
        assert_eq!(
            unanswered(SendError::TooLarge(1 << 30)),
            ErrorClass::Permanent
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_three_attempts_or_a_permanent_failure() {
        let made = AtomicU32::new(0);
        let run = |classes: Vec<ErrorClass>| {
            made.store(0, Ordering::Relaxed);
            let made = &made;
            with_retries(move || {
                let n = made.fetch_add(1, Ordering::Relaxed);
                let class = classes.get(n as usize).copied();
                async move {
                    match class {
                        None => Ok(n + 1),
                        Some(class) => Err(Failure {
                            error: n + 1,
                            class,
                        }),
                    }
                }
            })
        };
        assert_eq!(run(vec![]).await, Ok(1));
        assert_eq!(run(vec![ErrorClass::Transient]).await, Ok(2));
        assert_eq!(
            run(vec![ErrorClass::Throttled, ErrorClass::Transient]).await,
            Ok(3)
        );
        assert_eq!(run(vec![ErrorClass::Transient; 5]).await, Err(3));
        assert_eq!(made.load(Ordering::Relaxed), 3);
        assert_eq!(
            run(vec![ErrorClass::Transient, ErrorClass::Permanent]).await,
            Err(2)
        );
        assert_eq!(run(vec![ErrorClass::Permanent]).await, Err(1));
    }

    /// The `authorization` the SDK's own SigV4 signer (aws-runtime's `SigV4Signer`, which every
    /// SDK client signs with) gives the request `seen` reached the client as, with `options`:
    /// what a client of the service would have sent.
    fn sdk_authorization(
        signed: &SignedHttp,
        seen: &Seen,
        options: aws_runtime::auth::SigningOptions,
    ) -> String {
        use aws_runtime::auth::SigV4OperationSigningConfig;
        use aws_runtime::auth::sigv4::SigV4Signer;
        use aws_smithy_runtime_api::client::auth::{AuthSchemeEndpointConfig, Sign};
        use aws_smithy_runtime_api::client::identity::Identity;
        use aws_smithy_types::config_bag::Layer;
        use aws_types::SigningName;
        use aws_types::region::SigningRegion;

        let mut request = HttpRequest::new(SdkBody::from(seen.body.clone()));
        request.set_method(seen.method.as_str()).unwrap();
        request.set_uri(seen.uri.as_str()).unwrap();
        for (name, value) in &seen.headers {
            // What signing adds, the SDK's signer adds again.
            if !["authorization", "x-amz-date", "x-amz-content-sha256"].contains(&name.as_str()) {
                request.headers_mut().insert(name.clone(), value.clone());
            }
        }
        let config = SigV4OperationSigningConfig {
            region: Some(SigningRegion::from(aws_types::region::Region::new(
                signed.region.clone(),
            ))),
            name: Some(SigningName::from_static(signed.signing_name)),
            signing_options: options,
            ..SigV4OperationSigningConfig::default()
        };
        let mut layer = Layer::new("sdk");
        layer.store_put(config);
        let bag = ConfigBag::of_layers(vec![layer]);
        let identity = Identity::from(super::testing::credentials());
        SigV4Signer::new()
            .sign_http_request(
                &mut request,
                &identity,
                AuthSchemeEndpointConfig::empty(),
                &signed.components,
                &bag,
            )
            .unwrap();
        request.headers().get("authorization").unwrap().to_owned()
    }

    #[tokio::test]
    async fn s3_requests_are_signed_as_aws_sdk_s3_signs_them() {
        let stand_in = StandIn::new([Reply::status(200, "{}")]);
        let sdk = stand_in.sdk_config("eu-west-1", None);
        let s3 = SignedHttp::s3_bucket(&sdk, "my-bucket").unwrap();
        s3.send(Unsigned {
            method: "GET",
            // A key that double encoding or path normalization would sign differently.
            path: "/tables/./a%20b%2Bc%25//%C3%BC.json".to_owned(),
            headers: vec![(Cow::Borrowed("if-none-match"), "\"abc\"".to_owned())],
            body: Bytes::new(),
        })
        .await
        .unwrap();
        let seen = &stand_in.seen()[0];
        assert_eq!(
            seen.uri,
            "https://my-bucket.s3.eu-west-1.amazonaws.com/tables/./a%20b%2Bc%25//%C3%BC.json"
        );
        // The empty body's SHA-256.
        assert_eq!(
            seen.header("x-amz-content-sha256"),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(seen.header("x-amz-date"), Some("20240101T000000Z"));
        let authorization = seen.header("authorization").unwrap();
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/s3/aws4_request, \
                 SignedHeaders=host;if-none-match;x-amz-content-sha256;x-amz-date, Signature="
            ),
            "{authorization}"
        );
        // aws-sdk-s3's options on every operation, and `disableDoubleEncoding` from its rules.
        let mut options = aws_runtime::auth::SigningOptions::default();
        options.double_uri_encode = false;
        options.content_sha256_header = true;
        options.normalize_uri_path = false;
        assert_eq!(authorization, sdk_authorization(&s3, seen, options.clone()));
        // The SigV4 defaults would sign it differently: the comparison can tell.
        let defaults = aws_runtime::auth::SigningOptions::default();
        assert_ne!(authorization, sdk_authorization(&s3, seen, defaults));
    }

    #[tokio::test]
    async fn secrets_manager_requests_are_signed_with_the_defaults() {
        let stand_in = StandIn::new([Reply::status(200, "{}")]);
        let sdk = stand_in.sdk_config("ap-southeast-2", None);
        let secrets = SignedHttp::secrets_manager(&sdk).unwrap();
        let body = Bytes::from_static(br#"{"SecretId":"fanout/alibaba"}"#);
        secrets
            .send(Unsigned {
                method: "POST",
                path: "/".to_owned(),
                headers: vec![
                    (
                        Cow::Borrowed("x-amz-target"),
                        "secretsmanager.GetSecretValue".to_owned(),
                    ),
                    (
                        Cow::Borrowed("content-type"),
                        "application/x-amz-json-1.1".to_owned(),
                    ),
                    (Cow::Borrowed("content-length"), body.len().to_string()),
                ],
                body,
            })
            .await
            .unwrap();
        let seen = &stand_in.seen()[0];
        assert_eq!(
            seen.uri,
            "https://secretsmanager.ap-southeast-2.amazonaws.com/"
        );
        assert_eq!(seen.header("x-amz-content-sha256"), None);
        let authorization = seen.header("authorization").unwrap();
        assert!(
            authorization.contains("/ap-southeast-2/secretsmanager/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-target, "),
            "{authorization}"
        );
        assert_eq!(
            authorization,
            sdk_authorization(&secrets, seen, aws_runtime::auth::SigningOptions::default())
        );
    }

    /// IoT Analytics and IoT Events Data are signed as their SDKs signed `BatchPutMessage`:
    /// under their signing names, with the options aws-sdk-iotanalytics 1.94 and
    /// aws-sdk-ioteventsdata 1.103 set on it (`operation/batch_put_message.rs`: double URI
    /// encoding, a normalized path, no `x-amz-content-sha256`). The signatures are kept too, so
    /// a change to signing shows here even if the SDK's signer changes alike.
    #[tokio::test]
    async fn iot_analytics_and_events_data_are_signed_as_their_sdks_signed() {
        type Build = fn(&SdkConfig) -> Result<SignedHttp, String>;
        let services: [(Build, &str, &str, &str); 2] = [
            (
                SignedHttp::iot_analytics,
                "/messages/batch",
                "https://iotanalytics.sa-east-1.amazonaws.com/messages/batch",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/sa-east-1/iotanalytics/aws4_request, \
                 SignedHeaders=content-length;content-type;host;x-amz-date, \
                 Signature=27892d41dfebed58812a403d5a1a68ce8acc8a883641bd7e0c3ac427760469c2",
            ),
            (
                SignedHttp::iot_events_data,
                "/inputs/messages",
                "https://data.iotevents.sa-east-1.amazonaws.com/inputs/messages",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/sa-east-1/ioteventsdata/aws4_request, \
                 SignedHeaders=content-length;content-type;host;x-amz-date, \
                 Signature=0f82d2598fa258f7e53e04e4c6b4c057ca6e095e1ff438b90623c93adf6a8e53",
            ),
        ];
        for (build, path, uri, expected) in services {
            let stand_in = StandIn::new([Reply::status(200, "{}")]);
            let service = build(&stand_in.sdk_config("sa-east-1", None)).unwrap();
            let body = Bytes::from_static(br#"{"messages":[{"messageId":"m0","payload":"e30="}]}"#);
            service
                .send(Unsigned::post(path.to_owned(), "application/json", body))
                .await
                .unwrap();
            let seen = &stand_in.seen()[0];
            assert_eq!(seen.uri, uri);
            // S3's options would sign it differently: the comparison can tell.
            let mut s3 = aws_runtime::auth::SigningOptions::default();
            s3.content_sha256_header = true;
            assert_signed_with_the_defaults(&service, seen, expected, s3);
        }
    }

    /// `seen`, sent by `service`, carries the `expected` signature, which is also what the SDK's
    /// signer gives under the options the SDKs' operations set for the SigV4 defaults (double
    /// URI encoding, a normalized path, no `x-amz-content-sha256`), and not what `other` gives.
    fn assert_signed_with_the_defaults(
        service: &SignedHttp,
        seen: &Seen,
        expected: &str,
        other: aws_runtime::auth::SigningOptions,
    ) {
        assert_eq!(seen.header("x-amz-content-sha256"), None);
        let authorization = seen.header("authorization").unwrap();
        assert_eq!(authorization, expected);
        let mut options = aws_runtime::auth::SigningOptions::default();
        options.double_uri_encode = true;
        options.content_sha256_header = false;
        options.normalize_uri_path = true;
        assert_eq!(authorization, sdk_authorization(service, seen, options));
        assert_ne!(authorization, sdk_authorization(service, seen, other));
    }

    /// IoT data plane calls are signed as aws-sdk-iotdataplane 1.120 signed `UpdateThingShadow`
    /// and `Publish`: under `iotdata`, with the SigV4 defaults its operations set (double URI
    /// encoding, which an encoded thing name shows, a normalized path, no
    /// `x-amz-content-sha256`). The signature is kept too.
    #[tokio::test]
    async fn iot_data_calls_are_signed_as_their_sdk_signed() {
        let stand_in = StandIn::new([Reply::status(200, "{}")]);
        let iot_data = SignedHttp::iot_data(&stand_in.sdk_config("eu-west-1", None)).unwrap();
        let path = "/things/plant%201%2Fpump%233%3F%C3%BC%3Ax/shadow\
                    ?name=a%20b%2Fc%3Fd%3De%26f%2B%C3%BC~%2A%27%28%29%21%24%2C%3B%40%25";
        let body = Bytes::from_static(b"\x00\xff");
        iot_data
            .send(Unsigned::post(
                path.to_owned(),
                "application/octet-stream",
                body,
            ))
            .await
            .unwrap();
        let seen = &stand_in.seen()[0];
        assert_eq!(
            seen.uri,
            format!("https://data-ats.iot.eu-west-1.amazonaws.com{path}")
        );
        // Single encoding (S3's) would sign it differently: the comparison can tell.
        let mut single = aws_runtime::auth::SigningOptions::default();
        single.double_uri_encode = false;
        assert_signed_with_the_defaults(
            &iot_data,
            seen,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/eu-west-1/iotdata/aws4_request, \
             SignedHeaders=content-length;content-type;host;x-amz-date, \
             Signature=61e2c8c0e8f5c6e6808554af09c548a4ee768b408503594a1bf6b2ab7bdb180a",
            single,
        );
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused() {
        let stand_in = StandIn::new([
            Reply::status(200, "0123456789").with_header("content-length", "10"),
            Reply::status(200, "0123456789"),
            Reply::status(200, "0123456789"),
        ]);
        let sdk = stand_in.sdk_config("us-east-1", Some("http://127.0.0.1:9"));
        let s3 = SignedHttp::s3_bucket(&sdk, "b").unwrap();
        let get = || Unsigned {
            method: "GET",
            path: "/k".to_owned(),
            headers: Vec::new(),
            body: Bytes::new(),
        };
        assert!(matches!(
            s3.send_capped(get(), 9).await,
            Err(SendError::TooLarge(10))
        ));
        assert!(matches!(
            s3.send_capped(get(), 9).await,
            Err(SendError::TooLarge(10))
        ));
        assert_eq!(
            s3.send_capped(get(), 10).await.unwrap().body(),
            b"0123456789"
        );
        assert_eq!(stand_in.seen()[0].uri, "http://127.0.0.1:9/b/k");
    }
}
