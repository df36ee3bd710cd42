//! Packing: 10,000 mixed-size entries per destination kind, unordered and ordered; prints the
//! calls made against the minimum (count limits: ⌈n/limit⌉; byte limits: a lower bound, and for
//! ordered destinations the optimum, which greedy filling in order reaches) and the time taken.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::Instant;

use fanout::batch::{lower_bound, pack};
use fanout::destination::{Destination, EntryParams, SnsParams};
use fanout::sink::Entry;

const N: usize = 10_000;

fn entries(max_size: usize, seed: u64, sns: bool) -> Vec<Entry> {
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
                payload: Arc::from(vec![b'x'; size]),
                timestamp: None,
                params: if sns {
                    EntryParams::Sns(Arc::new(SnsParams {
                        group_id: Some(format!("g{}", i % 7)),
                        ..SnsParams::default()
                    }))
                } else {
                    EntryParams::Analytics
                },
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

fn main() {
    let cases: Vec<(&str, Destination, usize, bool)> = vec![
        (
            "analytics (100/call)",
            Destination::Analytics {
                channel: "c".into(),
            },
            131_072,
            false,
        ),
        (
            "events (10/call, 1 KiB)",
            Destination::Events { input: "i".into() },
            1024,
            false,
        ),
        (
            "sns standard (10/call, 256 KiB)",
            Destination::Sns {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
            },
            65_536,
            true,
        ),
        (
            "sns fifo (ordered)",
            Destination::Sns {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:t.fifo".into(),
            },
            65_536,
            true,
        ),
        (
            "mqtt (1/call)",
            Destination::Mqtt { topic: "t".into() },
            131_072,
            false,
        ),
    ];
    println!("| destination | order | entries | calls | minimum | lower bound | time |");
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (name, dest, max_size, sns) in cases {
        let limits = dest.kind().call_limits();
        for ordered in [false, true] {
            if dest.is_fifo() && !ordered {
                continue;
            }
            let input = entries(max_size, 7, sns);
            let sizes: Vec<usize> = input.iter().map(|e| e.size).collect();
            let start = Instant::now();
            let lanes = pack(&dest, input, ordered || dest.is_fifo());
            let elapsed = start.elapsed();
            let calls: usize = lanes.iter().map(|l| l.calls.len()).sum();
            let bound = lower_bound(&limits, &sizes);
            let minimum = if ordered || limits.max_bytes.is_none() {
                ordered_optimum(limits.max_entries, limits.max_bytes, &sizes).max(bound)
            } else {
                bound
            };
            println!(
                "| {name} | {} | {N} | {calls} | {minimum}{} | {bound} | {:.2} ms |",
                if ordered { "ordered" } else { "any" },
                if ordered || limits.max_bytes.is_none() {
                    ""
                } else {
                    " (bound)"
                },
                elapsed.as_secs_f64() * 1000.0
            );
        }
    }
}
