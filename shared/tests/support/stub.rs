//! A wire-level stub of IoT Analytics (`POST /messages/batch`), IoT Events Data
//! (`POST /inputs/messages`), IoT Core Publish (`POST /topics/{topic}`), and of the JSON-protocol
//! calls of the live destinations (`POST /` with `X-Amz-Target`: Firehose PutRecordBatch, Kinesis
//! PutRecords, EventBridge PutEvents, SQS SendMessageBatch): it parses the request the sink sends,
//! checks it as the service would (documented limits), records what it accepted, and fails on
//! request, per call or per entry.

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
/// Firehose PutRecordBatch: 500 records, 1,000 KiB each, 4 MiB per call.
pub const FIREHOSE_MAX_RECORDS: usize = 500;
pub const FIREHOSE_MAX_RECORD_BYTES: usize = 1_024_000;
pub const FIREHOSE_MAX_CALL_BYTES: usize = 4 * 1024 * 1024;
/// Kinesis PutRecords: 500 records, 1 MiB each (a stream's default), 10 MiB per call with keys.
pub const KINESIS_MAX_RECORDS: usize = 500;
pub const KINESIS_MAX_RECORD_BYTES: usize = 1024 * 1024;
pub const KINESIS_MAX_CALL_BYTES: usize = 10 * 1024 * 1024;
/// EventBridge PutEvents: 10 entries, under 1 MiB in total as EventBridge counts entry sizes.
pub const EVENTBRIDGE_MAX_ENTRIES: usize = 10;
pub const EVENTBRIDGE_MAX_CALL_BYTES: usize = 1024 * 1024 - 1;
/// SQS SendMessageBatch: 10 entries; the queue's maximum message size bounds each message and the
/// batch. The stub's queues keep 256 KiB (what a target assumes unless told more).
pub const SQS_MAX_ENTRIES: usize = 10;
pub const SQS_MAX_MESSAGE_BYTES: usize = 262_144;

/// One accepted message.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// Channel (Analytics), input (Events), delivery stream, stream, event bus or queue URL.
    pub destination: String,
    /// What names the message downstream: the messageId (Analytics, Events), the partition key
    /// (Kinesis), the envelope `id` of the Detail (EventBridge), and for Firehose records and
    /// SQS bodies the payload as compact JSON (see [`record_key`]).
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
    /// The REST path, or the JSON-protocol operation (`PutRecordBatch`, `PutRecords`, `PutEvents`,
    /// `SendMessageBatch`).
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
    /// Per messageId (or [`Accepted::message_id`] for the live destinations): the error code to
    /// report and for how many attempts of that id. An SQS code is a sender fault unless it
    /// names a service-side error (`InternalError`, `ServiceUnavailable`).
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
            .route("/", post(json_protocol))
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

/// The scripted per-entry error for this messageId on this attempt, if any; a random one is
/// `random_code`, the service's retryable per-entry code.
fn entry_error(state: &mut StubState, id: &str, random_code: &str) -> Option<String> {
    let rate = state.behaviour.random.entry_error_rate;
    if state.roll(rate) {
        *state.injected.entry("entry").or_default() += 1;
        return Some(random_code.to_owned());
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
        match entry_error(&mut state, &m.id, "InternalFailureException") {
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
        match entry_error(&mut state, &m.id, "InternalFailureException") {
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

// ------------------------------------------------------------ JSON-protocol APIs (POST /)

/// The key a record without an id is recorded under: its bytes as compact JSON when they parse
/// (so `{"v": 1}\n` and `{"v":1}` agree), else as lossy text.
pub fn record_key(data: &[u8]) -> String {
    serde_json::from_slice::<Value>(data)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| String::from_utf8_lossy(data).into_owned())
}

fn field<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

fn list<'a>(body: &'a Value, name: &str) -> &'a [Value] {
    body.get(name)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn blob(v: &Value, name: &str) -> Result<Vec<u8>, String> {
    let text = field(v, name).ok_or_else(|| format!("{name} is required"))?;
    BASE64
        .decode(text)
        .map_err(|_| format!("{name} is not base64 (blobs travel as base64)"))
}

/// `POST /`: the awsJson protocols name the operation in `X-Amz-Target` (`Service.Operation`).
async fn json_protocol(
    State(state): Shared,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = random_fault(&state).await {
        return r;
    }
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let operation = target.rsplit('.').next().unwrap_or_default();
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return violation(&mut state, format!("{target}: body is not JSON: {e}")),
    };
    let result = match operation {
        "PutRecordBatch" => firehose(&mut state, &body),
        "PutRecords" => kinesis(&mut state, &body),
        "PutEvents" => eventbridge(&mut state, &body),
        "SendMessageBatch" => sqs(&mut state, &body),
        _ => Err(format!("unknown operation `{target}`")),
    };
    match result {
        Ok(response) => response,
        Err(e) => violation(&mut state, e),
    }
}

/// Records a call, then answers a scripted whole-call failure for `name`, if any.
fn seen(
    state: &mut StubState,
    path: &'static str,
    ids: Vec<String>,
    bytes: usize,
    name: &str,
) -> Option<Response> {
    state.calls.push(Seen {
        path,
        message_ids: ids,
        payload_bytes: bytes,
    });
    scripted_failure(state, name)
}

fn firehose(state: &mut StubState, body: &Value) -> Result<Response, String> {
    let name = field(body, "DeliveryStreamName")
        .unwrap_or_default()
        .to_owned();
    let name_rule = Regex::new("^[a-zA-Z0-9_.-]{1,64}$").map_err(|e| e.to_string())?;
    if !name_rule.is_match(&name) {
        return Err(format!("invalid DeliveryStreamName `{name}`"));
    }
    let records = list(body, "Records")
        .iter()
        .map(|r| blob(r, "Data"))
        .collect::<Result<Vec<_>, _>>()?;
    if records.is_empty() || records.len() > FIREHOSE_MAX_RECORDS {
        return Err(format!("{} records (1..=500)", records.len()));
    }
    if let Some(big) = records.iter().find(|r| r.len() > FIREHOSE_MAX_RECORD_BYTES) {
        return Err(format!("a record of {} bytes (≤1,024,000)", big.len()));
    }
    let bytes: usize = records.iter().map(Vec::len).sum();
    if bytes > FIREHOSE_MAX_CALL_BYTES {
        return Err(format!("{bytes} bytes in one PutRecordBatch (≤4 MiB)"));
    }
    let keys: Vec<String> = records.iter().map(|r| record_key(r)).collect();
    if let Some(r) = seen(state, "PutRecordBatch", keys.clone(), bytes, &name) {
        return Ok(r);
    }
    let mut failed = 0;
    let mut responses = Vec::new();
    for (data, key) in records.into_iter().zip(keys) {
        match entry_error(state, &key, "ServiceUnavailableException") {
            Some(code) => {
                failed += 1;
                responses
                    .push(json!({"ErrorCode": code, "ErrorMessage": format!("scripted {code}")}));
            }
            None => {
                responses.push(json!({"RecordId": format!("record-{}", state.accepted.len())}));
                state.accepted.push(Accepted {
                    destination: name.clone(),
                    message_id: key,
                    payload: data,
                    timestamp: None,
                });
            }
        }
    }
    Ok(
        Json(json!({"FailedPutCount": failed, "Encrypted": false, "RequestResponses": responses}))
            .into_response(),
    )
}

fn kinesis(state: &mut StubState, body: &Value) -> Result<Response, String> {
    let stream = field(body, "StreamName")
        .or_else(|| field(body, "StreamARN"))
        .ok_or("StreamName or StreamARN is required")?
        .to_owned();
    let mut records = Vec::new();
    for r in list(body, "Records") {
        let key = field(r, "PartitionKey")
            .ok_or("PartitionKey is required")?
            .to_owned();
        let chars = key.chars().count();
        if chars == 0 || chars > 256 {
            return Err(format!("PartitionKey of {chars} characters (1..=256)"));
        }
        if let Some(hash) = field(r, "ExplicitHashKey")
            && (hash.parse::<u128>().is_err() || (hash.len() > 1 && hash.starts_with('0')))
        {
            return Err(format!("invalid ExplicitHashKey `{hash}`"));
        }
        records.push((key, blob(r, "Data")?));
    }
    if records.is_empty() || records.len() > KINESIS_MAX_RECORDS {
        return Err(format!("{} records (1..=500)", records.len()));
    }
    let sizes: Vec<usize> = records.iter().map(|(k, d)| k.len() + d.len()).collect();
    if let Some(big) = sizes.iter().find(|&&n| n > KINESIS_MAX_RECORD_BYTES) {
        return Err(format!("a record of {big} bytes with its key (≤1 MiB)"));
    }
    let bytes: usize = sizes.iter().sum();
    if bytes > KINESIS_MAX_CALL_BYTES {
        return Err(format!("{bytes} bytes in one PutRecords (≤10 MiB)"));
    }
    let keys = records.iter().map(|(k, _)| k.clone()).collect();
    if let Some(r) = seen(state, "PutRecords", keys, bytes, &stream) {
        return Ok(r);
    }
    let mut failed = 0;
    let mut answers = Vec::new();
    for (key, data) in records {
        match entry_error(state, &key, "ProvisionedThroughputExceededException") {
            Some(code) => {
                failed += 1;
                answers
                    .push(json!({"ErrorCode": code, "ErrorMessage": format!("scripted {code}")}));
            }
            None => {
                answers.push(json!({"SequenceNumber": format!("{:056}", state.accepted.len()), "ShardId": "shardId-000000000000"}));
                state.accepted.push(Accepted {
                    destination: stream.clone(),
                    message_id: key,
                    payload: data,
                    timestamp: None,
                });
            }
        }
    }
    Ok(Json(json!({"FailedRecordCount": failed, "Records": answers})).into_response())
}

fn eventbridge(state: &mut StubState, body: &Value) -> Result<Response, String> {
    let entries = list(body, "Entries");
    if entries.is_empty() || entries.len() > EVENTBRIDGE_MAX_ENTRIES {
        return Err(format!("{} entries (1..=10)", entries.len()));
    }
    let mut parsed = Vec::new();
    let mut bytes = 0;
    for e in entries {
        let (Some(source), Some(detail_type), Some(detail)) = (
            field(e, "Source"),
            field(e, "DetailType"),
            field(e, "Detail"),
        ) else {
            return Err("Source, DetailType and Detail are required".to_owned());
        };
        if source.starts_with("aws.") {
            return Err(format!("Source `{source}` is reserved"));
        }
        let object: Value =
            serde_json::from_str(detail).map_err(|e| format!("Detail is not JSON: {e}"))?;
        if !object.is_object() {
            return Err("Detail is not a JSON object".to_owned());
        }
        // The entry size as EventBridge computes it.
        let resources: usize = list(e, "Resources")
            .iter()
            .filter_map(Value::as_str)
            .map(str::len)
            .sum();
        let time = if e.get("Time").is_some() { 14 } else { 0 };
        bytes += time + source.len() + detail_type.len() + detail.len() + resources;
        let bus = field(e, "EventBusName").unwrap_or("default").to_owned();
        let key = field(&object, "id").map_or_else(|| object.to_string(), str::to_owned);
        parsed.push((
            bus,
            key,
            detail.as_bytes().to_vec(),
            e.get("Time").and_then(Value::as_f64),
        ));
    }
    if bytes > EVENTBRIDGE_MAX_CALL_BYTES {
        return Err(format!(
            "{bytes} bytes of entries in one PutEvents (under 1 MiB)"
        ));
    }
    let ids = parsed.iter().map(|(_, k, _, _)| k.clone()).collect();
    let bus = parsed.first().map(|(b, ..)| b.clone()).unwrap_or_default();
    if let Some(r) = seen(state, "PutEvents", ids, bytes, &bus) {
        return Ok(r);
    }
    let mut failed = 0;
    let mut answers = Vec::new();
    for (bus, key, detail, time) in parsed {
        match entry_error(state, &key, "InternalFailure") {
            Some(code) => {
                failed += 1;
                answers
                    .push(json!({"ErrorCode": code, "ErrorMessage": format!("scripted {code}")}));
            }
            None => {
                answers.push(json!({"EventId": format!("event-{}", state.accepted.len())}));
                state.accepted.push(Accepted {
                    destination: bus,
                    message_id: key,
                    payload: detail,
                    // Time travels as epoch seconds.
                    timestamp: time.map(|t| (t * 1000.0).round() as i64),
                });
            }
        }
    }
    Ok(Json(json!({"FailedEntryCount": failed, "Entries": answers})).into_response())
}

fn sqs(state: &mut StubState, body: &Value) -> Result<Response, String> {
    let url = field(body, "QueueUrl")
        .ok_or("QueueUrl is required")?
        .to_owned();
    let fifo = url.ends_with(".fifo");
    let entries = list(body, "Entries");
    if entries.is_empty() || entries.len() > SQS_MAX_ENTRIES {
        return Err(format!("{} entries (1..=10)", entries.len()));
    }
    let id_rule = Regex::new("^[A-Za-z0-9_-]{1,80}$").map_err(|e| e.to_string())?;
    let mut ids = HashSet::new();
    let mut parsed = Vec::new();
    let mut total = 0;
    for e in entries {
        let id = field(e, "Id").ok_or("Id is required")?;
        if !id_rule.is_match(id) || !ids.insert(id) {
            return Err(format!("Id `{id}` is invalid or not unique in the batch"));
        }
        let message = field(e, "MessageBody").ok_or("MessageBody is required")?;
        if message.is_empty() {
            return Err("an empty MessageBody".to_owned());
        }
        let attributes = e.get("MessageAttributes").and_then(Value::as_object);
        let attribute_bytes: usize = attributes.map_or(0, |m| {
            m.iter()
                .map(|(name, v)| {
                    name.len()
                        + field(v, "DataType").map_or(0, str::len)
                        + field(v, "StringValue").map_or(0, str::len)
                        + field(v, "BinaryValue")
                            .map_or(0, |b| BASE64.decode(b).map_or(0, |d| d.len()))
                })
                .sum()
        });
        let size = message.len() + attribute_bytes;
        if size > SQS_MAX_MESSAGE_BYTES {
            return Err(format!("a message of {size} bytes (≤ the queue's 262,144)"));
        }
        total += size;
        if fifo
            && (field(e, "MessageGroupId").is_none()
                || field(e, "MessageDeduplicationId").is_none())
        {
            return Err("a FIFO entry without MessageGroupId or MessageDeduplicationId".to_owned());
        }
        if fifo && e.get("DelaySeconds").is_some() {
            return Err("DelaySeconds on a FIFO entry".to_owned());
        }
        parsed.push((
            id.to_owned(),
            record_key(message.as_bytes()),
            message.as_bytes().to_vec(),
        ));
    }
    if total > SQS_MAX_MESSAGE_BYTES {
        return Err(format!(
            "{total} bytes in one SendMessageBatch (≤ the queue's 262,144)"
        ));
    }
    let keys = parsed.iter().map(|(_, k, _)| k.clone()).collect();
    if let Some(r) = seen(state, "SendMessageBatch", keys, total, &url) {
        return Ok(r);
    }
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    for (id, key, body) in parsed {
        match entry_error(state, &key, "InternalError") {
            Some(code) => {
                let sender_fault = !matches!(code.as_str(), "InternalError" | "ServiceUnavailable");
                failed.push(json!({"Id": id, "SenderFault": sender_fault, "Code": code, "Message": format!("scripted {code}")}));
            }
            None => {
                successful.push(json!({"Id": id, "MessageId": format!("msg-{}", state.accepted.len()), "MD5OfMessageBody": "00000000000000000000000000000000"}));
                state.accepted.push(Accepted {
                    destination: url.clone(),
                    message_id: key,
                    payload: body,
                    timestamp: None,
                });
            }
        }
    }
    Ok(Json(json!({"Successful": successful, "Failed": failed})).into_response())
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
