//! Cold start with large routing tables (10,000 routes: 1.2 MB of plain routes, and 4.3 MB of
//! routes with content patterns and two targets each) from each source: parse and check alone,
//! then read + parse + check from S3 (moto on loopback: the tests' `MOTO_URL`, or a `moto_server`
//! started here) and from AWS AppConfig (the tests' stand-in of the Lambda extension's HTTP API),
//! and what a re-read costs when the table has not changed and when it has. Prints a table per
//! table; `cargo bench -p fanout --bench routes_source`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fanout::routes::RoutingTable;
use fanout::routes_source::{LiveTable, Reload, RoutesConfig, RoutesSource};
use fanout::validate::ContractLimits;
use support::appconfig::AppConfigAgent;

const ROUTES: usize = 10_000;
const ROUNDS: usize = 7;

/// `ROUTES` routes, each a topic filter and one MQTT target from a template; `tag` makes two
/// tables differ.
fn plain_table(tag: &str) -> String {
    let routes: Vec<serde_json::Value> = (0..ROUTES)
        .map(|i| {
            serde_json::json!({
                "name": format!("site-{i:05}-{tag}"),
                "match": {"topic": format!("site{i}/+/telemetry")},
                "targets": [{"type": "mqtt", "topic": format!("dashboards/site{i}/${{topic(2)}}")}]
            })
        })
        .collect();
    serde_json::json!({"routes": routes}).to_string()
}

/// `ROUTES` routes, each with a topic filter, a content pattern and two targets (an MQTT topic
/// from a template, an SNS topic with a subject and an attribute).
fn rich_table(tag: &str) -> String {
    let routes: Vec<serde_json::Value> = (0..ROUTES)
        .map(|i| {
            serde_json::json!({
                "name": format!("site-{i:05}-{tag}"),
                "match": {
                    "topic": format!("site{i}/+/telemetry"),
                    "payload": {"temp": [{"numeric": [">", i % 100]}], "status": [{"anything-but": "offline"}]}
                },
                "targets": [
                    {"type": "mqtt", "topic": format!("dashboards/site{i}/${{topic(2)}}/${{attributes.deviceId}}"), "qos": 1},
                    {"type": "sns", "topicArn": format!("arn:aws:sns:us-east-1:123456789012:site-{i}-alerts"),
                     "subject": "Alert on ${attributes.deviceId}",
                     "attributes": {"site": {"type": "String", "value": format!("site-{i}")}}}
                ]
            })
        })
        .collect();
    serde_json::json!({"routes": routes, "default": {"action": "drop"}}).to_string()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

async fn measure<F, Fut, T>(rounds: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        std::hint::black_box(f().await);
        samples.push(start.elapsed());
    }
    median(samples)
}

async fn load(source: &RoutesSource, sdk: Option<&aws_config::SdkConfig>) -> Arc<LiveTable> {
    let config = RoutesConfig {
        source: source.clone(),
        ttl: Duration::from_secs(60),
    };
    Arc::new(
        LiveTable::load(&config, &ContractLimits::default(), None, sdk)
            .await
            .expect("the table loads"),
    )
}

/// The median time of a re-read that finds a new version and swaps it in; `publish` puts the
/// next version at the source (untimed), alternating between two tables.
async fn swaps<F, Fut>(live: &Arc<LiveTable>, mut publish: F) -> Duration
where
    F: FnMut(bool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut samples = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        publish(round % 2 == 0).await;
        let start = Instant::now();
        assert!(matches!(live.reload().await, Reload::Swapped { .. }));
        samples.push(start.elapsed());
    }
    median(samples)
}

fn row(what: &str, time: Duration) {
    println!("| {what} | {:.1} ms |", time.as_secs_f64() * 1e3);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let moto = support::moto::moto();
    for make in [plain_table, rich_table] {
        runtime.block_on(sources(&make("a"), &make("b"), &moto.url));
    }
}

/// Every row for one table; `second` is the same table changed, for the re-reads.
async fn sources(first: &str, second: &str, moto_url: &str) {
    {
        println!(
            "\ntable: {ROUTES} routes, {:.2} MB; median of {ROUNDS} runs",
            first.len() as f64 / 1e6
        );
        println!("| what | time |");
        println!("|---|---:|");
        let limits = ContractLimits::default();
        row(
            "parse + check (every source pays this)",
            measure(ROUNDS, || async {
                RoutingTable::from_json(first, &limits).expect("valid")
            })
            .await,
        );

        let agent = AppConfigAgent::start().await;
        agent.deploy("bench", "prod", "routes", first);
        let appconfig = RoutesSource::AppConfig {
            application: "bench".into(),
            environment: "prod".into(),
            profile: "routes".into(),
            port: agent.port,
        };
        row(
            "AppConfig (extension stand-in): read + parse + check at cold start",
            measure(ROUNDS, || load(&appconfig, None)).await,
        );
        let live = load(&appconfig, None).await;
        row(
            "AppConfig: re-read, same version",
            measure(ROUNDS, || async {
                assert_eq!(live.reload().await, Reload::Unchanged)
            })
            .await,
        );
        row(
            "AppConfig: re-read, new version swapped in",
            swaps(&live, |flip| {
                agent.deploy("bench", "prod", "routes", if flip { second } else { first });
                async {}
            })
            .await,
        );

        let sdk = support::sdk_config(moto_url).await;
        let bucket = support::unique("bench").to_lowercase();
        support::moto::create_bucket(moto_url, &bucket).await;
        let put = |text: &str| {
            let body = text.as_bytes().to_vec();
            let bucket = bucket.clone();
            async move {
                support::moto::put_object(moto_url, &bucket, "routes.json", &body).await;
            }
        };
        put(first).await;
        let s3 = RoutesSource::S3 {
            bucket: bucket.clone(),
            key: "routes.json".into(),
        };
        row(
            "S3 (moto): read + parse + check at cold start",
            measure(ROUNDS, || load(&s3, Some(&sdk))).await,
        );
        let live = load(&s3, Some(&sdk)).await;
        row(
            "S3: re-read, same ETag (304)",
            measure(ROUNDS, || async {
                assert_eq!(live.reload().await, Reload::Unchanged)
            })
            .await,
        );
        row(
            "S3: re-read, new ETag swapped in",
            swaps(&live, |flip| put(if flip { second } else { first })).await,
        );
    }
}
