//! Sending: lanes of calls run concurrently under a bound; each call is retried with jittered
//! exponential backoff, only for what failed, and never past the invocation deadline.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::batch::Lane;
use crate::destination::{Destination, Kind};
use crate::outcome::TargetStatus;
use crate::sink::{Call, CallError, ErrorClass, Sinks};

/// How often and how patiently a failed call is tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Backoff before attempt n+1 is drawn uniformly from [0, min(max_delay, base_delay·2ⁿ⁻¹)]
    /// ("full jitter"), so throttled callers spread out instead of retrying in step.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max_delay);
        cap.mul_f64(fastrand::f64())
    }
}

/// Spaces out calls to a minimum interval (the fleet publishes-per-second cap).
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// `None` for a non-positive or non-finite rate.
    pub fn per_second(rate: f64) -> Option<Self> {
        (rate.is_finite() && rate > 0.0).then(|| RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(Instant::now()),
        })
    }

    /// Waits for the next slot; false when that slot is past `limit`, in which case no slot is taken.
    async fn acquire(&self, limit: Instant) -> bool {
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            if slot > limit {
                return false;
            }
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

/// Everything the dispatcher needs besides the calls.
#[derive(Debug, Clone)]
pub struct DispatchOptions {
    pub retry: RetryPolicy,
    /// Lanes in flight at once.
    pub concurrency: usize,
    /// When the invocation must have answered (Lambda's deadline).
    pub deadline: Instant,
    /// Time kept free before the deadline for reporting; no attempt starts or runs into it.
    pub safety_margin: Duration,
    /// Publishes-per-second cap for device fleets.
    pub fleet_rate: Option<Arc<RateLimiter>>,
}

/// What happened to one entry of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryResult {
    pub message: usize,
    pub status: TargetStatus,
    pub retryable: bool,
    pub attempts: u32,
    pub code: Option<String>,
    pub reason: Option<String>,
}

/// Results of every entry of one destination's lane.
#[derive(Debug, Clone)]
pub struct LaneResult {
    pub destination: Destination,
    pub entries: Vec<EntryResult>,
    pub calls: usize,
    pub retries: usize,
    pub throttles: usize,
}

/// Sends every lane and returns one result per entry; nothing is left unreported.
pub async fn dispatch(lanes: Vec<Lane>, sinks: &Sinks, opts: &DispatchOptions) -> Vec<LaneResult> {
    futures::stream::iter(lanes)
        .map(|lane| run_lane(lane, sinks, opts))
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await
}

async fn run_lane(lane: Lane, sinks: &Sinks, opts: &DispatchOptions) -> LaneResult {
    let mut result = LaneResult {
        destination: lane.destination,
        entries: Vec::new(),
        calls: 0,
        retries: 0,
        throttles: 0,
    };
    // In an ordered lane, a message that failed blocks the later messages of its group
    // (SNS FIFO message group), or of the whole lane when entries have no group.
    let mut blocked_groups: HashSet<String> = HashSet::new();
    let mut lane_blocked = false;
    for mut call in lane.calls {
        if lane.ordered {
            let (keep, skip): (Vec<_>, Vec<_>) = call.entries.into_iter().partition(|e| {
                !lane_blocked && e.group().is_none_or(|g| !blocked_groups.contains(g))
            });
            result.entries.extend(skip.iter().map(|e| EntryResult {
                message: e.message,
                status: TargetStatus::Skipped,
                retryable: true,
                attempts: 0,
                code: None,
                reason: Some(match e.group() {
                    Some(g) => format!(
                        "not sent: an earlier message of group `{g}` to this ordered destination was not delivered"
                    ),
                    None => "not sent: an earlier message to this ordered destination was not delivered".to_owned(),
                }),
            }));
            call.entries = keep;
            if call.entries.is_empty() {
                continue;
            }
        }
        let groups: Vec<Option<String>> = if lane.ordered {
            call.entries
                .iter()
                .map(|e| e.group().map(str::to_owned))
                .collect()
        } else {
            Vec::new()
        };
        let before = result.entries.len();
        send_with_retries(call, sinks, opts, &mut result).await;
        if lane.ordered {
            for (r, group) in result.entries.iter().skip(before).zip(groups) {
                if r.status != TargetStatus::Delivered {
                    match group {
                        Some(g) => {
                            blocked_groups.insert(g);
                        }
                        None => lane_blocked = true,
                    }
                }
            }
        }
    }
    result
}

/// Sends one call, retrying what may succeed. Appends exactly one result per entry, in entry order.
async fn send_with_retries(
    mut call: Call,
    sinks: &Sinks,
    opts: &DispatchOptions,
    out: &mut LaneResult,
) {
    let sink = sinks.for_kind(call.destination.kind());
    let limit = opts.deadline.checked_sub(opts.safety_margin).unwrap_or(opts.deadline);
    let start = out.entries.len();
    out.entries.extend(call.entries.iter().map(|e| EntryResult {
        message: e.message,
        status: TargetStatus::Failed,
        retryable: true,
        attempts: 0,
        code: None,
        reason: Some("not sent: no time left before the invocation deadline".to_owned()),
    }));
    // Position in `out.entries` of each entry still pending.
    let mut pending: Vec<usize> = (start..out.entries.len()).collect();
    let mut attempt = 0u32;

    loop {
        attempt += 1;
        if call.destination.kind() == Kind::Fleet {
            if let Some(limiter) = &opts.fleet_rate {
                if !limiter.acquire(limit).await {
                    mark(out, &pending, |r| {
                        r.reason = Some(
                            "not sent: the fleet publish rate cap leaves no slot before the invocation deadline"
                                .to_owned(),
                        );
                    });
                    return;
                }
            }
        }
        let now = Instant::now();
        if now >= limit {
            return; // entries already say "no time left"
        }
        out.calls += 1;
        if attempt > 1 {
            out.retries += 1;
        }
        let sent = tokio::time::timeout(limit - now, sink.send(&call)).await;
        let error: CallError = match sent {
            Ok(Ok(report)) => {
                let mut still_pending = Vec::new();
                let mut retry_entries = Vec::new();
                let mut failures = report.failed;
                failures.sort_by_key(|f| f.index);
                let mut failures = failures.into_iter().peekable();
                for (i, (pos, entry)) in pending.iter().zip(call.entries).enumerate() {
                    let failure = failures
                        .peek()
                        .filter(|f| f.index == i)
                        .is_some()
                        .then(|| failures.next())
                        .flatten();
                    let Some(r) = out.entries.get_mut(*pos) else {
                        continue;
                    };
                    r.attempts = attempt;
                    match failure {
                        None => {
                            r.status = TargetStatus::Delivered;
                            r.retryable = false;
                            r.code = None;
                            r.reason = None;
                        }
                        Some(f) => {
                            r.status = TargetStatus::Failed;
                            r.retryable = f.retryable;
                            r.reason = Some(format!("{} ({})", f.reason, f.code));
                            if f.code.contains("Throttl") {
                                out.throttles += 1;
                            }
                            r.code = Some(f.code);
                            if f.retryable {
                                still_pending.push(*pos);
                                retry_entries.push(entry);
                            }
                        }
                    }
                }
                pending = still_pending;
                call.entries = retry_entries;
                if pending.is_empty() {
                    return;
                }
                // Per-entry failures: retry only those entries.
                if attempt >= opts.retry.max_attempts {
                    return;
                }
                let delay = opts.retry.backoff(attempt);
                if Instant::now() + delay >= limit {
                    mark(out, &pending, |r| {
                        append_reason(r, "retries stopped before the invocation deadline");
                    });
                    return;
                }
                tokio::time::sleep(delay).await;
                continue;
            }
            Ok(Err(e)) => e,
            Err(_elapsed) => CallError::new(
                ErrorClass::Transient,
                "Timeout",
                "no answer before the invocation deadline (the call may still have been applied)",
            ),
        };
        if error.class == ErrorClass::Throttled {
            out.throttles += 1;
        }
        let retryable = error.class.retryable();
        let reason = format!("{} ({})", error.message, error.code);
        mark(out, &pending, |r| {
            r.attempts = attempt;
            r.status = TargetStatus::Failed;
            r.retryable = retryable;
            r.code = Some(error.code.clone());
            r.reason = Some(reason.clone());
        });
        if !retryable || attempt >= opts.retry.max_attempts {
            return;
        }
        let delay = opts.retry.backoff(attempt);
        if Instant::now() + delay >= limit {
            mark(out, &pending, |r| {
                append_reason(r, "retries stopped before the invocation deadline");
            });
            return;
        }
        tokio::time::sleep(delay).await;
    }
}

fn mark(out: &mut LaneResult, positions: &[usize], f: impl Fn(&mut EntryResult)) {
    for pos in positions {
        if let Some(r) = out.entries.get_mut(*pos) {
            f(r);
        }
    }
}

fn append_reason(r: &mut EntryResult, note: &str) {
    r.reason = Some(match r.reason.take() {
        Some(reason) => format!("{reason}; {note}"),
        None => note.to_owned(),
    });
}
