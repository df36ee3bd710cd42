//! The `fanout` command-line tool, run as a user runs it: `check` gives the cold start's own
//! verdict and message, `test` one message's routes, targets and contract verdicts, `plan` the
//! engine's dry run, `schema` the schema; exit 0 yes, 1 no, 2 a wrong command line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use fanout::app::App;
use fanout::config::Config;
use fanout::engine::{Engine, EngineConfig, Inbound};
use fanout::message::Message;
use fanout::routes::RoutingTable;
use fanout::validate::ContractLimits;
use serde_json::{Value, json};

const CORPUS: &str = include_str!("fixtures/bad_input.json");
const SQS_TELEMETRY: &str = include_str!("../../events/sqs-telemetry.json");

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

fn fanout(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_fanout"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("FANOUT_ANALYTICS_MAX_PAYLOAD")
        .env_remove("FANOUT_ALLOW_RESERVED_TOPICS")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn routes_json() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/routes.json")
        .display()
        .to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The bodies of the records of events/sqs-telemetry.json, one per line.
fn telemetry_lines() -> Vec<String> {
    let event: Value = serde_json::from_str(SQS_TELEMETRY).unwrap();
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn check_accepts_the_sample_table() {
    let run = fanout(&["check", &routes_json()], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("ok, version sha256:") && run.stdout.contains("7 routes"),
        "{}",
        run.stdout
    );
    let run = fanout(&["--json", "check", &routes_json()], &[]);
    let out = run.json();
    assert_eq!(out["ok"], true);
    assert_eq!(out["routes"][0], "telemetry");
    assert_eq!(out["jobs"], json!(["firmware-notice", "nightly-config"]));
    assert!(out["version"].as_str().unwrap().starts_with("sha256:"));
}

/// Every bad table of the corpus: exit 1 and the very message the cold start gives, with the
/// table's file where the cold start names its variable.
#[tokio::test]
async fn check_refuses_every_bad_table_with_the_cold_start_message() {
    let dir = tempfile::tempdir().unwrap();
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let tables = corpus["tables"].as_array().unwrap();
    for (i, case) in tables.iter().enumerate() {
        let path = write(
            dir.path(),
            &format!("bad-{i}.json"),
            &case["table"].to_string(),
        );
        let config = Config::from_lookup(|k| match k {
            "FANOUT_ROUTES_FILE" => Some(path.clone()),
            "FANOUT_OUTBOX_DIR" => Some(dir.path().join("outbox").display().to_string()),
            _ => None,
        })
        .unwrap();
        let cold_start = App::from_config(config).await.unwrap_err().to_string();
        let cold_start = cold_start
            .strip_prefix("configuration: FANOUT_ROUTES_FILE: ")
            .unwrap_or_else(|| panic!("{cold_start}"));

        let run = fanout(&["check", &path], &[]);
        assert_eq!(run.code, 1, "{}: {}", case["name"], run.stdout);
        assert_eq!(run.stderr.trim_end(), format!("{path}: {cold_start}"));
        let run = fanout(&["--json", "check", &path], &[]);
        assert_eq!(run.code, 1);
        assert_eq!(run.json()["error"], format!("{path}: {cold_start}"));
    }
    let run = fanout(&["check", "/nonexistent/routes.json"], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("/nonexistent/routes.json: cannot read /nonexistent/routes.json: "),
        "{}",
        run.stderr
    );
}

#[test]
fn a_wrong_command_line_exits_2_with_the_usage() {
    for args in [
        &[][..],
        &["check"][..],
        &["test", "routes.json"][..],
        &["deploy", "routes.json"][..],
    ] {
        let run = fanout(args, &[]);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains("usage: fanout"), "{}", run.stderr);
    }
    // A URL that names no object is the table's problem, as it is at cold start.
    let run = fanout(&["check", "s3://bucket-without-key"], &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("name the object"), "{}", run.stderr);
    let run = fanout(&["--help"], &[]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("check TABLE"));
}

#[test]
fn test_shows_matching_routes_rendered_targets_and_contract_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let hot = write(dir.path(), "hot.json", &telemetry_lines()[0]);
    let run = fanout(&["--json", "test", &routes_json(), &hot], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let out = run.json();
    let matching: Vec<&str> = out["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["matches"] == true)
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(matching, ["telemetry", "overheat", "archive"]);
    assert_eq!(out["status"], "planned");
    let targets: Vec<(String, bool)> = out["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let d = &t["destination"];
            let name = d
                .as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| *k != "kind")
                .unwrap()
                .1;
            (
                format!("{}:{}", d["kind"].as_str().unwrap(), name.as_str().unwrap()),
                t["ok"] == true,
            )
        })
        .collect();
    assert_eq!(
        targets,
        [
            ("analytics:telemetry_line3".to_owned(), true),
            ("mqtt:dashboards/plant1/line3/sensor-42".to_owned(), true),
            ("events:overheat_detector".to_owned(), true),
            (
                "sns:arn:aws:sns:us-east-1:123456789012:fanout-alerts".to_owned(),
                true
            ),
            ("firehose:fanout-telemetry".to_owned(), true),
            ("kinesis:fanout-events".to_owned(), true),
        ]
    );

    // An IoT Analytics field name breaks that destination's contract: that target is refused,
    // and the message would be reported invalid.
    let dashed = write(
        dir.path(),
        "dashed.json",
        r#"{"id": "m-2", "topic": "plant1/line3/telemetry", "attributes": {"deviceId": "s-1"}, "payload": {"temp-01": 20}}"#,
    );
    let run = fanout(&["--json", "test", &routes_json(), &dashed], &[]);
    assert_eq!(run.code, 1);
    let out = run.json();
    assert_eq!(out["status"], "invalid");
    assert_eq!(out["targets"][0]["ok"], false);
    assert!(
        out["targets"][0]["error"]
            .as_str()
            .unwrap()
            .contains("temp-01"),
        "{out}"
    );
    assert_eq!(out["targets"][1]["ok"], true);
    assert_eq!(out["error"], out["targets"][0]["error"]);
    let run = fanout(&["test", &routes_json(), &dashed], &[]);
    assert!(
        run.stdout
            .contains("1. analytics:telemetry_line3 (route telemetry): refused: "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("result: invalid: "), "{}", run.stdout);

    // No route matches: the default decides (reject in events/routes.json, drop here).
    let stray = write(
        dir.path(),
        "stray.json",
        r#"{"id": "m-3", "topic": "elsewhere", "payload": 1}"#,
    );
    let run = fanout(&["--json", "test", &routes_json(), &stray], &[]);
    assert_eq!(
        (
            run.code,
            run.json()["status"].clone(),
            run.json()["defaultApplies"].clone()
        ),
        (1, json!("invalid"), json!(true))
    );
    let dropping = write(
        dir.path(),
        "drop.json",
        r#"{"routes": [], "default": {"action": "drop"}}"#,
    );
    let run = fanout(&["--json", "test", &dropping, &stray], &[]);
    assert_eq!(
        (run.code, run.json()["status"].clone()),
        (0, json!("dropped"))
    );

    let broken = write(
        dir.path(),
        "broken.json",
        r#"{"id": "m-4", "payload": 1, "payloadBase64": "AA=="}"#,
    );
    let run = fanout(&["test", &routes_json(), &broken], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("exactly one of `payload` and `payloadBase64`"),
        "{}",
        run.stderr
    );
}

#[test]
fn plan_is_the_engines_dry_run() {
    let dir = tempfile::tempdir().unwrap();
    let lines = telemetry_lines();
    let jsonl = write(
        dir.path(),
        "batch.jsonl",
        &format!("{}\n\n", lines.join("\n")),
    );
    let run = fanout(&["--json", "plan", &routes_json(), &jsonl], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let mut out = run.json();
    assert_eq!(out["table"].as_str(), Some(routes_json().as_str()));
    out.as_object_mut().unwrap().remove("table");

    let text = std::fs::read_to_string(routes_json()).unwrap();
    let engine = Engine::new(
        RoutingTable::from_json(&text, &ContractLimits::default()).unwrap(),
        EngineConfig::default(),
    );
    let inbound = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Inbound::routed(
                (i + 1).to_string(),
                Message::decode(l, Some(&format!("line-{}", i + 1))),
            )
        })
        .collect();
    let mut expected = serde_json::to_value(engine.plan(inbound).view()).unwrap();
    expected["routesVersion"] = json!(fanout::routes_source::content_version(&text));
    assert_eq!(out, expected);
    assert!(!out["calls"].as_array().unwrap().is_empty());

    let run = fanout(&["plan", &routes_json(), &jsonl], &[]);
    assert!(run.stdout.contains(" calls:"), "{}", run.stdout);
    let with_bad = write(
        dir.path(),
        "bad.jsonl",
        &format!("{}\nnot json\n", lines[0]),
    );
    let run = fanout(&["plan", &routes_json(), &with_bad], &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("line 2 -: invalid: body is not valid JSON"),
        "{}",
        run.stdout
    );
}

#[test]
fn schema_prints_the_schema_and_its_draft4_rendition() {
    let run = fanout(&["schema"], &[]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, fanout::schema::ROUTES_SCHEMA)
    );
    let run = fanout(&["schema", "--draft4"], &[]);
    let schema: Value = serde_json::from_str(fanout::schema::ROUTES_SCHEMA).unwrap();
    assert_eq!(run.json(), fanout::schema::draft4(&schema));
}

#[tokio::test]
async fn check_reads_a_table_from_s3() {
    let moto = support::moto::moto();
    let bucket = support::unique("cli").to_lowercase();
    support::moto::create_bucket(&moto.url, &bucket).await;
    let text = std::fs::read_to_string(routes_json()).unwrap();
    let etag = support::moto::put_object(&moto.url, &bucket, "routes.json", text.as_bytes()).await;
    let url = format!("s3://{bucket}/routes.json");
    let env = [
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    // moto runs in its own process: waiting on the tool here blocks nothing it needs.
    let run = fanout(&["--json", "check", &url], &env);
    assert_eq!(run.code, 0, "{} {}", run.stdout, run.stderr);
    assert_eq!(run.json()["version"].as_str(), Some(etag.as_str()));
}
