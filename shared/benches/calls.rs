//! CPU per downstream call: N IoT Core Publish calls (one 1 KiB message each), N SNS
//! PublishBatch calls (10 × 1 KiB), N Data Firehose PutRecordBatch calls (500 × 1 KiB, the
//! awsJson protocol of Firehose, Kinesis, EventBridge and SQS) and N IoT Analytics
//! BatchPutMessage calls (100 × 1 KiB, the restJson protocol of IoT Analytics and IoT Events),
//! sent through the AWS sinks as the functions build them, 16 in
//! flight, to a local HTTP stub in a child process (this bench again, with `FANOUT_BENCH_STUB` set),
//! so the CPU counted is the sender's alone: every thread of this process, from
//! `/proc/self/task/*/schedstat`. Prints a table; `cargo bench -p fanout --bench calls`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::Region;
use aws_sdk_sns::config::Credentials;
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use fanout::destination::{Destination, EntryParams, FirehoseParams, PublishParams, SnsParams};
use fanout::sink::{Call, Entry, Sink};
use futures::StreamExt as _;

/// Set in the child process that serves the stub.
const STUB_MODE: &str = "FANOUT_BENCH_STUB";
/// Calls in flight, as `FANOUT_CONCURRENCY` defaults to.
const IN_FLIGHT: usize = 16;
const ROUNDS: usize = 5;

/// On-CPU time of every thread of this process so far.
fn process_cpu() -> Duration {
    let mut nanos = 0u64;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten() {
        let Ok(task) = task else { continue };
        if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
            nanos += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Duration::from_nanos(nanos)
}

// ---------------------------------------------------------------- the stub (child process)

async fn iot_publish() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], "{}")
}

/// IoT Analytics BatchPutMessage (restJson): no message refused. The body is read, so the
/// connection stays open for the next call.
async fn analytics(_body: Bytes) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"batchPutMessageErrorEntries":[]}"#,
    )
}

/// Data Firehose PutRecordBatch (awsJson 1.1): every record accepted, in request order.
fn firehose(body: &[u8]) -> axum::response::Response {
    let records = body.windows(7).filter(|w| w == b"\"Data\":").count();
    let answers: Vec<String> = (0..records)
        .map(|i| format!(r#"{{"RecordId":"{i:0>56}"}}"#))
        .collect();
    let json = format!(
        r#"{{"FailedPutCount":0,"Encrypted":false,"RequestResponses":[{}]}}"#,
        answers.join(",")
    );
    ([(header::CONTENT_TYPE, "application/x-amz-json-1.1")], json).into_response()
}

/// `POST /`: Firehose by its `X-Amz-Target`, SNS otherwise.
async fn root(headers: HeaderMap, body: Bytes) -> axum::response::Response {
    match headers.get("x-amz-target") {
        Some(target) if target.as_bytes().starts_with(b"Firehose_") => firehose(&body),
        _ => sns(&body),
    }
}

/// SNS PublishBatch (query protocol): every `PublishBatchRequestEntries.member.N.Id` succeeds.
fn sns(body: &[u8]) -> axum::response::Response {
    let text = String::from_utf8_lossy(body);
    let mut members = String::new();
    for pair in text.split('&') {
        if let Some((key, id)) = pair.split_once('=')
            && key.starts_with("PublishBatchRequestEntries.member.")
            && key.ends_with(".Id")
        {
            members.push_str(&format!(
                "<member><Id>{id}</Id><MessageId>00000000-0000-4000-8000-{id:0>12}</MessageId></member>"
            ));
        }
    }
    if members.is_empty() {
        return (StatusCode::BAD_REQUEST, "not a PublishBatch").into_response();
    }
    let xml = format!(
        r#"<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>{members}</Successful><Failed/></PublishBatchResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></PublishBatchResponse>"#
    );
    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

fn serve_stub() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/topics/{*topic}", post(iot_publish))
            .route("/messages/batch", post(analytics))
            .route("/", post(root));
        // Serves until the parent closes this process's stdin.
        let stop = tokio::task::spawn_blocking(|| {
            for _ in std::io::stdin().lock().lines().map_while(Result::ok) {}
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop.await;
            })
            .await
            .unwrap();
    });
}

struct StubProcess {
    child: Child,
    url: String,
}

impl StubProcess {
    fn start() -> StubProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(STUB_MODE, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        StubProcess {
            child,
            url: url.trim().to_owned(),
        }
    }
}

impl Drop for StubProcess {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- the calls

fn payload(i: usize) -> Arc<[u8]> {
    let head = format!(
        r#"{{"temp":{}.5,"humidity":{},"seq":{i},"pad":""#,
        20 + i % 70,
        40 + i % 20
    );
    let mut text = head.into_bytes();
    text.resize(1022, b'x');
    text.extend_from_slice(b"\"}");
    Arc::from(text)
}

fn entry(i: usize, params: EntryParams) -> Entry {
    let payload = payload(i);
    Entry {
        message: i,
        target: 0,
        id: format!("m-{i:06}"),
        size: payload.len(),
        payload: payload.into(),
        timestamp: None,
        params,
    }
}

fn publish_calls(n: usize) -> Vec<Call> {
    let params = EntryParams::Publish(Arc::new(PublishParams {
        qos: 1,
        ..PublishParams::default()
    }));
    (0..n)
        .map(|i| Call {
            destination: Destination::Mqtt {
                topic: format!("dashboards/plant1/line{}/sensor-{}", i % 8, i % 500),
            },
            entries: vec![entry(i, params.clone())],
        })
        .collect()
}

/// `n` calls to one destination, `per_call` entries each.
fn batch_calls(
    n: usize,
    per_call: usize,
    destination: &Destination,
    params: &EntryParams,
) -> Vec<Call> {
    (0..n)
        .map(|c| Call {
            destination: destination.clone(),
            entries: (0..per_call)
                .map(|i| entry(c * per_call + i, params.clone()))
                .collect(),
        })
        .collect()
}

fn sns_calls(n: usize) -> Vec<Call> {
    let topic_arn = "arn:aws:sns:us-east-1:123456789012:fanout-telemetry".into();
    let params = EntryParams::Sns(Arc::new(SnsParams::default()));
    batch_calls(n, 10, &Destination::Sns { topic_arn }, &params)
}

fn firehose_calls(n: usize) -> Vec<Call> {
    let delivery_stream = "fanout-telemetry".into();
    let params = EntryParams::Firehose(Arc::new(FirehoseParams::default()));
    batch_calls(n, 500, &Destination::Firehose { delivery_stream }, &params)
}

fn analytics_calls(n: usize) -> Vec<Call> {
    let channel = "fanout_telemetry".into();
    batch_calls(
        n,
        100,
        &Destination::Analytics { channel },
        &EntryParams::Analytics,
    )
}

/// Sends every call, `IN_FLIGHT` at a time; each must be accepted whole.
async fn send_all(sink: &dyn Sink, calls: &[Call]) {
    futures::stream::iter(calls)
        .map(|call| sink.send(call))
        .buffer_unordered(IN_FLIGHT)
        .for_each(|result| async move {
            let report = result.unwrap_or_else(|e| panic!("call failed: {e}"));
            assert!(report.failed.is_empty(), "{:?}", report.failed);
        })
        .await;
}

struct Measure {
    wall: Duration,
    cpu: Duration,
}

fn main() {
    if std::env::var_os(STUB_MODE).is_some() {
        return serve_stub();
    }
    let stub = StubProcess::start();
    println!(
        "| runtime | call | calls | wall (best) | CPU (best) | CPU per call (best) | CPU per call (median) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for runtime_name in ["current-thread", "multi-thread (2 workers)"] {
        let runtime = if runtime_name == "current-thread" {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
        };
        runtime.block_on(async {
            let mut loader = fanout::sink::aws::sdk_config_loader();
            if std::env::var_os("FX_SSP_OFF").is_some() {
                loader = loader.stalled_stream_protection(
                    aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(
                    ),
                );
            }
            let config = loader
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
                .endpoint_url(&stub.url)
                .load()
                .await;
            let sinks = fanout::sink::aws::aws_sinks(&config);
            let cases: [(&str, &dyn Sink, Vec<Call>); 4] = [
                (
                    "IoT Core Publish (1 KiB)",
                    sinks.publish.as_ref(),
                    publish_calls(5_000),
                ),
                (
                    "SNS PublishBatch (10 × 1 KiB)",
                    sinks.sns.as_ref(),
                    sns_calls(1_000),
                ),
                (
                    "Firehose PutRecordBatch (500 × 1 KiB)",
                    sinks.firehose.as_ref(),
                    firehose_calls(100),
                ),
                (
                    "IoT Analytics BatchPutMessage (100 × 1 KiB)",
                    sinks.analytics.as_ref(),
                    analytics_calls(200),
                ),
            ];
            for (name, sink, calls) in &cases {
                // Warm: the connection pool is open, as in a warm Lambda.
                send_all(*sink, calls.get(..200).unwrap_or(calls)).await;
                let mut runs = Vec::new();
                for _ in 0..ROUNDS {
                    let cpu = process_cpu();
                    let start = Instant::now();
                    send_all(*sink, calls).await;
                    runs.push(Measure {
                        wall: start.elapsed(),
                        cpu: process_cpu() - cpu,
                    });
                }
                let n = calls.len() as f64;
                let mut per_call: Vec<f64> =
                    runs.iter().map(|m| m.cpu.as_secs_f64() * 1e6 / n).collect();
                per_call.sort_by(f64::total_cmp);
                let best_wall = runs.iter().map(|m| m.wall).min().unwrap_or_default();
                let best_cpu = runs.iter().map(|m| m.cpu).min().unwrap_or_default();
                println!(
                    "| {runtime_name} | {name} | {} | {:.0} ms | {:.0} ms | {:.1} µs | {:.1} µs |",
                    calls.len(),
                    best_wall.as_secs_f64() * 1e3,
                    best_cpu.as_secs_f64() * 1e3,
                    per_call[0],
                    per_call[per_call.len() / 2],
                );
            }
        });
    }
    drop(stub);
}
