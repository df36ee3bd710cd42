//! Routing tables from S3 (through moto) and from AWS AppConfig (through a stand-in of the
//! AppConfig Lambda extension's HTTP API): loaded at cold start with their version, re-read on
//! a new version, a bad version refused while the last good table stays, an unreachable source
//! failing the cold start but not a running function.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use fanout::engine::{Engine, EngineConfig, Inbound};
use fanout::message::Message;
use fanout::outcome::Report;
use fanout::routes_source::{LiveTable, Reload, RoutesConfig, RoutesSource};
use fanout::sink::Sinks;
use fanout::sink::outbox::Outbox;
use fanout::validate::ContractLimits;
use support::appconfig::AppConfigAgent;
use support::moto::moto;
use support::{sdk_config, unique};

fn table(route: &str) -> String {
    format!(
        r#"{{"routes": [{{"name": "{route}", "targets": [{{"type": "mqtt", "topic": "out/{route}"}}]}}]}}"#
    )
}

/// Valid JSON whose only target breaks IoT Core's QoS rule.
const BAD_TABLE: &str =
    r#"{"routes": [{"name": "r", "targets": [{"type": "mqtt", "topic": "out", "qos": 2}]}]}"#;

fn routes(live: &Arc<LiveTable>) -> Vec<String> {
    live.current()
        .table
        .route_names()
        .map(str::to_owned)
        .collect()
}

fn version(live: &Arc<LiveTable>) -> String {
    live.current().version.as_deref().unwrap_or("").to_owned()
}

/// The table in use is the one-route table `route`, at `version`.
#[track_caller]
fn assert_in_use(live: &Arc<LiveTable>, route: &str, version_: &str) {
    assert_eq!(
        (routes(live), version(live)),
        (vec![route.to_owned()], version_.to_owned())
    );
}

/// One invocation of one message through an engine on `live`, to the local outbox.
async fn run_once(live: &Arc<LiveTable>) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::with_routes(live.clone(), EngineConfig::default());
    let sinks = Sinks::all(Arc::new(Outbox::open(dir.path()).unwrap()));
    let msg = Message::decode(r#"{"id": "m", "payload": 1}"#, None);
    engine
        .run(
            vec![Inbound::routed("0".into(), msg)],
            &sinks,
            tokio::time::Instant::now() + Duration::from_secs(30),
        )
        .await
}

async fn load(
    source: RoutesSource,
    ttl: Duration,
    sdk: Option<&aws_config::SdkConfig>,
) -> Result<Arc<LiveTable>, String> {
    LiveTable::load(
        &RoutesConfig { source, ttl },
        &ContractLimits::default(),
        None,
        sdk,
    )
    .await
    .map(Arc::new)
    .map_err(|e| e.to_string())
}

/// What a live table does as its source changes (`publish` puts a table there and returns its
/// version): the version in use is not read again; a new one is swapped in; a bad one is
/// refused, once, while the last good table stays; a good one after it is swapped in. Returns
/// the last version.
async fn follows_its_source<F, Fut>(live: &Arc<LiveTable>, first: &str, mut publish: F) -> String
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    assert_in_use(live, "first", first);
    assert_eq!(
        live.reload().await,
        Reload::Unchanged,
        "the version in use is read again"
    );

    let second = publish(table("second")).await;
    assert_ne!(second, first);
    assert_eq!(
        live.reload().await,
        Reload::Swapped {
            version: second.clone()
        }
    );
    assert_in_use(live, "second", &second);

    let bad = publish(BAD_TABLE.to_owned()).await;
    match live.reload().await {
        Reload::Rejected { version, reason } => {
            assert_eq!(version, bad);
            assert!(
                reason.contains(r#"route "r" target 1 (mqtt) field "qos""#),
                "{reason}"
            );
        }
        other => panic!("a bad table was not refused: {other:?}"),
    }
    assert_in_use(live, "second", &second);
    assert_eq!(
        live.reload().await,
        Reload::Unchanged,
        "a refused version is not read or refused again"
    );

    let third = publish(table("third")).await;
    assert_eq!(
        live.reload().await,
        Reload::Swapped {
            version: third.clone()
        }
    );
    assert_in_use(live, "third", &third);
    third
}

// ---------------------------------------------------------------- S3 (moto)

struct Bucket {
    moto: String,
    name: String,
}

impl Bucket {
    async fn new(moto: &str) -> Bucket {
        let name = unique("routes").to_lowercase();
        support::moto::create_bucket(moto, &name).await;
        Bucket {
            moto: moto.to_owned(),
            name,
        }
    }

    /// Uploads `text` and returns the new ETag without its quotes.
    async fn put(&self, key: &str, text: &str) -> String {
        support::moto::put_object(&self.moto, &self.name, key, text.as_bytes()).await
    }

    fn source(&self, key: &str) -> RoutesSource {
        RoutesSource::S3 {
            bucket: self.name.clone(),
            key: key.to_owned(),
        }
    }
}

#[tokio::test]
async fn s3_table_reloads_on_a_new_etag_and_refuses_a_bad_version() {
    let moto = moto();
    let sdk = sdk_config(&moto.url).await;
    let bucket = Bucket::new(&moto.url).await;
    let first = bucket.put("routes.json", &table("first")).await;

    let live = load(
        bucket.source("routes.json"),
        Duration::from_secs(60),
        Some(&sdk),
    )
    .await
    .unwrap();
    let bucket = &bucket;
    let fixed = follows_its_source(&live, &first, |text| async move {
        bucket.put("routes.json", &text).await
    })
    .await;

    // The version reaches the report of every run.
    let report = run_once(&live).await;
    assert_eq!(report.summary.delivered, 1);
    assert_eq!(report.routes_version.as_deref(), Some(fixed.as_str()));
}

#[tokio::test]
async fn s3_cold_start_fails_on_a_missing_object_or_a_bad_table() {
    let moto = moto();
    let sdk = sdk_config(&moto.url).await;
    let bucket = Bucket::new(&moto.url).await;
    let err = load(
        bucket.source("absent.json"),
        Duration::from_secs(60),
        Some(&sdk),
    )
    .await
    .unwrap_err();
    assert!(
        err.starts_with(&format!("cannot read s3://{}/absent.json: ", bucket.name))
            && err.contains("does not exist"),
        "{err}"
    );
    let etag = bucket.put("bad.json", BAD_TABLE).await;
    let err = load(
        bucket.source("bad.json"),
        Duration::from_secs(60),
        Some(&sdk),
    )
    .await
    .unwrap_err();
    assert!(
        err.starts_with(&format!(
            "bad routing table at s3://{}/bad.json version {etag}: route \"r\" target 1 (mqtt) field \"qos\"",
            bucket.name
        )),
        "{err}"
    );
}

// ---------------------------------------------------------------- AppConfig (extension stand-in)

fn profile(agent: &AppConfigAgent) -> RoutesSource {
    RoutesSource::AppConfig {
        application: "iot-fanout".into(),
        environment: "prod".into(),
        profile: "routes".into(),
        port: agent.port,
    }
}

#[tokio::test]
async fn appconfig_table_follows_the_deployed_version_and_keeps_the_last_good_one() {
    let agent = AppConfigAgent::start().await;
    agent.deploy("iot-fanout", "prod", "routes", &table("first"));
    let live = load(profile(&agent), Duration::from_secs(60), None)
        .await
        .unwrap();
    let agent = &agent;
    let last = follows_its_source(&live, "1", |text| async move {
        agent
            .deploy("iot-fanout", "prod", "routes", &text)
            .to_string()
    })
    .await;
    assert_eq!(last, "4");

    agent.stop();
    assert!(
        matches!(live.reload().await, Reload::Unreachable { reason } if reason.contains("cannot connect"))
    );
    assert_in_use(&live, "third", "4");
}

#[tokio::test]
async fn appconfig_table_is_reread_in_the_background_once_the_ttl_has_passed() {
    let agent = AppConfigAgent::start().await;
    agent.deploy("iot-fanout", "prod", "routes", &table("first"));
    let live = load(profile(&agent), Duration::from_secs(1), None)
        .await
        .unwrap();
    agent.deploy("iot-fanout", "prod", "routes", &table("second"));
    let before = agent.requests();
    assert_eq!(version(&live), "1", "within the TTL the source is not read");
    assert_eq!(agent.requests(), before);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The invocation that finds the TTL passed still runs on the table it took.
    assert_eq!(version(&live), "1");
    let started = tokio::time::Instant::now();
    while version(&live) != "2" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no background re-read"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(routes(&live), ["second"]);
}

/// The invocation that finds the TTL passed routes on the table it took, and returns only once
/// the re-read it started has finished: Lambda freezes the function between invocations.
#[tokio::test]
async fn an_invocation_routes_on_its_table_and_leaves_the_new_one_in_place() {
    let agent = AppConfigAgent::start().await;
    agent.deploy("iot-fanout", "prod", "routes", &table("first"));
    let live = load(profile(&agent), Duration::from_secs(1), None)
        .await
        .unwrap();
    agent.deploy("iot-fanout", "prod", "routes", &table("second"));
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let report = run_once(&live).await;
    assert_eq!(report.routes_version.as_deref(), Some("1"));
    assert_eq!(report.outcomes[0].targets[0].route.as_ref(), "first");
    assert_in_use(&live, "second", "2");
}

#[tokio::test]
async fn appconfig_cold_start_fails_when_the_extension_is_missing_or_nothing_is_deployed() {
    let agent = AppConfigAgent::start().await;
    let err = load(profile(&agent), Duration::from_secs(60), None)
        .await
        .unwrap_err();
    assert!(
        err.starts_with("cannot read appconfig://iot-fanout/prod/routes: the AppConfig extension answered HTTP 404: ResourceNotFoundException"),
        "{err}"
    );
    agent.stop();
    let err = load(profile(&agent), Duration::from_secs(60), None)
        .await
        .unwrap_err();
    assert!(
        err.contains(&format!(
            "cannot connect to the AppConfig extension on localhost:{}",
            agent.port
        )) && err.contains("AWS_APPCONFIG_EXTENSION_HTTP_PORT"),
        "{err}"
    );
}

#[tokio::test]
async fn tables_in_the_environment_or_a_file_are_read_once() {
    let live = load(
        RoutesSource::Inline(table("inline")),
        Duration::from_secs(1),
        None,
    )
    .await
    .unwrap();
    assert!(version(&live).starts_with("sha256:"));
    assert_eq!(live.reload().await, Reload::Fixed);
}
