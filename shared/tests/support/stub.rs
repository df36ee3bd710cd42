//! A wire-level stub of IoT Analytics (`POST /messages/batch`), IoT Events Data
//! (`POST /inputs/messages`) and IoT Core Publish (`POST /topics/{topic}`): it parses the
//! REST-JSON request the SDK sends, checks it as the service would (documented limits), records
//! what it accepted, and fails on request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use regex::Regex;
use serde_json::{Value, json};

/// IoT Analytics: 100 messages per BatchPutMessage.
pub const ANALYTICS_MAX_MESSAGES: usize = 100;
/// IoT Events Data: 10 messages and 1 KiB of payload per BatchPutMessage.
pub const EVENTS_MAX_MESSAGES: usize = 10;
pub const EVENTS_MAX_PAYLOAD_BYTES: usize = 1024;

/// One accepted message.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// Channel (Analytics) or input (Events).
    pub destination: String,
    pub message_id: String,
    pub payload: Vec<u8>,
    pub timestamp: Option<i64>,
}

/// One IoT Core Publish request as it arrived: path and query as sent (still encoded), headers
/// (names in lower case) and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub topic: String,
    pub path_and_query: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

/// One call as the stub saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: &'static str,
    pub message_ids: Vec<String>,
    pub payload_bytes: usize,
}

#[derive(Debug, Default)]
pub struct Behaviour {
    /// Random faults, drawn per call (per entry for `entry_error_rate`) from a generator seeded
    /// with `seed`, so a failing run can be replayed.
    pub random: RandomFaults,
    /// Answer HTTP 429 ThrottlingException to this many calls first.
    pub throttle_first: usize,
    /// Answer HTTP 500 InternalFailureException to this many calls first.
    pub fail_first: usize,
    /// Per messageId: the error code to report and for how many attempts of that id.
    pub entry_errors: HashMap<String, (String, usize)>,
    /// Answer this whole-call error (status, code) to every call for this channel/input name.
    pub call_errors: HashMap<String, (u16, String)>,
}

/// Fractions of calls answered 429 ThrottlingException, 500 InternalFailureException, or dropped
/// without an answer (the connection closes: the client sees a reset), fraction of entries
/// failed with InternalFailureException, and a delay before every answer.
#[derive(Debug, Default, Clone)]
pub struct RandomFaults {
    pub throttle_rate: f64,
    pub error_rate: f64,
    pub reset_rate: f64,
    pub entry_error_rate: f64,
    pub delay: std::time::Duration,
    pub seed: u64,
}

#[derive(Debug, Default)]
pub struct StubState {
    pub behaviour: Behaviour,
    /// Calls answered with an injected fault, by kind.
    pub injected: HashMap<&'static str, usize>,
    rng: Option<fastrand::Rng>,
    pub calls: Vec<Seen>,
    pub accepted: Vec<Accepted>,
    /// IoT Core publishes, answered or not.
    pub published: Vec<Published>,
    /// Requests that broke a documented rule: a correct sink never causes one.
    pub violations: Vec<String>,
}

/// The running stub; stops when dropped.
#[derive(Debug)]
pub struct Stub {
    pub url: String,
    pub state: Arc<Mutex<StubState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Stub {
    #[allow(clippy::expect_used)]
    pub async fn start(behaviour: Behaviour) -> Stub {
        let state = Arc::new(Mutex::new(StubState {
            behaviour,
            ..StubState::default()
        }));
        let app = Router::new()
            .route("/messages/batch", post(analytics))
            .route("/inputs/messages", post(events))
            .route("/topics/{*topic}", post(publish))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub { url, state, task }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut StubState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }
}

type Shared = State<Arc<Mutex<StubState>>>;

fn error(status: u16, code: &str, message: &str) -> Response {
    let mut headers = HeaderMap::new();
    // restJson1: the SDK reads the error code from this header (or `__type` in the body).
    if let Ok(v) = HeaderValue::from_str(code) {
        headers.insert("x-amzn-errortype", v);
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        headers,
        Json(json!({"message": message})),
    )
        .into_response()
}

/// Whole-call failures the test asked for, in order: named-destination errors (the channel,
/// input or MQTT topic), throttling, 5xx.
fn scripted_failure(state: &mut StubState, name: &str) -> Option<Response> {
    if let Some((status, code)) = state.behaviour.call_errors.get(name) {
        return Some(error(*status, code, &format!("scripted {code} for {name}")));
    }
    if state.behaviour.throttle_first > 0 {
        state.behaviour.throttle_first -= 1;
        return Some(error(429, "ThrottlingException", "Rate exceeded"));
    }
    if state.behaviour.fail_first > 0 {
        state.behaviour.fail_first -= 1;
        return Some(error(500, "InternalFailureException", "scripted failure"));
    }
    None
}

impl StubState {
    fn roll(&mut self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let seed = self.behaviour.random.seed;
        self.rng
            .get_or_insert_with(|| fastrand::Rng::with_seed(seed))
            .f64()
            < rate
    }
}

/// Random whole-call faults, decided before the request is read further. A reset unwinds the
/// connection's task without a panic message, so hyper closes the socket with no answer.
async fn random_fault(state: &Arc<Mutex<StubState>>) -> Option<Response> {
    let (delay, fault) = {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let faults = state.behaviour.random.clone();
        let fault = if state.roll(faults.reset_rate) {
            Some("reset")
        } else if state.roll(faults.throttle_rate) {
            Some("throttle")
        } else if state.roll(faults.error_rate) {
            Some("error")
        } else {
            None
        };
        if let Some(kind) = fault {
            *state.injected.entry(kind).or_default() += 1;
        }
        (faults.delay, fault)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some("reset") => std::panic::resume_unwind(Box::new("injected connection reset")),
        Some("throttle") => Some(error(
            429,
            "ThrottlingException",
            "Rate exceeded (injected)",
        )),
        Some(_) => Some(error(500, "InternalFailureException", "injected failure")),
        None => None,
    }
}

/// The scripted per-entry error for this messageId on this attempt, if any.
fn entry_error(state: &mut StubState, id: &str) -> Option<String> {
    let rate = state.behaviour.random.entry_error_rate;
    if state.roll(rate) {
        *state.injected.entry("entry").or_default() += 1;
        return Some("InternalFailureException".to_owned());
    }
    let (code, remaining) = state.behaviour.entry_errors.get_mut(id)?;
    if *remaining == 0 {
        return None;
    }
    *remaining -= 1;
    Some(code.clone())
}

struct Parsed {
    id: String,
    payload: Vec<u8>,
    timestamp: Option<i64>,
    input: Option<String>,
}

fn parse_messages(body: &Value) -> Result<Vec<Parsed>, String> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages is required")?;
    messages
        .iter()
        .map(|m| {
            let id = m
                .get("messageId")
                .and_then(Value::as_str)
                .ok_or("messageId is required")?;
            let payload = m
                .get("payload")
                .and_then(Value::as_str)
                .ok_or("payload is required")?;
            let payload = BASE64
                .decode(payload)
                .map_err(|_| "payload is not base64 (blobs travel as base64)".to_owned())?;
            Ok(Parsed {
                id: id.to_owned(),
                payload,
                timestamp: m
                    .get("timestamp")
                    .and_then(|t| t.get("timeInMillis"))
                    .and_then(Value::as_i64),
                input: m
                    .get("inputName")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

fn check_unique(messages: &[Parsed]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for m in messages {
        if !seen.insert(m.id.as_str()) {
            return Err(format!("messageId {} is not unique in the batch", m.id));
        }
    }
    Ok(())
}

/// IoT Analytics field-name rule, applied to every object key of a JSON payload.
fn check_field_names(value: &Value, rule: &Regex) -> Result<(), String> {
    match value {
        Value::Object(map) => {
            let mut lower = HashSet::new();
            for (k, v) in map {
                if !rule.is_match(k) || k.len() > 255 {
                    return Err(format!("invalid field name `{k}`"));
                }
                if !lower.insert(k.to_lowercase()) {
                    return Err(format!("duplicate field name `{k}` (case-insensitive)"));
                }
                check_field_names(v, rule)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_field_names(v, rule)),
        _ => Ok(()),
    }
}

fn violation(state: &mut StubState, what: String) -> Response {
    state.violations.push(what.clone());
    error(400, "InvalidRequestException", &what)
}

#[allow(clippy::expect_used)]
async fn analytics(State(state): Shared, Json(body): Json<Value>) -> Response {
    if let Some(r) = random_fault(&state).await {
        return r;
    }
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let channel = body
        .get("channelName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let channel_rule = Regex::new("^[a-zA-Z0-9_]+$").expect("regex");
    if channel.is_empty()
        || channel.len() > 128
        || !channel_rule.is_match(&channel)
        || channel.starts_with("__")
    {
        return violation(&mut state, format!("invalid channelName `{channel}`"));
    }
    let messages = match parse_messages(&body) {
        Ok(m) => m,
        Err(e) => return violation(&mut state, e),
    };
    if messages.is_empty() || messages.len() > ANALYTICS_MAX_MESSAGES {
        return violation(&mut state, format!("{} messages (1..=100)", messages.len()));
    }
    if let Err(e) = check_unique(&messages) {
        return violation(&mut state, e);
    }
    let field_rule =
        Regex::new("^[A-Za-z_]([A-Za-z0-9]*|[A-Za-z0-9][A-Za-z0-9_]*)$").expect("regex");
    for m in &messages {
        if m.id.is_empty() || m.id.len() > 128 {
            return violation(&mut state, format!("messageId length {}", m.id.len()));
        }
        if let Ok(json) = serde_json::from_slice::<Value>(&m.payload)
            && let Err(e) = check_field_names(&json, &field_rule)
        {
            return violation(&mut state, e);
        }
    }
    state.calls.push(Seen {
        path: "/messages/batch",
        message_ids: messages.iter().map(|m| m.id.clone()).collect(),
        payload_bytes: messages.iter().map(|m| m.payload.len()).sum(),
    });
    if let Some(r) = scripted_failure(&mut state, &channel) {
        return r;
    }
    let mut errors = Vec::new();
    for m in messages {
        match entry_error(&mut state, &m.id) {
            Some(code) => errors.push(json!({
                "messageId": m.id, "errorCode": code, "errorMessage": format!("scripted {code}")
            })),
            None => state.accepted.push(Accepted {
                destination: channel.clone(),
                message_id: m.id,
                payload: m.payload,
                timestamp: None,
            }),
        }
    }
    Json(json!({"batchPutMessageErrorEntries": errors})).into_response()
}

#[allow(clippy::expect_used)]
async fn events(State(state): Shared, Json(body): Json<Value>) -> Response {
    if let Some(r) = random_fault(&state).await {
        return r;
    }
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let messages = match parse_messages(&body) {
        Ok(m) => m,
        Err(e) => return violation(&mut state, e),
    };
    if messages.is_empty() || messages.len() > EVENTS_MAX_MESSAGES {
        return violation(&mut state, format!("{} messages (1..=10)", messages.len()));
    }
    let bytes: usize = messages.iter().map(|m| m.payload.len()).sum();
    if bytes > EVENTS_MAX_PAYLOAD_BYTES {
        return violation(&mut state, format!("{bytes} payload bytes (≤1024)"));
    }
    if let Err(e) = check_unique(&messages) {
        return violation(&mut state, e);
    }
    let id_rule = Regex::new("^[a-zA-Z0-9_-]+$").expect("regex");
    let input_rule = Regex::new("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$").expect("regex");
    for m in &messages {
        if m.id.len() > 64 || !id_rule.is_match(&m.id) {
            return violation(&mut state, format!("invalid messageId `{}`", m.id));
        }
        let input = m.input.as_deref().unwrap_or_default();
        if input.len() > 128 || !input_rule.is_match(input) {
            return violation(&mut state, format!("invalid inputName `{input}`"));
        }
        if m.timestamp.is_some_and(|t| t < 1) {
            return violation(&mut state, "timeInMillis < 1".to_owned());
        }
    }
    state.calls.push(Seen {
        path: "/inputs/messages",
        message_ids: messages.iter().map(|m| m.id.clone()).collect(),
        payload_bytes: bytes,
    });
    let name = messages
        .first()
        .and_then(|m| m.input.clone())
        .unwrap_or_default();
    if let Some(r) = scripted_failure(&mut state, &name) {
        return r;
    }
    let mut errors = Vec::new();
    for m in messages {
        match entry_error(&mut state, &m.id) {
            Some(code) => errors.push(json!({
                "messageId": m.id, "errorCode": code, "errorMessage": format!("scripted {code}")
            })),
            None => state.accepted.push(Accepted {
                destination: m.input.unwrap_or_default(),
                message_id: m.id,
                payload: m.payload,
                timestamp: m.timestamp,
            }),
        }
    }
    Json(json!({"BatchPutMessageErrorEntries": errors})).into_response()
}

/// IoT Core Publish: one message per call, the topic in the path (≤256 bytes, no wildcards), the
/// payload as the body (≤128 KiB), answered `{}`.
async fn publish(
    State(state): Shared,
    Path(topic): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = random_fault(&state).await {
        return r;
    }
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    if topic.is_empty() || topic.len() > 256 || topic.contains(['+', '#']) {
        return violation(&mut state, format!("invalid topic `{topic}`"));
    }
    if body.len() > 131_072 {
        return violation(
            &mut state,
            format!("{} payload bytes (≤128 KiB)", body.len()),
        );
    }
    if !headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("AWS4-HMAC-SHA256 Credential="))
    {
        return violation(&mut state, "an unsigned request".to_owned());
    }
    state.calls.push(Seen {
        path: "/topics",
        message_ids: Vec::new(),
        payload_bytes: body.len(),
    });
    state.published.push(Published {
        topic: topic.clone(),
        path_and_query: uri
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: body.to_vec(),
    });
    if let Some(r) = scripted_failure(&mut state, &topic) {
        return r;
    }
    Json(json!({})).into_response()
}
