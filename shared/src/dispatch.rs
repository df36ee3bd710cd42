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
    /// The pause before attempt `attempt + 1`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
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
    /// BatchPub calls-per-second cap for Alibaba Cloud IoT Platform.
    pub alibaba_rate: Option<Arc<RateLimiter>>,
}

/// What happened to one entry of one call.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryResult {
    pub message: usize,
    /// The entry's [`Entry::target`].
    pub target: usize,
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
                target: e.target,
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
    let limit = opts
        .deadline
        .checked_sub(opts.safety_margin)
        .unwrap_or(opts.deadline);
    let start = out.entries.len();
    out.entries.extend(call.entries.iter().map(|e| EntryResult {
        message: e.message,
        target: e.target,
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
        let (limiter, cap) = match call.destination.kind() {
            Kind::Fleet => (&opts.fleet_rate, "the fleet publish rate cap"),
            Kind::Alibaba => (&opts.alibaba_rate, "the Alibaba BatchPub rate cap"),
            _ => (&None, ""),
        };
        if let Some(limiter) = limiter
            && !limiter.acquire(limit).await
        {
            mark(out, &pending, |r| {
                r.reason = Some(format!(
                    "not sent: {cap} leaves no slot before the invocation deadline"
                ));
            });
            return;
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
                            // Kinesis throttles a shard's records with this code.
                            if f.code.contains("Throttl")
                                || f.code == "ProvisionedThroughputExceededException"
                            {
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
                if !wait_for_retry(attempt, opts, limit, out, &pending).await {
                    return;
                }
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
        if !retryable || !wait_for_retry(attempt, opts, limit, out, &pending).await {
            return;
        }
    }
}

/// Backs off before attempt `attempt + 1`. False when the attempts are used up, or when the
/// wait would run into the deadline (the pending entries then say so).
async fn wait_for_retry(
    attempt: u32,
    opts: &DispatchOptions,
    limit: Instant,
    out: &mut LaneResult,
    pending: &[usize],
) -> bool {
    if attempt >= opts.retry.max_attempts {
        return false;
    }
    let delay = opts.retry.backoff(attempt);
    if Instant::now() + delay >= limit {
        mark(out, pending, |r| {
            append_reason(r, "retries stopped before the invocation deadline");
        });
        return false;
    }
    tokio::time::sleep(delay).await;
    true
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use crate::sink::Body;
    use std::sync::Mutex as StdMutex;

    use futures::future::BoxFuture;

    use super::*;
    use crate::batch;
    use crate::destination::{EntryParams, SnsParams};
    use crate::sink::{CallReport, Entry, EntryFailure, Sink};

    type Script = dyn Fn(&Call, usize) -> Result<CallReport, CallError> + Send + Sync;

    /// A sink that answers from a script and records every call's entry ids.
    struct FakeSink {
        script: Box<Script>,
        log: StdMutex<Vec<Vec<String>>>,
        delay: Duration,
    }

    impl std::fmt::Debug for FakeSink {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("FakeSink")
        }
    }

    impl Sink for FakeSink {
        fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
            Box::pin(async move {
                let n = {
                    let mut log = self.log.lock().unwrap();
                    log.push(call.entries.iter().map(|e| e.id.clone()).collect());
                    log.len()
                };
                tokio::time::sleep(self.delay).await;
                (self.script)(call, n)
            })
        }
    }

    fn fake(
        script: impl Fn(&Call, usize) -> Result<CallReport, CallError> + Send + Sync + 'static,
    ) -> Arc<FakeSink> {
        Arc::new(FakeSink {
            script: Box::new(script),
            log: StdMutex::new(Vec::new()),
            delay: Duration::ZERO,
        })
    }

    fn opts(deadline_in: Duration) -> DispatchOptions {
        DispatchOptions {
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            },
            concurrency: 4,
            deadline: Instant::now() + deadline_in,
            safety_margin: Duration::from_millis(10),
            fleet_rate: None,
            alibaba_rate: None,
        }
    }

    fn entry(message: usize, group: Option<&str>) -> Entry {
        Entry {
            message,
            target: 0,
            id: format!("e{message}"),
            payload: Body::from(&b"{}"[..]),
            timestamp: None,
            params: EntryParams::Sns(Arc::new(SnsParams {
                group_id: group.map(str::to_owned),
                ..SnsParams::default()
            })),
            size: 2,
        }
    }

    fn lanes(
        dest: &Destination,
        n: usize,
        ordered: bool,
        group: impl Fn(usize) -> Option<&'static str>,
    ) -> Vec<Lane> {
        batch::pack(dest, (0..n).map(|i| entry(i, group(i))).collect(), ordered)
    }

    fn standard() -> Destination {
        Destination::Sns {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
        }
    }

    fn fifo() -> Destination {
        Destination::Sns {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t.fifo".into(),
        }
    }

    fn results(out: &[LaneResult]) -> Vec<EntryResult> {
        let mut all: Vec<EntryResult> = out.iter().flat_map(|l| l.entries.clone()).collect();
        all.sort_by_key(|r| r.message);
        all
    }

    #[tokio::test]
    async fn retries_only_the_failed_entries_until_delivered() {
        // Entry 1 fails retryably on the first call; the second call must carry only it.
        let sink = fake(|call, n| {
            Ok(CallReport {
                failed: call
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| n == 1 && e.id == "e1")
                    .map(|(index, _)| EntryFailure {
                        index,
                        code: "InternalError".into(),
                        reason: "try again".into(),
                        retryable: true,
                    })
                    .collect(),
            })
        });
        let out = dispatch(
            lanes(&standard(), 3, false, |_| None),
            &Sinks::all(sink.clone()),
            &opts(Duration::from_secs(5)),
        )
        .await;
        let r = results(&out);
        assert!(
            r.iter().all(|r| r.status == TargetStatus::Delivered),
            "{r:?}"
        );
        assert_eq!(r[1].attempts, 2);
        assert_eq!(r[0].attempts, 1);
        assert_eq!(
            *sink.log.lock().unwrap(),
            vec![vec!["e0", "e1", "e2"], vec!["e1"]]
        );
        assert_eq!(out.iter().map(|l| l.retries).sum::<usize>(), 1);
    }

    #[tokio::test]
    async fn permanent_entry_failures_are_not_retried() {
        let sink = fake(|call, _| {
            Ok(CallReport {
                failed: vec![EntryFailure {
                    index: 0,
                    code: "InvalidParameter".into(),
                    reason: "bad".into(),
                    retryable: false,
                }]
                .into_iter()
                .filter(|_| !call.entries.is_empty())
                .collect(),
            })
        });
        let out = dispatch(
            lanes(&standard(), 2, false, |_| None),
            &Sinks::all(sink.clone()),
            &opts(Duration::from_secs(5)),
        )
        .await;
        let r = results(&out);
        assert_eq!(r[0].status, TargetStatus::Failed);
        assert!(!r[0].retryable);
        assert_eq!(r[0].reason.as_deref(), Some("bad (InvalidParameter)"));
        assert_eq!(r[1].status, TargetStatus::Delivered);
        assert_eq!(sink.log.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn throttled_calls_are_retried_whole_and_bounded() {
        let sink = fake(|_, _| {
            Err(CallError::new(
                ErrorClass::Throttled,
                "ThrottlingException",
                "slow down",
            ))
        });
        let out = dispatch(
            lanes(&standard(), 2, false, |_| None),
            &Sinks::all(sink.clone()),
            &opts(Duration::from_secs(5)),
        )
        .await;
        let r = results(&out);
        assert!(
            r.iter()
                .all(|r| r.status == TargetStatus::Failed && r.retryable && r.attempts == 3)
        );
        assert_eq!(
            sink.log.lock().unwrap().len(),
            3,
            "max_attempts bounds the calls"
        );
        assert_eq!(out[0].throttles, 3);
    }

    // Virtual time: deterministic on a loaded machine.
    #[tokio::test(start_paused = true)]
    async fn nothing_is_sent_past_the_deadline() {
        let sink = Arc::new(FakeSink {
            script: Box::new(|_, _| {
                Err(CallError::new(
                    ErrorClass::Transient,
                    "InternalError",
                    "boom",
                ))
            }),
            log: StdMutex::new(Vec::new()),
            delay: Duration::from_millis(30),
        });
        let mut o = opts(Duration::from_millis(80));
        o.retry.base_delay = Duration::from_millis(200);
        o.retry.max_delay = Duration::from_millis(200);
        o.retry.max_attempts = 10;
        let started = Instant::now();
        let out = dispatch(
            lanes(&standard(), 1, false, |_| None),
            &Sinks::all(sink.clone()),
            &o,
        )
        .await;
        assert!(Instant::now() <= o.deadline, "returned after the deadline");
        let r = results(&out);
        assert_eq!(r[0].status, TargetStatus::Failed);
        assert!(r[0].retryable);
        assert!(started.elapsed() < Duration::from_millis(80));
        assert!(sink.log.lock().unwrap().len() < 10);
    }

    // Virtual time: deterministic on a loaded machine.
    #[tokio::test(start_paused = true)]
    async fn a_slow_call_is_cut_at_the_deadline_and_reported() {
        let sink = Arc::new(FakeSink {
            script: Box::new(|_, _| Ok(CallReport::default())),
            log: StdMutex::new(Vec::new()),
            delay: Duration::from_secs(10),
        });
        let o = opts(Duration::from_millis(50));
        let out = dispatch(
            lanes(&standard(), 1, false, |_| None),
            &Sinks::all(sink),
            &o,
        )
        .await;
        let r = results(&out);
        assert_eq!(r[0].status, TargetStatus::Failed);
        assert_eq!(r[0].code.as_deref(), Some("Timeout"));
        assert!(Instant::now() <= o.deadline);
    }

    #[tokio::test]
    async fn ordered_lane_skips_later_entries_of_a_failed_group() {
        // 25 entries, alternating groups a/b, so the FIFO lane has 3 calls. Entry 2 (group a)
        // fails permanently: later group-a entries must not be sent, group b goes on.
        let sink = fake(|call, _| {
            Ok(CallReport {
                failed: call
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| e.id == "e2")
                    .map(|(index, _)| EntryFailure {
                        index,
                        code: "InvalidParameter".into(),
                        reason: "bad".into(),
                        retryable: false,
                    })
                    .collect(),
            })
        });
        let out = dispatch(
            lanes(&fifo(), 25, true, |i| {
                Some(if i % 2 == 0 { "a" } else { "b" })
            }),
            &Sinks::all(sink.clone()),
            &opts(Duration::from_secs(5)),
        )
        .await;
        let r = results(&out);
        for (i, r) in r.iter().enumerate() {
            let expected = match (i % 2, i) {
                (_, 2) => TargetStatus::Failed,
                (0, i) if i < 2 => TargetStatus::Delivered,
                (0, _) if i < 10 => TargetStatus::Delivered, // same call as e2: already sent with it
                (0, _) => TargetStatus::Skipped,
                _ => TargetStatus::Delivered,
            };
            assert_eq!(r.status, expected, "entry {i}");
        }
        let sent: Vec<String> = sink.log.lock().unwrap().concat();
        assert!(!sent.contains(&"e10".to_owned()));
        assert!(sent.contains(&"e11".to_owned()));
    }

    // Virtual time: deterministic on a loaded machine.
    #[tokio::test(start_paused = true)]
    async fn fleet_rate_cap_spaces_calls() {
        let sink = fake(|_, _| Ok(CallReport::default()));
        let mut o = opts(Duration::from_secs(5));
        o.fleet_rate = RateLimiter::per_second(100.0).map(Arc::new);
        let dest = Destination::Fleet {
            topic: "/p/d/user/x".into(),
        };
        let started = Instant::now();
        let out = dispatch(lanes(&dest, 5, false, |_| None), &Sinks::all(sink), &o).await;
        assert!(
            results(&out)
                .iter()
                .all(|r| r.status == TargetStatus::Delivered)
        );
        // 5 publishes at 100/s: the 5th may start no earlier than 40 ms after the 1st.
        assert!(started.elapsed() >= Duration::from_millis(40));
    }

    // Virtual time: deterministic on a loaded machine.
    #[tokio::test(start_paused = true)]
    async fn alibaba_rate_cap_spaces_calls_and_their_retries() {
        // The first call is throttled once: its retry takes a slot of the cap too.
        let sink = fake(|_, n| {
            if n == 1 {
                Err(CallError::new(
                    ErrorClass::Throttled,
                    "Throttling.User",
                    "slow down",
                ))
            } else {
                Ok(CallReport::default())
            }
        });
        let mut o = opts(Duration::from_secs(5));
        o.alibaba_rate = RateLimiter::per_second(10.0).map(Arc::new);
        o.fleet_rate = RateLimiter::per_second(1_000.0).map(Arc::new);
        let dest = Destination::Alibaba(Arc::new(crate::validate::testing::alibaba(&["dev-1"])));
        let started = Instant::now();
        let out = dispatch(
            lanes(&dest, 3, false, |_| None),
            &Sinks::all(sink.clone()),
            &o,
        )
        .await;
        assert!(
            results(&out)
                .iter()
                .all(|r| r.status == TargetStatus::Delivered)
        );
        assert_eq!(sink.log.lock().unwrap().len(), 4);
        // 4 calls at 10/s (the fleet's own cap does not apply): the 4th starts 300 ms after the 1st.
        assert!(started.elapsed() >= Duration::from_millis(300));
        // Without time left for a slot, nothing is sent and the entries say why.
        let mut o = opts(Duration::from_millis(150));
        o.alibaba_rate = RateLimiter::per_second(10.0).map(Arc::new);
        let sink = fake(|_, _| Ok(CallReport::default()));
        let out = dispatch(
            lanes(&dest, 3, false, |_| None),
            &Sinks::all(sink.clone()),
            &o,
        )
        .await;
        let r = results(&out);
        assert_eq!(
            r.iter()
                .filter(|r| r.status == TargetStatus::Delivered)
                .count(),
            2
        );
        assert!(
            r.iter().any(|r| r
                .reason
                .as_deref()
                .is_some_and(|x| x.contains("Alibaba BatchPub rate cap"))),
            "{r:?}"
        );
    }

    #[test]
    fn backoff_stays_within_the_cap() {
        let p = RetryPolicy::default();
        for attempt in 1..30 {
            assert!(p.backoff(attempt) <= p.max_delay);
        }
    }
}
