//! The bad-input corpus (`tests/fixtures/bad_input.json`): each malformed message is reported
//! invalid with an error that names the field and the rule, nothing is sent, nothing panics, and
//! no error or log line carries a payload or attribute value; each bad table fails to load with
//! its location and rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, Mutex};

use fanout::engine::{Engine, EngineConfig, Inbound};
use fanout::message::Message;
use fanout::outcome::Status;
use fanout::routes::RoutingTable;
use fanout::sink::{Call, CallError, CallReport, Sink, Sinks};
use fanout::validate::ContractLimits;
use futures::future::BoxFuture;
use serde_json::Value;

const CORPUS: &str = include_str!("fixtures/bad_input.json");
/// Planted in payload and attribute values across the corpus.
const MARKER: &str = "SECRET-MARKER-7f3a";

/// Collects every log line the engine writes while a test runs.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[derive(Debug, Default)]
struct Recorder(Mutex<usize>);

impl Sink for Recorder {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        *self.0.lock().unwrap() += call.entries.len();
        Box::pin(async { Ok(CallReport::default()) })
    }
}

/// Expands `@N BYTES@` (a JSON string of N bytes) and `@N LEVELS@` (N nested objects).
fn expand(body: &str) -> String {
    let Some(start) = body.find('@') else {
        return body.to_owned();
    };
    let end = start + 1 + body[start + 1..].find('@').unwrap();
    let (n, unit) = body[start + 1..end].split_once(' ').unwrap();
    let n: usize = n.parse().unwrap();
    let filler = match unit {
        "BYTES" => "x".repeat(n),
        "LEVELS" => format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)),
        other => panic!("unknown placeholder unit {other}"),
    };
    format!("{}{}{}", &body[..start], filler, &body[end + 1..])
}

#[tokio::test]
async fn every_bad_input_is_invalid_with_field_and_rule() {
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let table =
        RoutingTable::from_json(&corpus["routes"].to_string(), &ContractLimits::default()).unwrap();
    let engine = Engine::new(table, EngineConfig::default());
    let recorder = Arc::new(Recorder::default());
    let sinks = Sinks::all(recorder.clone());

    let cases = corpus["cases"].as_array().unwrap();
    let inbound: Vec<Inbound> = cases
        .iter()
        .map(|c| {
            let body = expand(c["body"].as_str().unwrap());
            Inbound::routed(
                c["name"].as_str().unwrap().to_owned(),
                Message::decode(&body, c["defaultId"].as_str()),
            )
        })
        .collect();
    let report = engine
        .run(
            inbound,
            &sinks,
            tokio::time::Instant::now() + std::time::Duration::from_secs(60),
        )
        .await;

    let mut wrong = Vec::new();
    for (case, outcome) in cases.iter().zip(&report.outcomes) {
        let name = case["name"].as_str().unwrap();
        let error = outcome.error.as_deref().unwrap_or("");
        let missing: Vec<&str> = case["error"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .filter(|e| !error.contains(e))
            .collect();
        if outcome.status != Status::Invalid || !missing.is_empty() {
            wrong.push(format!(
                "{name}: {:?} `{error}` lacks {missing:?}",
                outcome.status
            ));
        }
        // Errors are for people: bounded, and never the payload itself.
        assert!(
            error.len() < 600,
            "{name}: error too long ({} bytes)",
            error.len()
        );
        assert!(
            !error.contains("xxxxxxxxxxxxxxxx") && !error.contains(MARKER),
            "{name}: error echoes the payload or an attribute value: {error}"
        );
    }
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("message invalid"), "the run logged nothing");
    assert!(
        !logged.contains(MARKER),
        "a log line carries a payload or attribute value:\n{}",
        logged
            .lines()
            .filter(|l| l.contains(MARKER))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let planted = cases
        .iter()
        .filter(|c| c["body"].as_str().unwrap().contains(MARKER))
        .count();
    assert!(planted >= 10, "only {planted} cases carry the marker");
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    assert_eq!(report.outcomes.len(), cases.len());
    assert_eq!(
        *recorder.0.lock().unwrap(),
        0,
        "an invalid message reached a sink"
    );
}

#[test]
fn every_bad_table_fails_to_load_at_its_field_with_its_rule() {
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let tables = corpus["tables"].as_array().unwrap();
    assert!(tables.len() >= 10);
    let mut wrong = Vec::new();
    for case in tables {
        let name = case["name"].as_str().unwrap();
        match RoutingTable::from_json(&case["table"].to_string(), &ContractLimits::default()) {
            Ok(_) => wrong.push(format!("{name}: loaded")),
            Err(e) => {
                let text = e.to_string();
                let missing: Vec<&str> = case["error"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap())
                    .filter(|e| !text.contains(e))
                    .collect();
                if !missing.is_empty() {
                    wrong.push(format!("{name}: `{text}` lacks {missing:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_table_saved_with_a_byte_order_mark_loads() {
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let text = format!("\u{feff}{}", corpus["routes"]);
    assert!(RoutingTable::from_json(&text, &ContractLimits::default()).is_ok());
}
