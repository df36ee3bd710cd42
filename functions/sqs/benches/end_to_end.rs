//! End to end, in process: the SQS handler on 10,000 records and the HTTP handler on the same
//! 10,000 messages (20 requests of 500), sending through the real SDK clients to the tests' wire
//! stub of IoT Analytics and IoT Events on 127.0.0.1. Prints messages/second, downstream calls
//! against the fewest possible, and the peak RSS of the handlers' process: the stub runs in a
//! child process (this bench again, with `FANOUT_BENCH_STUB` set), so its memory is not counted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../../shared/tests/support/stub.rs"]
#[allow(dead_code, unreachable_pub)]
mod stub;

#[path = "../../../shared/tests/support/faults.rs"]
#[allow(dead_code, unreachable_pub)]
mod faults;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_runtime::{Context, LambdaEvent};
use stub::{Behaviour, Stub};

const N: usize = 10_000;
/// Set in the child process that serves the stub.
const STUB_MODE: &str = "FANOUT_BENCH_STUB";

fn body(i: usize) -> String {
    format!(
        r#"{{"id": "m-{i}", "topic": "plant/line{}/telemetry", "payload": {{"temp": {}.5, "humidity": {}}}}}"#,
        i % 4,
        20 + i % 30,
        40 + i % 20
    )
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The stub in a child process: it prints its URL, then answers each line on its stdin with the
/// number of calls and of entries it has seen, and exits when stdin closes.
struct StubProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
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
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut url = String::new();
        stdout.read_line(&mut url).unwrap();
        StubProcess {
            child,
            stdin,
            stdout,
            url: url.trim().to_owned(),
        }
    }

    /// Calls and entries seen so far.
    fn seen(&mut self) -> Counts {
        writeln!(self.stdin.as_mut().unwrap(), "seen").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let (calls, entries) = line.trim().split_once(' ').unwrap();
        Counts {
            calls: calls.parse().unwrap(),
            entries: entries.parse().unwrap(),
        }
    }
}

#[derive(Clone, Copy)]
struct Counts {
    calls: usize,
    entries: usize,
}

impl std::ops::Sub for Counts {
    type Output = Counts;

    fn sub(self, before: Counts) -> Counts {
        Counts {
            calls: self.calls - before.calls,
            entries: self.entries - before.entries,
        }
    }
}

impl Drop for StubProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

async fn serve_stub() {
    let stub = Stub::start(Behaviour::default()).await;
    println!("{}", stub.url);
    let state = stub.state.clone();
    tokio::task::spawn_blocking(move || {
        for _ in std::io::stdin().lock().lines().map_while(Result::ok) {
            let state = state.lock().unwrap();
            let entries: usize = state.calls.iter().map(|c| c.message_ids.len()).sum();
            println!("{} {entries}", state.calls.len());
        }
    })
    .await
    .unwrap();
}

#[tokio::main]
async fn main() {
    if std::env::var_os(STUB_MODE).is_some() {
        return serve_stub().await;
    }
    let mut stub = StubProcess::start();
    let app = faults::app(&stub.url, 500).await;

    let mut event = SqsEvent::default();
    event.records = (0..N)
        .map(|i| {
            let mut r = SqsMessage::default();
            r.message_id = Some(format!("rec-{i}"));
            r.body = Some(body(i));
            r
        })
        .collect();
    // One warm-up batch opens the connection pool, as a warm Lambda has.
    let mut warm = SqsEvent::default();
    warm.records = event.records.iter().take(10).cloned().collect();
    fanout_sqs::handle(&app, LambdaEvent::new(warm, Context::default()))
        .await
        .unwrap();
    let before = stub.seen();

    let start = Instant::now();
    let response = fanout_sqs::handle(&app, LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    let seen = stub.seen() - before;
    assert!(
        response.batch_item_failures.is_empty(),
        "{} failures",
        response.batch_item_failures.len()
    );

    println!(
        "| handler | messages | targets | time | messages/s | downstream calls | fewest possible | entries resent | peak RSS |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    row("fanout-sqs (one batch)", elapsed, seen);

    let http = fanout_http::HttpApp {
        app,
        settings: fanout_http::HttpSettings::default(),
    };
    let before = stub.seen();
    let start = Instant::now();
    for chunk in 0..N / 500 {
        let messages: Vec<String> = (chunk * 500..(chunk + 1) * 500)
            .map(|i| body(i).replace("\"m-", "\"h-"))
            .collect();
        let req = lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://api.example.com/messages")
            .header("content-type", "application/json")
            .body(lambda_http::Body::Text(format!(
                r#"{{"messages": [{}]}}"#,
                messages.join(",")
            )))
            .unwrap();
        let response = fanout_http::handle(&http, req).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let elapsed = start.elapsed();
    row("fanout-http (20 × 500)", elapsed, stub.seen() - before);
}

/// One table row. Every message has two targets, so entries beyond 2 × N were sent again.
fn row(handler: &str, elapsed: std::time::Duration, seen: Counts) {
    // Fewest calls possible: 100 messages per IoT Analytics call, 10 per IoT Events call.
    let minimum = N.div_ceil(100) + N.div_ceil(10);
    println!(
        "| {handler} | {N} | {} | {:.0} ms | {:.0} | {} | {minimum} | {} | {:.1} MiB |",
        2 * N,
        elapsed.as_secs_f64() * 1000.0,
        N as f64 / elapsed.as_secs_f64(),
        seen.calls,
        seen.entries.saturating_sub(2 * N),
        peak_rss_mib()
    );
}
