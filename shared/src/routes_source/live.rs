//! The routing table in use, swapped whole when a new version has loaded and passed every
//! check. Each invocation takes one snapshot ([`LiveTable::current`], a lock-free load) and keeps
//! it to the end; when the source's TTL has passed, taking it also starts a re-read in the
//! background, so routing never waits for S3 or AppConfig. Lambda freezes a function between
//! invocations, so the invocation lets that re-read finish before it returns
//! ([`LiveTable::settle`]) rather than leave it frozen half-way through a request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use aws_config::SdkConfig;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Fetched, Fetcher, LoadError, LoadedTable, RoutesConfig, RoutesSource};
use crate::metrics;
use crate::routes::RoutingTable;
use crate::validate::ContractLimits;

/// A routing table that may change while the function runs.
#[derive(Debug)]
pub struct LiveTable {
    current: ArcSwap<LoadedTable>,
    reload: Option<Reloader>,
}

/// What it takes to look for a new version.
#[derive(Debug)]
struct Reloader {
    fetcher: Fetcher,
    source: RoutesSource,
    ttl: Duration,
    limits: ContractLimits,
    /// EMF metrics (`RoutesRejected`) go out under this function name; `None`: no metrics.
    metrics_function: Option<String>,
    /// Times are kept as milliseconds after this instant, so one atomic holds the next check.
    epoch: Instant,
    next_check_ms: AtomicU64,
    running: AtomicBool,
    /// The background re-read [`LiveTable::current`] started, until [`LiveTable::settle`] waits for it.
    in_flight: Mutex<Option<JoinHandle<()>>>,
    /// The version read last, in use or refused: a refused version is not read, logged or
    /// counted again until the source changes once more.
    seen: Mutex<Option<String>>,
}

/// What one re-read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// The table never changes (inline, file, built in code), or re-reading is off.
    Fixed,
    /// Another re-read is under way.
    Busy,
    /// The source still holds the version read last.
    Unchanged,
    /// A new version passed every check and is in use from now on.
    Swapped { version: String },
    /// A new version failed a check; the last good table stays in use.
    Rejected { version: String, reason: String },
    /// The source could not be read; the last good table stays in use.
    Unreachable { reason: String },
}

impl LiveTable {
    /// A table that never changes.
    pub fn fixed(table: LoadedTable) -> LiveTable {
        LiveTable {
            current: ArcSwap::from_pointee(table),
            reload: None,
        }
    }

    /// Reads and checks the table, as every function does at cold start: an unreadable source or
    /// a bad table is an error (the init fails). A remote source with a TTL is re-read later.
    pub async fn load(
        config: &RoutesConfig,
        limits: &ContractLimits,
        metrics_function: Option<String>,
        sdk: Option<&SdkConfig>,
    ) -> Result<LiveTable, LoadError> {
        let fetcher = Fetcher::new(&config.source, sdk).await;
        let table = super::first_load(&config.source, &fetcher, limits).await?;
        tracing::info!(
            source = %config.source,
            version = table.version.as_deref().unwrap_or(""),
            routes = table.table.route_names().count(),
            "routing table loaded"
        );
        let reload = (config.source.is_remote() && !config.ttl.is_zero()).then(|| {
            let epoch = Instant::now();
            Reloader {
                seen: Mutex::new(table.version.as_deref().map(str::to_owned)),
                fetcher,
                source: config.source.clone(),
                ttl: config.ttl,
                limits: *limits,
                metrics_function,
                epoch,
                next_check_ms: AtomicU64::new(millis(config.ttl)),
                running: AtomicBool::new(false),
                in_flight: Mutex::new(None),
            }
        });
        Ok(LiveTable {
            current: ArcSwap::from_pointee(table),
            reload,
        })
    }

    /// The table for one invocation, to be kept until it ends. When the TTL has passed this
    /// also starts a re-read in the background (on the current tokio runtime), whose result
    /// later invocations see; this one routes on the table it took.
    pub fn current(self: &Arc<Self>) -> Arc<LoadedTable> {
        if let Some(reload) = &self.reload
            && reload.due()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
            && !reload.running.swap(true, Ordering::AcqRel)
        {
            let live = Arc::clone(self);
            let task = runtime.spawn(async move {
                live.reload_now().await;
            });
            *reload.in_flight.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        }
        self.current.load_full()
    }

    /// The table in use, without looking for a new version (dry runs, which end too soon to
    /// see a re-read through).
    pub fn peek(&self) -> Arc<LoadedTable> {
        self.current.load_full()
    }

    /// Waits, until `deadline` at the latest, for the re-read [`LiveTable::current`] started:
    /// called as an invocation ends, so the re-read does not sit frozen with the function
    /// between invocations (and come back to a connection S3 has closed).
    pub async fn settle(&self, deadline: Instant) {
        let Some(reload) = &self.reload else {
            return;
        };
        let task = reload
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            // Past the deadline the re-read goes on unwatched; it ends at its own timeout.
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
    }

    /// Reads the source now, whatever the TTL, and swaps in a new version that passes every
    /// check. The background re-read calls this; tests call it to wait for the outcome.
    pub async fn reload(&self) -> Reload {
        let Some(reload) = &self.reload else {
            return Reload::Fixed;
        };
        if reload.running.swap(true, Ordering::AcqRel) {
            return Reload::Busy;
        }
        self.reload_now().await
    }

    /// The re-read itself; the caller has set `running`, which is cleared here.
    async fn reload_now(&self) -> Reload {
        let Some(reload) = &self.reload else {
            return Reload::Fixed;
        };
        let outcome = self.read_and_swap(reload).await;
        reload.next_check_ms.store(
            reload.now_ms().saturating_add(millis(reload.ttl)),
            Ordering::Release,
        );
        reload.running.store(false, Ordering::Release);
        outcome
    }

    async fn read_and_swap(&self, reload: &Reloader) -> Reload {
        let in_use = self.current.load_full();
        let in_use_version = in_use.version.as_deref().unwrap_or("");
        let seen = reload.seen();
        let (text, version) = match reload.fetcher.fetch(seen.as_deref()).await {
            Ok(Fetched::Unchanged) => return Reload::Unchanged,
            // A store that ignores If-None-Match sends the same version again.
            Ok(Fetched::New { version, .. }) if seen.as_deref() == Some(version.as_str()) => {
                return Reload::Unchanged;
            }
            Ok(Fetched::New { text, version }) => (text, version),
            Err(e) => {
                let reason = e.to_string();
                tracing::warn!(
                    source = %reload.source,
                    in_use = in_use_version,
                    reason = %reason,
                    "routing table source unreachable; the table in use stays"
                );
                return Reload::Unreachable { reason };
            }
        };
        reload.saw(&version);
        // Parsing a large table takes milliseconds to a few hundred: off the async workers.
        let limits = reload.limits;
        let checked =
            tokio::task::spawn_blocking(move || RoutingTable::from_json(&text, &limits)).await;
        match checked {
            Ok(Ok(table)) => {
                tracing::info!(
                    source = %reload.source,
                    version = %version,
                    previous = in_use_version,
                    routes = table.route_names().count(),
                    "routing table reloaded"
                );
                self.current.store(Arc::new(LoadedTable {
                    table,
                    version: Some(Arc::from(version.as_str())),
                }));
                Reload::Swapped { version }
            }
            Ok(Err(error)) => {
                let reason = error.to_string();
                tracing::error!(
                    source = %reload.source,
                    version = %version,
                    in_use = in_use_version,
                    reason = %reason,
                    "routing table version rejected; the table in use stays"
                );
                if let Some(function) = &reload.metrics_function {
                    metrics::emit_rejected(function, &version);
                }
                Reload::Rejected { version, reason }
            }
            Err(join) => {
                let reason = format!("the check of the new table did not finish: {join}");
                tracing::error!(source = %reload.source, version = %version, reason = %reason, "routing table version not checked; the table in use stays");
                Reload::Rejected { version, reason }
            }
        }
    }
}

impl Reloader {
    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    fn due(&self) -> bool {
        self.now_ms() >= self.next_check_ms.load(Ordering::Acquire)
    }

    fn seen(&self) -> Option<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn saw(&self, version: &str) {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(version.to_owned());
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
