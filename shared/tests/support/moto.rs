//! moto for the tests: the server named by `MOTO_URL` (the Makefile starts one for the whole
//! run), or one spawned here on a free port, shared by the tests of this process while any of
//! them holds it, and killed when the last one drops it.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A moto server the test may use while it holds this.
#[derive(Debug, Clone)]
pub struct Moto {
    pub url: String,
    _process: Option<Arc<Process>>,
}

#[derive(Debug)]
struct Process {
    child: Mutex<Child>,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(mut child) = self.child.lock() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

static SHARED: Mutex<Weak<Process>> = Mutex::new(Weak::new());

/// The moto server for this test; panics (failing the test) when none can be started.
pub fn moto() -> Moto {
    if let Ok(url) = std::env::var("MOTO_URL")
        && !url.is_empty()
    {
        return Moto {
            url: url.trim_end_matches('/').to_owned(),
            _process: None,
        };
    }
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = shared.upgrade() {
        return Moto {
            url: p.url.clone(),
            _process: Some(p),
        };
    }
    let p = Arc::new(spawn());
    *shared = Arc::downgrade(&p);
    Moto {
        url: p.url.clone(),
        _process: Some(p),
    }
}

#[allow(clippy::expect_used, clippy::panic)]
fn spawn() -> Process {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    // moto's recorder writes its file in the working directory unless told otherwise.
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("MOTO_RECORDER_FILEPATH", dir.path().join("moto_recording"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server on PATH (pip install \"moto[server]\"), or MOTO_URL set");
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("moto_server exited at start: {status}");
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("moto_server did not listen on port {port} within 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Process {
        child: Mutex::new(child),
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// An answer from moto: status, headers (names in lowercase) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An unsigned HTTP/1.0 request, so answers are never chunked. moto does not check signatures but
/// picks the service from the credential scope of the Authorization header. Returns status and body.
pub async fn http(
    base: &str,
    method: &str,
    path: &str,
    signing_name: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let answer = request(base, method, path, signing_name, &[], body).await;
    (answer.status, answer.body)
}

/// [`http`] with more headers (`content-type` replaces the default `application/json`).
#[allow(clippy::expect_used)]
pub async fn request(
    base: &str,
    method: &str,
    path: &str,
    signing_name: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let host = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("connect to moto");
    let auth = signing_name.map_or_else(String::new, |s| {
        format!(
            "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/{s}/aws4_request, SignedHeaders=host, Signature=0\r\n"
        )
    });
    let mut extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        extra.push_str("Content-Type: application/json\r\n");
    }
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\n{auth}{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Creates an S3 bucket in moto (path style, as the routing table is read from moto).
pub async fn create_bucket(base: &str, bucket: &str) {
    let answer = request(base, "PUT", &format!("/{bucket}"), Some("s3"), &[], b"").await;
    assert_eq!(answer.status, 200, "CreateBucket {bucket}: {}", answer.body);
}

/// Puts an S3 object (`key` of unreserved characters and `/`) and returns its ETag without quotes.
#[allow(clippy::expect_used)]
pub async fn put_object(base: &str, bucket: &str, key: &str, body: &[u8]) -> String {
    let answer = request(
        base,
        "PUT",
        &format!("/{bucket}/{key}"),
        Some("s3"),
        &[],
        body,
    )
    .await;
    assert_eq!(
        answer.status, 200,
        "PutObject {bucket}/{key}: {}",
        answer.body
    );
    answer
        .header("etag")
        .map(|etag| etag.trim_matches('"').to_owned())
        .expect("PutObject answers with an ETag")
}

/// Creates a Secrets Manager secret holding `text` (awsJson1.1 `CreateSecret`).
pub async fn create_secret(base: &str, name: &str, text: &str) {
    let body = serde_json::json!({ "Name": name, "SecretString": text }).to_string();
    let answer = request(
        base,
        "POST",
        "/",
        Some("secretsmanager"),
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "secretsmanager.CreateSecret"),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 200, "CreateSecret {name}: {}", answer.body);
}

/// Creates a thing in moto's IoT registry (shadows need one), through the control-plane REST API.
pub async fn create_thing(base: &str, name: &str) {
    let (status, body) = http(base, "POST", &format!("/things/{name}"), Some("iot"), b"{}").await;
    assert_eq!(status, 200, "CreateThing {name}: {body}");
}

/// A thing's shadow document, classic or named `shadow` (unreserved characters), read through
/// the IoT data plane's REST API (`GET /things/{thing}/shadow?name=`, `GetThingShadow`).
#[allow(clippy::expect_used)]
pub async fn get_shadow(base: &str, thing: &str, shadow: Option<&str>) -> serde_json::Value {
    let query = shadow.map_or_else(String::new, |name| format!("?name={name}"));
    let path = format!("/things/{thing}/shadow{query}");
    let (status, body) = http(base, "GET", &path, Some("iotdata"), b"").await;
    assert_eq!(status, 200, "GetThingShadow {path}: {body}");
    serde_json::from_str(&body).expect("GetThingShadow answers with the document")
}

/// Turns moto's request recorder on (idempotent; safe when tests share the server).
pub async fn start_recording(base: &str) {
    let (status, body) = http(
        base,
        "POST",
        "/moto-api/recorder/start-recording",
        None,
        b"",
    )
    .await;
    assert_eq!(status, 200, "start-recording: {body}");
}

/// Every request moto recorded since recording started, one JSON object each.
pub async fn recording(base: &str) -> Vec<serde_json::Value> {
    let (status, body) = http(
        base,
        "GET",
        "/moto-api/recorder/download-recording",
        None,
        b"",
    )
    .await;
    assert_eq!(status, 200, "download-recording: {body}");
    // The body may be chunked-free text of JSON lines; skip what is not JSON.
    body.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
