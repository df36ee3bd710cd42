//! The HTTPS client every SDK client and signed call shares, and the builder the `alibaba`
//! destination's client comes from: hyper-util's pooled client over rustls on ring, HTTP/1.1 only.
//! Every service the functions call speaks HTTP/1.1; the SDK's own client (aws-smithy-http-client)
//! links HTTP/2 (h2, hyper's HTTP/2 half) whatever its features, and replacing it took
//! 1.06–1.07 MB off each function binary, which brought them all under their 8 MB budget
//! (BENCHMARKS.md, binary size).

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_rustls::{ConfigBuilderExt as _, HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::ClientConfig;
use tower_service::Service;

/// A pooled HTTPS (and plain HTTP, for local endpoints) client sending bodies of type `B`.
pub(crate) type Pooled<B> = Client<TimedConnector, B>;

/// As long as the SDK's client keeps an idle connection (hyper's default): a warm instance
/// reuses its connections between invocations instead of paying a TLS handshake each time.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// rustls on ring with the platform's root certificates. Reading them takes milliseconds, so
/// callers do it once, at cold start.
pub(crate) fn tls_config() -> io::Result<ClientConfig> {
    Ok(tls_builder()?.with_native_roots()?.with_no_client_auth())
}

fn tls_builder() -> io::Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)
}

/// A client on `tls`: HTTP/1.1 only (no ALPN offer), TCP_NODELAY so a request written in
/// several small pieces is not held back by Nagle's algorithm, and `connect_timeout` on making
/// the connection (TCP and TLS, [`TimedConnector`]).
pub(crate) fn pooled<B>(tls: ClientConfig, connect_timeout: Option<Duration>) -> Pooled<B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let mut tcp = TcpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    // Hyper gives each address a name resolves to its share of this, so an unreachable address
    // leaves time for the next one.
    tcp.set_connect_timeout(connect_timeout);
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    let mut builder = Client::builder(TokioExecutor::new());
    // With a timer the pool closes idle connections as they expire, not only when it next
    // looks for one.
    builder
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT);
    builder.build(TimedConnector {
        https,
        timeout: connect_timeout,
    })
}

/// The HTTPS connector with the connect timeout over the TCP connect and the TLS handshake
/// together, as the SDK's own client applied it: a handshake that stalls fails as a timeout
/// (and is retried) instead of waiting for the read timeout, which the SDK does not set by
/// default, or for the invocation's deadline.
#[derive(Clone, Debug)]
pub(crate) struct TimedConnector {
    https: HttpsConnector<TcpConnector>,
    timeout: Option<Duration>,
}

type Connected = <HttpsConnector<TcpConnector> as Service<http::Uri>>::Response;

impl Service<http::Uri> for TimedConnector {
    type Response = Connected;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Connected, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.https.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.https.call(uri);
        let Some(limit) = self.timeout else {
            return connecting;
        };
        Box::pin(async move {
            tokio::time::timeout(limit, connecting)
                .await
                .unwrap_or_else(|_| {
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no connection within the connect timeout ({limit:?})"),
                    )
                    .into())
                })
        })
    }
}

/// The client the SDK configuration hands to every SDK client and signed call. The root
/// certificates are read here, when the configuration is built at cold start.
pub(crate) fn sdk_client() -> SharedHttpClient {
    SharedHttpClient::new(SdkHttpClient {
        tls: sdk_tls(),
        built: RwLock::default(),
    })
}

/// Without the platform's root certificates the client is still built, as the SDK's own client
/// was: the plain-HTTP endpoints (local stand-ins) still work, and every HTTPS call fails its
/// certificate check. `Err` says why no TLS configuration could be built at all.
fn sdk_tls() -> Result<ClientConfig, Arc<str>> {
    let builder = tls_builder().map_err(|e| Arc::from(format!("no TLS configuration: {e}")))?;
    match builder.clone().with_native_roots() {
        Ok(builder) => Ok(builder.with_no_client_auth()),
        Err(e) => {
            tracing::error!(
                error = %e,
                "the platform's root certificates could not be read: HTTPS calls will fail"
            );
            Ok(builder
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth())
        }
    }
}

/// The [`HttpClient`] behind [`sdk_client`]: one pooled client per connect timeout (in practice
/// one: every SDK client and signed call is built from the same SDK configuration, so they
/// share its connections), and one connector per connect and read timeout, kept because the
/// SDK asks for its connector on every attempt.
struct SdkHttpClient {
    tls: Result<ClientConfig, Arc<str>>,
    built: RwLock<Built>,
}

#[derive(Default)]
struct Built {
    clients: Vec<(Option<Duration>, Pooled<SdkBody>)>,
    connectors: Vec<(Timeouts, SharedHttpConnector)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl fmt::Debug for SdkHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SdkHttpClient")
            .field("tls", &self.tls.is_ok())
            .finish_non_exhaustive()
    }
}

impl SdkHttpClient {
    fn connector(&self, timeouts: Timeouts) -> SharedHttpConnector {
        let tls = match &self.tls {
            Ok(tls) => tls,
            Err(why) => return SharedHttpConnector::new(Unavailable(why.clone())),
        };
        let cached = |built: &Built| {
            built
                .connectors
                .iter()
                .find(|(t, _)| *t == timeouts)
                .map(|(_, c)| c.clone())
        };
        if let Some(connector) = cached(&self.built.read().unwrap_or_else(PoisonError::into_inner))
        {
            return connector;
        }
        let mut built = self.built.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(connector) = cached(&built) {
            return connector;
        }
        let client = match built.clients.iter().find(|(t, _)| *t == timeouts.connect) {
            Some((_, client)) => client.clone(),
            None => {
                let client = pooled(tls.clone(), timeouts.connect);
                built.clients.push((timeouts.connect, client.clone()));
                client
            }
        };
        let connector = SharedHttpConnector::new(Connector {
            client,
            read_timeout: timeouts.read,
        });
        built.connectors.push((timeouts, connector.clone()));
        connector
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector(Timeouts {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        })
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        // What the SDK's user agent reports (`md/http#hyper-1.x`), as with its own client.
        Some(ConnectorMetadata::new("hyper", Some("1.x".into())))
    }
}

/// Sends one request on the shared pool, and gives up on it when no answer has begun within the
/// read timeout.
struct Connector {
    client: Pooled<SdkBody>,
    read_timeout: Option<Duration>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("read_timeout", &self.read_timeout)
            .finish_non_exhaustive()
    }
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let answer = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => match tokio::time::timeout(limit, answer).await {
                    Ok(response) => response,
                    Err(_) => return Err(ConnectorError::timeout(Box::new(ReadTimeout(limit)))),
                },
                None => answer.await,
            }
            .map_err(connector_error)?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// The connector of a client that has no TLS configuration: every call fails with why.
#[derive(Debug)]
struct Unavailable(Arc<str>);

impl HttpConnector for Unavailable {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Err(ConnectorError::other(self.0.to_string().into(), None)))
    }
}

/// No answer began within the read timeout.
#[derive(Debug)]
struct ReadTimeout(Duration);

impl fmt::Display for ReadTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no answer within the read timeout ({:?})", self.0)
    }
}

impl StdError for ReadTimeout {}

/// Classifies a failed request as the dispatcher reads it (`is_timeout`, `is_io`): whatever
/// lost or never made the connection is I/O, so the call is retried.
fn connector_error(error: hyper_util::client::legacy::Error) -> ConnectorError {
    let timed_out = chain(&error).any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
            || e.downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout)
    });
    let hyper = chain(&error).find_map(|e| e.downcast_ref::<hyper::Error>());
    let io = error.is_connect()
        || chain(&error).any(|e| e.is::<io::Error>())
        || hyper.is_some_and(|h| h.is_closed() || h.is_canceled() || h.is_incomplete_message());
    let user = hyper.is_some_and(hyper::Error::is_user);
    let error: BoxError = Box::new(error);
    if timed_out {
        ConnectorError::timeout(error)
    } else if io {
        ConnectorError::io(error)
    } else if user {
        ConnectorError::user(error)
    } else {
        ConnectorError::other(error, None)
    }
}

/// `error` and every error under it. An `io::Error`'s `source` is its payload's source, so the
/// payload (hyper's or rustls's error) is taken from `get_ref` instead.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use aws_sdk_sns::config::{Credentials, Region};
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::timeout::TimeoutConfig;
    use axum::Router;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::post;
    use http_body_util::BodyExt as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    const READ_TIMEOUT: Duration = Duration::from_millis(300);

    fn client() -> SdkHttpClient {
        SdkHttpClient {
            tls: sdk_tls(),
            built: RwLock::default(),
        }
    }

    fn connector(read: Option<Duration>) -> SharedHttpConnector {
        client().connector(Timeouts {
            connect: Some(Duration::from_secs(2)),
            read,
        })
    }

    fn request(method: &str, url: &str, body: &'static [u8]) -> HttpRequest {
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .header("x-test", "ping")
            .body(SdkBody::from(body))
            .unwrap();
        HttpRequest::try_from(request).unwrap()
    }

    async fn body_of(response: HttpResponse) -> Result<Vec<u8>, String> {
        let body = response.into_body();
        body.collect()
            .await
            .map(|b| b.to_bytes().to_vec())
            .map_err(|e| e.to_string())
    }

    async fn listen() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (listener, url)
    }

    /// A server on 127.0.0.1 that reads one request's head and hands the socket to `then`.
    async fn raw_server<F, Fut>(then: F) -> String
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let (listener, url) = listen().await;
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    return;
                }
                head.extend_from_slice(&buf[..n]);
            }
            then(socket).await;
        });
        url
    }

    #[tokio::test]
    async fn a_call_round_trips_status_headers_and_body() {
        let app = Router::new().route(
            "/echo",
            post(|headers: HeaderMap, body: String| async move {
                let test = headers
                    .get("x-test")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("missing")
                    .to_owned();
                (
                    StatusCode::CREATED,
                    [("x-echo", test), ("x-multi", "b".to_owned())],
                    body.to_uppercase(),
                )
            }),
        );
        let (listener, url) = listen().await;
        tokio::spawn(async move { axum::serve(listener, app).await });

        let connector = connector(Some(READ_TIMEOUT));
        for _ in 0..2 {
            let response = connector
                .call(request("POST", &format!("{url}/echo"), b"hello"))
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 201);
            assert_eq!(response.headers().get("x-echo"), Some("ping"));
            assert_eq!(response.headers().get("x-multi"), Some("b"));
            assert_eq!(body_of(response).await.unwrap(), b"HELLO");
        }
    }

    #[tokio::test]
    async fn connectors_share_one_pool_per_connect_timeout() {
        let client = client();
        let timeouts = |connect: u64, read: Option<u64>| Timeouts {
            connect: Some(Duration::from_secs(connect)),
            read: read.map(Duration::from_secs),
        };
        client.connector(timeouts(3, None));
        client.connector(timeouts(3, None));
        client.connector(timeouts(3, Some(5)));
        client.connector(timeouts(4, None));
        let built = client.built.read().unwrap();
        assert_eq!(built.connectors.len(), 3);
        assert_eq!(built.clients.len(), 2);
    }

    /// A server that answers one request with `bytes` and closes the connection.
    async fn answering(bytes: &'static [u8]) -> String {
        raw_server(move |mut socket| async move {
            let _ = socket.write_all(bytes).await;
        })
        .await
    }

    /// A server that takes one connection and neither reads nor writes for 10 s.
    async fn silent() -> String {
        let (listener, url) = listen().await;
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(socket);
        });
        url
    }

    async fn failed_get(url: &str, read_timeout: Option<Duration>) -> ConnectorError {
        connector(read_timeout)
            .call(request("GET", url, b""))
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn no_answer_within_the_read_timeout_is_a_timeout() {
        let error = failed_get(&silent().await, Some(READ_TIMEOUT)).await;
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn a_tls_handshake_that_stalls_is_a_connect_timeout() {
        let url = silent().await.replace("http://", "https://");
        let error = client()
            .connector(Timeouts {
                connect: Some(READ_TIMEOUT),
                read: None,
            })
            .call(request("GET", &url, b""))
            .await
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_io() {
        let (listener, url) = listen().await;
        drop(listener);
        let error = failed_get(&url, Some(READ_TIMEOUT)).await;
        assert!(error.is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_mid_answer_is_io() {
        let cut = answering(b"HTTP/1.1 200 OK\r\nContent-Le").await;
        let error = failed_get(&cut, Some(READ_TIMEOUT)).await;
        assert!(error.is_io(), "{error:?}");

        let closed = answering(b"").await;
        let error = failed_get(&closed, None).await;
        assert!(error.is_io(), "{error:?}");
    }

    #[tokio::test]
    async fn a_body_cut_short_fails_its_read() {
        let url = answering(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\"").await;
        let response = connector(Some(READ_TIMEOUT))
            .call(request("GET", &url, b""))
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert!(body_of(response).await.is_err());
    }

    #[tokio::test]
    async fn an_answer_that_is_not_http_is_an_error() {
        let url = answering(b"SSH-2.0-OpenSSH\r\n\r\n\xff\xfe").await;
        let error = failed_get(&url, Some(READ_TIMEOUT)).await;
        assert!(!error.is_timeout(), "{error:?}");
    }

    /// Through an SDK client as the sinks build theirs: the configuration's read timeout
    /// reaches the connector, and its failures arrive as dispatch failures the dispatcher
    /// classifies.
    #[tokio::test]
    async fn sdk_clients_see_timeouts_and_lost_connections() {
        let sns = |url: String| async move {
            let config = crate::sink::aws::sdk_config_loader()
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
                .endpoint_url(url)
                .timeout_config(TimeoutConfig::builder().read_timeout(READ_TIMEOUT).build())
                .load()
                .await;
            aws_sdk_sns::Client::new(&config)
                .publish()
                .topic_arn("arn:aws:sns:us-east-1:123456789012:t")
                .message("m")
                .send()
                .await
                .unwrap_err()
        };
        match sns(silent().await).await {
            SdkError::DispatchFailure(f) => assert!(f.is_timeout(), "{f:?}"),
            other => panic!("{other:?}"),
        }
        match sns(answering(b"").await).await {
            SdkError::DispatchFailure(f) => assert!(f.is_io(), "{f:?}"),
            other => panic!("{other:?}"),
        }
    }
}
