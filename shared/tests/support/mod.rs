//! Test support for the AWS sinks: real SDK clients pointed at local endpoints (moto, or the
//! wire-level stub for IoT Analytics and IoT Events Data), and small builders for calls.
#![allow(dead_code, unreachable_pub)]

pub mod alibaba;
pub mod appconfig;
pub mod moto;
pub mod stub;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{Region, SdkConfig};
use aws_sdk_sns::config::Credentials;
use fanout::destination::{Destination, EntryParams};
use fanout::dispatch::{DispatchOptions, RetryPolicy};
use fanout::sink::{Body, Call, Entry};
use tokio::time::Instant;

/// SDK config with static test credentials, region us-east-1 and every service at `endpoint`.
pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    fanout::sink::aws::sdk_config_loader()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// A name unique across tests and test processes sharing one moto server.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn entry(message: usize, id: &str, payload: &[u8], params: EntryParams) -> Entry {
    Entry {
        message,
        target: 0,
        id: id.to_owned(),
        payload: Body::from(payload),
        timestamp: None,
        params,
        size: payload.len(),
    }
}

pub fn call(destination: Destination, entries: Vec<Entry>) -> Call {
    Call {
        destination,
        entries,
    }
}

/// Fast retries for tests: up to `attempts` attempts, a few milliseconds apart.
pub fn dispatch_options(attempts: u32) -> DispatchOptions {
    DispatchOptions {
        retry: RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
        },
        concurrency: 4,
        deadline: Instant::now() + Duration::from_secs(20),
        safety_margin: Duration::from_millis(10),
        fleet_rate: None,
        alibaba_rate: None,
    }
}
