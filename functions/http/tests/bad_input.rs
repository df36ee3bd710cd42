//! The HTTP function's bad-input corpus: hostile and malformed requests to both endpoints. Each
//! gets its status and error code, nothing is sent, and a marker planted in payloads and
//! attribute values (and in every other value a request carries) never appears in an answer
//! or in a log line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod harness;

#[path = "../../../shared/tests/support/logs.rs"]
#[allow(dead_code, unreachable_pub)]
mod logs;

use std::io::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fanout_http::HttpSettings;
use flate2::Compression;
use flate2::write::GzEncoder;
use harness::{call, harness, outbox, variant};
use serde_json::{Value, json};

const MARKER: &str = "MARKER-5ec7e7";
const MESSAGES: &str = include_str!("../../../events/http-messages.json");
const BATCH_PUB: &str = include_str!("../../../events/http-batch-pub.json");

/// A valid batch whose payload and attributes carry the marker.
fn marked_messages() -> Value {
    json!({"messages": [{
        "id": "h-1", "topic": "plant1/line3/telemetry",
        "attributes": {"deviceId": "sensor-42", "note": MARKER},
        "payload": {"temp": 81.5, "note": MARKER}
    }]})
}

/// A valid BatchPub request whose message carries the marker.
fn marked_batch_pub() -> Value {
    json!({"ProductKey": "a1BwAGV", "DeviceName": ["newdevice1"], "TopicShortName": "get",
           "MessageContent": BASE64.encode(MARKER), "Qos": 1})
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The event with `body` as its (binary, base64-encoded) body, as API Gateway passes gzip.
fn binary_body(v: &mut Value, body: &[u8]) {
    v["body"] = BASE64.encode(body).into();
    v["isBase64Encoded"] = true.into();
}

type Edit = Box<dyn Fn(&mut Value)>;

struct Case {
    name: &'static str,
    /// The sample event the case starts from.
    event: &'static str,
    edit: Edit,
    status: u16,
    /// `error.code` (`POST /messages`) or `Code` (`POST /batch-pub`).
    code: &'static str,
}

fn case(
    name: &'static str,
    event: &'static str,
    edit: Edit,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        event,
        edit,
        status,
        code,
    }
}

fn messages(
    name: &'static str,
    edit: impl Fn(&mut Value) + 'static,
    status: u16,
    code: &'static str,
) -> Case {
    case(
        name,
        MESSAGES,
        Box::new(move |v| {
            v["body"] = marked_messages().to_string().into();
            edit(v);
        }),
        status,
        code,
    )
}

fn batch_pub(name: &'static str, edit: impl Fn(&mut Value) + 'static, status: u16) -> Case {
    case(
        name,
        BATCH_PUB,
        Box::new(move |v| {
            v["body"] = marked_batch_pub().to_string().into();
            edit(v);
        }),
        status,
        "iot.common.InvalidParameter",
    )
}

fn query(raw: &'static str) -> impl Fn(&mut Value) {
    move |v| v["rawQueryString"] = raw.into()
}

fn body(text: String) -> impl Fn(&mut Value) {
    move |v| v["body"] = text.clone().into()
}

/// A batch of one message: `message` with the marker in its attributes and payload.
fn one_message(message: Value) -> impl Fn(&mut Value) {
    body(json!({"messages": [message]}).to_string())
}

fn batch_pub_field(field: &'static str, value: Value) -> impl Fn(&mut Value) {
    move |v| {
        let mut request = marked_batch_pub();
        request[field] = value.clone();
        v["body"] = request.to_string().into();
    }
}

fn corpus() -> Vec<Case> {
    let marked = marked_messages().to_string();
    let invalid = "InvalidJson";
    let query_refused = "InvalidQueryParameter";
    vec![
        // Query flags: only true/1 and false/0, only known names; never read as "send".
        messages("dryRun=maybe", query("dryRun=maybe"), 400, query_refused),
        messages("dryRun=yes", query("dryRun=yes"), 400, query_refused),
        messages("dryRun=TRUE", query("dryRun=TRUE"), 400, query_refused),
        messages(
            "dryRun without a value",
            query("dryRun"),
            400,
            query_refused,
        ),
        messages("dryRun= (empty)", query("dryRun="), 400, query_refused),
        messages(
            "dryrun (other case)",
            query("dryrun=true"),
            400,
            query_refused,
        ),
        messages(
            "dryRun twice",
            query("dryRun=true&dryRun=false"),
            400,
            query_refused,
        ),
        messages(
            "dryRun=<marker>",
            query("dryRun=MARKER-5ec7e7"),
            400,
            query_refused,
        ),
        messages(
            "unknown parameter with a marker value",
            query("x=MARKER-5ec7e7"),
            400,
            query_refused,
        ),
        // Content type and encoding.
        messages(
            "text/plain",
            |v| v["headers"]["content-type"] = "text/plain".into(),
            400,
            "UnsupportedContentType",
        ),
        messages(
            "Content-Encoding: br",
            |v| v["headers"]["content-encoding"] = "br".into(),
            415,
            "UnsupportedContentEncoding",
        ),
        messages(
            "Content-Encoding: gzip, gzip",
            |v| v["headers"]["content-encoding"] = "gzip, gzip".into(),
            415,
            "UnsupportedContentEncoding",
        ),
        messages(
            "gzip header, plain body",
            |v| v["headers"]["content-encoding"] = "gzip".into(),
            400,
            "InvalidGzip",
        ),
        messages(
            "truncated gzip",
            move |v| {
                let compressed = gzip(marked_messages().to_string().as_bytes());
                binary_body(v, &compressed[..compressed.len() - 6]);
                v["headers"]["content-encoding"] = "gzip".into();
            },
            400,
            "InvalidGzip",
        ),
        messages(
            "gzip bomb: 6 MiB from a few KiB",
            move |v| {
                let filler = MARKER.repeat(6 * 1024 * 1024 / MARKER.len());
                let text = json!({"messages": [{"id": "b", "payload": filler}]}).to_string();
                binary_body(v, &gzip(text.as_bytes()));
                v["headers"]["content-encoding"] = "gzip".into();
            },
            413,
            "PayloadTooLarge",
        ),
        messages(
            "not UTF-8",
            |v| binary_body(v, &[MARKER.as_bytes(), &[0xff, 0xfe]].concat()),
            400,
            "InvalidUtf8",
        ),
        // Body shape: errors name the field and the type, never the value.
        messages("a JSON string", body(format!("\"{MARKER}\"")), 400, invalid),
        messages(
            "messages is a string",
            body(json!({"messages": MARKER}).to_string()),
            400,
            invalid,
        ),
        messages(
            "messages is a number",
            body(r#"{"messages": 5}"#.to_owned()),
            400,
            invalid,
        ),
        messages(
            "an unknown field",
            body(json!({"messages": [], "extra": MARKER}).to_string()),
            400,
            invalid,
        ),
        messages(
            "messages given twice",
            body(format!(
                r#"{{"messages": [], "messages": {}}}"#,
                marked_messages()["messages"]
            )),
            400,
            invalid,
        ),
        messages(
            "truncated JSON",
            body(marked[..marked.len() - 3].to_owned()),
            400,
            invalid,
        ),
        messages(
            "a control character in a string",
            body(format!(
                "{{\"messages\": [{{\"id\": \"a\", \"payload\": \"{MARKER}\u{1}\"}}]}}"
            )),
            400,
            invalid,
        ),
        // Messages that are each invalid: the answer is 422 with a reason per message.
        messages(
            "payload field names IoT Analytics refuses",
            one_message(json!({"id": "m", "topic": "plant1/line3/telemetry",
                "attributes": {"deviceId": "sensor-42", "note": MARKER}, "payload": {"bad-key": MARKER}})),
            422,
            "",
        ),
        messages(
            "no route",
            one_message(
                json!({"id": "m", "topic": "nowhere", "attributes": {"note": MARKER}, "payload": MARKER}),
            ),
            422,
            "",
        ),
        messages(
            "payloadBase64 is not base64",
            one_message(
                json!({"id": "m", "attributes": {"note": MARKER}, "payloadBase64": format!("{MARKER}!!")}),
            ),
            422,
            "",
        ),
        messages(
            "timestamp is a string",
            one_message(json!({"id": "m", "timestamp": MARKER, "payload": MARKER})),
            422,
            "",
        ),
        messages(
            "attributes hold an object",
            one_message(
                json!({"id": "m", "attributes": {"note": {"deep": MARKER}}, "payload": MARKER}),
            ),
            422,
            "",
        ),
        messages(
            "id with a control character",
            one_message(json!({"id": "m\u{0}", "attributes": {"note": MARKER}, "payload": MARKER})),
            422,
            "",
        ),
        messages(
            "explicit targets not enabled",
            one_message(
                json!({"id": "m", "attributes": {"note": MARKER}, "payload": MARKER,
                "targets": [{"type": "mqtt", "topic": MARKER}]}),
            ),
            422,
            "",
        ),
        // POST /batch-pub: the same answers in BatchPub's shape.
        batch_pub("unknown query parameter", query("Foo=MARKER-5ec7e7"), 400),
        batch_pub("a JSON string", body(format!("\"{MARKER}\"")), 400),
        batch_pub(
            "ProductKey with a slash",
            batch_pub_field("ProductKey", json!(format!("{MARKER}/x"))),
            400,
        ),
        batch_pub(
            "ProductKey is a number",
            batch_pub_field("ProductKey", json!(5)),
            400,
        ),
        batch_pub(
            "DeviceName with a wildcard",
            batch_pub_field("DeviceName", json!([format!("{MARKER}+")])),
            400,
        ),
        batch_pub(
            "DeviceName too short",
            batch_pub_field("DeviceName", json!(["abc"])),
            400,
        ),
        batch_pub(
            "DeviceName is a string",
            batch_pub_field("DeviceName", json!(MARKER)),
            400,
        ),
        batch_pub(
            "TopicShortName with #",
            batch_pub_field("TopicShortName", json!(format!("{MARKER}/#"))),
            400,
        ),
        batch_pub(
            "Qos is a string",
            batch_pub_field("Qos", json!(MARKER)),
            400,
        ),
        batch_pub("Qos 2", batch_pub_field("Qos", json!(2)), 400),
        batch_pub(
            "empty MessageContent",
            batch_pub_field("MessageContent", json!("")),
            400,
        ),
        batch_pub(
            "MessageContent is not base64",
            batch_pub_field("MessageContent", json!(format!("{MARKER}!!"))),
            400,
        ),
        batch_pub(
            "MessageContent over IoT Core's 128 KiB",
            batch_pub_field(
                "MessageContent",
                json!(BASE64.encode(MARKER.repeat(131_072 / MARKER.len() + 1))),
            ),
            400,
        ),
        batch_pub(
            "an unknown field",
            move |v| {
                let mut request = marked_batch_pub();
                request["Extra"] = MARKER.into();
                v["body"] = request.to_string().into();
            },
            400,
        ),
        batch_pub(
            "Content-Encoding: deflate",
            |v| v["headers"]["content-encoding"] = "deflate".into(),
            415,
        ),
    ]
}

#[tokio::test]
async fn every_bad_request_is_refused_without_echoing_a_value() {
    let logs = logs::Logs::capture();
    let h = harness(HttpSettings::default()).await;
    let mut wrong = Vec::new();
    let cases = corpus();
    for c in &cases {
        let a = call(&h, &variant(c.event, &c.edit)).await;
        let code = a.body["error"]["code"]
            .as_str()
            .or(a.body["Code"].as_str())
            .unwrap_or("");
        if (a.status, code) != (c.status, c.code) {
            wrong.push(format!(
                "{}: {} {code}, wanted {} {}: {}",
                c.name, a.status, c.status, c.code, a.body
            ));
        }
        if c.status == 422 {
            let all_invalid = a.body["results"].as_array().unwrap().iter().all(|r| {
                r["status"] == "invalid" && r["error"].as_str().is_some_and(|e| !e.is_empty())
            });
            assert!(all_invalid, "{}: {}", c.name, a.body);
        }
        let answer = a.body.to_string();
        assert!(
            !answer.contains(MARKER),
            "{}: the answer echoes a value: {answer}",
            c.name
        );
        assert!(
            answer.len() < 2_000,
            "{}: {} bytes of answer",
            c.name,
            answer.len()
        );
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    assert!(
        outbox(&h.outbox).is_empty(),
        "a refused request sent something"
    );
    let logged = logs.text();
    assert!(
        logged.contains("message invalid"),
        "the engine's lines are captured"
    );
    assert!(
        !logged.contains(MARKER),
        "a log line holds a value:\n{logged}"
    );
}

#[tokio::test]
async fn accepted_spellings_and_encodings_send() {
    let h = harness(HttpSettings::default()).await;
    // Alibaba's common request parameters, in the query string and in the body, are ignored.
    let signed = variant(BATCH_PUB, |v| {
        v["rawQueryString"] =
            "Action=BatchPub&Version=2018-01-20&SignatureNonce=1&RegionId=cn-shanghai".into();
        let mut request = marked_batch_pub();
        request["AccessKeyId"] = "id".into();
        request["Timestamp"] = "2018-05-20T12:00:00Z".into();
        v["body"] = request.to_string().into();
    });
    let a = call(&h, &signed).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // dryRun=false and dryRun=0 send; dryRun=1 plans.
    for (raw_query, sent) in [
        ("dryRun=false", 1),
        ("dryRun=0", 1),
        ("dryRun=1", 0),
        ("", 1),
    ] {
        let before = outbox(&h.outbox).len();
        let a = call(
            &h,
            &variant(MESSAGES, |v| {
                v["rawQueryString"] = raw_query.into();
                v["body"] = json!({"messages": [{"id": "q", "topic": "plant1/line3/config",
                    "attributes": {"deviceId": "sensor-42"}, "payload": {"state": {"desired": {"a": 1}}}}]})
                .to_string()
                .into();
            }),
        )
        .await;
        assert_eq!(a.status, 200, "{raw_query}: {}", a.body);
        assert_eq!(outbox(&h.outbox).len() - before, sent, "{raw_query}");
    }
}
