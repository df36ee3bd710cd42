//! Packing: 10,000 mixed-size entries per destination kind, unordered and ordered; prints the
//! calls made against the minimum (count limits: ⌈n/limit⌉; byte limits: a lower bound, and for
//! ordered destinations the optimum, which greedy filling in order reaches; for ordered Kinesis
//! streams and SQS queues, which take one entry per key and call, the bound also counts the
//! longest run of one key) and the time taken.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Instant;

use fanout::batch::{call_limits, lower_bound, pack};
use fanout::destination::{
    Destination, DetailMode, EntryParams, EventBridgeParams, FirehoseParams, Kind, KinesisParams,
    SnsParams, SqsParams,
};
use fanout::sink::{Body, Entry};

const N: usize = 10_000;
/// Devices behind the keyed destinations (SNS FIFO groups use 7, as before).
const DEVICES: usize = 1_000;

/// The entry parameters of message `i` for a destination kind: SNS FIFO groups, Kinesis
/// partition keys and SQS FIFO groups by device.
fn params(kind: Kind, i: usize) -> EntryParams {
    match kind {
        Kind::Sns => EntryParams::Sns(Arc::new(SnsParams {
            group_id: Some(format!("g{}", i % 7)),
            ..SnsParams::default()
        })),
        Kind::Firehose => EntryParams::Firehose(Arc::new(FirehoseParams::default())),
        Kind::Kinesis => EntryParams::Kinesis(Arc::new(KinesisParams {
            partition_key: format!("device-{}", i % DEVICES),
            explicit_hash_key: None,
            max_record_bytes: 1 << 20,
        })),
        Kind::EventBridge => EntryParams::EventBridge(Arc::new(EventBridgeParams {
            source: "iot.fanout".into(),
            detail_type: "telemetry".into(),
            resources: Vec::new(),
            detail: DetailMode::Envelope,
        })),
        Kind::Sqs => EntryParams::Sqs(Arc::new(SqsParams {
            group_id: Some(format!("device-{}", i % DEVICES)),
            delay_seconds: None,
            attributes: Vec::new(),
            max_message_bytes: 262_144,
        })),
        _ => EntryParams::Analytics,
    }
}

fn entries(max_size: usize, seed: u64, kind: Kind) -> Vec<Entry> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..N)
        .map(|i| {
            // Mostly small messages with a long tail, as device telemetry tends to be.
            let size = if rng.u8(..10) == 0 {
                rng.usize(1..=max_size)
            } else {
                rng.usize(1..=max_size / 8 + 1)
            };
            Entry {
                message: i,
                target: 0,
                id: format!("m-{i}"),
                payload: Body::from(vec![b'x'; size]),
                timestamp: None,
                params: params(kind, i),
                size,
            }
        })
        .collect()
}

/// The fewest contiguous calls: fill each call in order as far as the limits allow. For a
/// sequence split into contiguous parts under monotone limits, this greedy is optimal.
fn ordered_optimum(max_entries: usize, max_bytes: Option<usize>, sizes: &[usize]) -> usize {
    let (mut calls, mut count, mut bytes) = (0, 0, 0);
    for &s in sizes {
        let fits = count < max_entries && max_bytes.is_none_or(|m| bytes + s <= m);
        if count == 0 || !fits {
            calls += 1;
            count = 0;
            bytes = 0;
        }
        count += 1;
        bytes += s;
    }
    calls
}

/// The longest run of one ordering key: calls an ordered Kinesis or SQS lane needs at least.
fn longest_key_run(entries: &[Entry]) -> usize {
    let mut runs = std::collections::HashMap::new();
    for e in entries {
        *runs.entry(e.group()).or_insert(0usize) += 1;
    }
    runs.into_values().max().unwrap_or(0)
}

fn main() {
    let cases: Vec<(&str, Destination, usize)> = vec![
        (
            "analytics (100/call)",
            Destination::Analytics {
                channel: "c".into(),
            },
            131_072,
        ),
        (
            "events (10/call, 1 KiB)",
            Destination::Events { input: "i".into() },
            1024,
        ),
        (
            "sns standard (10/call, 256 KiB)",
            Destination::Sns {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
            },
            65_536,
        ),
        (
            "sns fifo (ordered)",
            Destination::Sns {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:t.fifo".into(),
            },
            65_536,
        ),
        (
            "mqtt (1/call)",
            Destination::Mqtt { topic: "t".into() },
            131_072,
        ),
        (
            "firehose (500/call, 4 MiB)",
            Destination::Firehose {
                delivery_stream: "f".into(),
            },
            65_536,
        ),
        (
            "kinesis (500/call, 10 MiB)",
            Destination::Kinesis { stream: "k".into() },
            65_536,
        ),
        (
            "eventbridge (10/call, 1 MiB)",
            Destination::EventBridge {
                event_bus: "b".into(),
            },
            65_536,
        ),
        (
            "sqs standard (10/call, queue 256 KiB)",
            Destination::Sqs {
                queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q".into(),
            },
            65_536,
        ),
        (
            "sqs fifo (ordered)",
            Destination::Sqs {
                queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo".into(),
            },
            65_536,
        ),
    ];
    println!("| destination | order | entries | calls | minimum | lower bound | time |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, dest, max_size) in cases {
        for ordered in [false, true] {
            if dest.is_fifo() && !ordered {
                continue;
            }
            let input = entries(max_size, 7, dest.kind());
            let limits = call_limits(&dest, &input);
            let sizes: Vec<usize> = input.iter().map(|e| e.size).collect();
            let keyed = ordered && matches!(dest.kind(), Kind::Kinesis | Kind::Sqs);
            let bound = if keyed {
                lower_bound(&limits, &sizes).max(longest_key_run(&input))
            } else {
                lower_bound(&limits, &sizes)
            };
            let start = Instant::now();
            let lanes = pack(&dest, input, ordered || dest.is_fifo());
            let elapsed = start.elapsed();
            let calls: usize = lanes.iter().map(|l| l.calls.len()).sum();
            // A packing that meets a lower bound is a minimum; so is greedy filling of
            // contiguous calls.
            let (minimum, known) = if calls == bound {
                (bound, true)
            } else if ordered && !keyed || limits.max_bytes.is_none() {
                (
                    ordered_optimum(limits.max_entries, limits.max_bytes, &sizes).max(bound),
                    true,
                )
            } else {
                (bound, false)
            };
            println!(
                "| {name} | {} | {N} | {calls} | {minimum}{} | {bound} | {:.2} ms |",
                if ordered { "ordered" } else { "any" },
                if known { "" } else { " (bound)" },
                elapsed.as_secs_f64() * 1000.0
            );
        }
    }
}
