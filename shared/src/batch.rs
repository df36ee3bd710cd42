//! Packing: entries for one destination into the fewest calls that respect its count and byte limits.

use std::collections::{HashMap, HashSet};

use crate::destination::{CallLimits, Destination, Kind};
use crate::sink::{Call, Entry};

/// Calls for one destination, sent one after another when `ordered`, concurrently otherwise.
#[derive(Debug, Clone)]
pub struct Lane {
    pub destination: Destination,
    pub ordered: bool,
    pub calls: Vec<Call>,
}

/// Packs one destination's entries into lanes.
///
/// Ordered destinations keep entry order: the calls are consecutive runs of the input, filled
/// greedily, which is the fewest calls any order-keeping split can make. Unordered destinations
/// with a byte limit get the best of three packings (`fewest_unordered`). Each call also keeps entry ids unique, which
/// IoT Analytics and IoT Events require within a batch; only two messages sharing an id can
/// break a run early.
///
/// Ordered Kinesis streams and SQS queues get at most one entry per ordering key (partition key,
/// message group) in each call, see [`by_key_layers`].
///
/// Every entry must fit a call on its own (the contract checks before packing guarantee it);
/// an oversized entry still gets a call of its own, never dropped.
pub fn pack(destination: &Destination, entries: Vec<Entry>, ordered: bool) -> Vec<Lane> {
    // One entry is one call whatever the limits: the usual case for MQTT topics and shadows
    // rendered per device, where the packings' index lists cost more than the call itself.
    if entries.len() == 1 {
        return vec![Lane {
            destination: destination.clone(),
            ordered,
            calls: vec![Call {
                destination: destination.clone(),
                entries,
            }],
        }];
    }
    let limits = call_limits(destination, &entries);
    if entries.is_empty() {
        return Vec::new();
    }
    let input = Input::new(limits, &entries);
    let plan = if ordered && matches!(destination.kind(), Kind::Kinesis | Kind::Sqs) {
        by_key_layers(&input)
    } else if ordered || limits.max_bytes.is_none() {
        in_order(&input)
    } else {
        fewest_unordered(&input)
    };
    let calls = take_calls(entries, plan);
    let calls = calls.into_iter().map(|entries| Call {
        destination: destination.clone(),
        entries,
    });
    if ordered {
        vec![Lane {
            destination: destination.clone(),
            ordered: true,
            calls: calls.collect(),
        }]
    } else {
        calls
            .map(|call| Lane {
                destination: destination.clone(),
                ordered: false,
                calls: vec![call],
            })
            .collect()
    }
}

/// One destination's entries and limits, as every packing reads them.
struct Input<'a> {
    limits: CallLimits,
    entries: &'a [Entry],
    /// Whether two entries share an id. Ids are hashes of the message id and the destination, so
    /// only messages sent with the same id repeat one; when none do, no call needs to compare
    /// ids (comparing each entry with every member was O(n²) string compares: 4,950 for one IoT
    /// Analytics call of 100).
    ids_repeat: bool,
}

impl<'a> Input<'a> {
    fn new(limits: CallLimits, entries: &'a [Entry]) -> Self {
        let ids_repeat = limits.max_entries > 1 && entries.len() > 1 && {
            let mut seen: HashSet<&str, foldhash::fast::RandomState> =
                HashSet::with_capacity_and_hasher(entries.len(), Default::default());
            !entries.iter().all(|e| seen.insert(&e.id))
        };
        Input {
            limits,
            entries,
            ids_repeat,
        }
    }

    fn size(&self, i: usize) -> usize {
        self.entries.get(i).map_or(0, |e| e.size)
    }
}

/// The kind's call limits, with the byte limit lowered to the smallest cap an entry carries (an
/// SQS queue's MaximumMessageSize).
pub fn call_limits(destination: &Destination, entries: &[Entry]) -> CallLimits {
    let mut limits = destination.kind().call_limits();
    if let Some(cap) = entries.iter().filter_map(Entry::call_byte_cap).min() {
        limits.max_bytes = Some(limits.max_bytes.map_or(cap, |max| max.min(cap)));
    }
    limits
}

/// Kinesis PutRecords and SQS SendMessageBatch process every entry of a call even when one in the
/// middle fails ("A single record failure does not stop the processing of subsequent records. As
/// a result, PutRecords doesn't guarantee the ordering of records", API reference, PutRecords), so
/// a later record of the same key could land before the failed one is retried. Each call
/// therefore holds at most one entry per key: an entry goes into the first call after the one
/// holding its key's previous entry that has room. The dispatcher retries a failed entry before
/// the next call goes out, and skips its key's later entries if it stays failed, so records of
/// one key are written in order. Entries without a key share one.
fn by_key_layers(input: &Input<'_>) -> Vec<Vec<usize>> {
    let max_entries = input.limits.max_entries;
    let mut calls: Vec<Slots> = Vec::new();
    let mut next_for_key: HashMap<Option<&str>, usize> = HashMap::new();
    // Calls before this one are full by count.
    let mut first_open = 0;
    for (i, entry) in input.entries.iter().enumerate() {
        let key = entry.group();
        let from = next_for_key.get(&key).copied().unwrap_or(0).max(first_open);
        let found = calls
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, call)| call.fits(input, i))
            .map(|(c, _)| c);
        let at = found.unwrap_or_else(|| {
            calls.push(Slots::new(max_entries));
            calls.len() - 1
        });
        if let Some(call) = calls.get_mut(at) {
            call.push(input, i);
        }
        next_for_key.insert(key, at + 1);
        while calls
            .get(first_open)
            .is_some_and(|c| c.members.len() >= max_entries)
        {
            first_open += 1;
        }
    }
    calls.into_iter().map(|c| c.members).collect()
}

/// Count and byte limits together make first-fit decreasing weak: it spends a call's entry slots
/// on mid-sized entries while tiny ones are left for calls of their own (seen on the packing
/// benchmark: 1,402 IoT Events calls for a lower bound of 1,071). So up to three packings are
/// computed on entry indexes and the first with the fewest calls is kept; each is O(n log n) or
/// less, and the entries themselves are moved once, by `take_calls`. A packing that reaches the
/// lower bound cannot be beaten, so the ones after it are not computed (entries of IoT Events'
/// usual size, over 512 bytes, each need a call of their own, and first-fit gets there).
fn fewest_unordered(input: &Input<'_>) -> Vec<Vec<usize>> {
    let bound = bound(&input.limits, input.entries.iter().map(|e| e.size));
    let packings: [Packing; 3] = [first_fit_decreasing, largest_then_smallest, in_order];
    let mut best: Vec<Vec<usize>> = Vec::new();
    for (n, packing) in packings.into_iter().enumerate() {
        let calls = packing(input);
        if n == 0 || calls.len() < best.len() {
            best = calls;
        }
        if best.len() <= bound {
            break;
        }
    }
    best
}

/// A packing: each call's entry indexes.
type Packing = fn(&Input<'_>) -> Vec<Vec<usize>>;

/// Moves each entry into the call its index was packed into.
fn take_calls(entries: Vec<Entry>, plan: Vec<Vec<usize>>) -> Vec<Vec<Entry>> {
    let mut slots: Vec<Option<Entry>> = entries.into_iter().map(Some).collect();
    plan.into_iter()
        .map(|call| {
            call.into_iter()
                .filter_map(|i| slots.get_mut(i).and_then(Option::take))
                .collect()
        })
        .collect()
}

/// A call being filled, by entry index.
struct Slots {
    members: Vec<usize>,
    bytes: usize,
}

impl Slots {
    fn new(capacity: usize) -> Self {
        Slots {
            members: Vec::with_capacity(capacity),
            bytes: 0,
        }
    }

    /// Bytes the call can still take.
    fn room(&self, limits: &CallLimits) -> usize {
        limits
            .max_bytes
            .map_or(usize::MAX, |max| max.saturating_sub(self.bytes))
    }

    fn fits(&self, input: &Input<'_>, i: usize) -> bool {
        let Some(entry) = input.entries.get(i) else {
            return false;
        };
        self.members.len() < input.limits.max_entries
            && input
                .limits
                .max_bytes
                .is_none_or(|max| self.bytes + entry.size <= max)
            && !(input.ids_repeat
                && self
                    .members
                    .iter()
                    .any(|&m| input.entries.get(m).is_some_and(|e| e.id == entry.id)))
    }

    fn push(&mut self, input: &Input<'_>, i: usize) {
        self.bytes += input.size(i);
        self.members.push(i);
    }
}

fn in_order(input: &Input<'_>) -> Vec<Vec<usize>> {
    let mut calls = Vec::new();
    let mut current = Slots::new(input.limits.max_entries);
    for i in 0..input.entries.len() {
        if !current.members.is_empty() && !current.fits(input, i) {
            calls.push(std::mem::take(&mut current.members));
            current.bytes = 0;
        }
        current.push(input, i);
    }
    if !current.members.is_empty() {
        calls.push(current.members);
    }
    calls
}

/// Indexes by decreasing size; equal sizes keep message order, so small batches read naturally.
fn by_size_decreasing(input: &Input<'_>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..input.entries.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(input.size(i)));
    order
}

/// Each call starts with the largest entry left, then takes the smallest ones while they fit:
/// small entries fill the entry slots that large ones leave, so both limits bind together.
fn largest_then_smallest(input: &Input<'_>) -> Vec<Vec<usize>> {
    let mut remaining: std::collections::VecDeque<usize> = by_size_decreasing(input).into();
    let mut calls = Vec::new();
    while let Some(largest) = remaining.pop_front() {
        let mut call = Slots::new(input.limits.max_entries);
        call.push(input, largest);
        while let Some(&smallest) = remaining.back() {
            if !call.fits(input, smallest) {
                break;
            }
            call.push(input, smallest);
            remaining.pop_back();
        }
        calls.push(call.members);
    }
    calls
}

fn first_fit_decreasing(input: &Input<'_>) -> Vec<Vec<usize>> {
    let limits = &input.limits;
    let mut calls: Vec<Slots> = Vec::new();
    // Calls full by count can never take another entry; skip them in the search.
    let mut open: Vec<usize> = Vec::new();
    // The most bytes any open call can still take: a larger entry goes straight to a new call.
    // Without it, entries that each fill most of a call (IoT Events: 1 KiB per call) made the
    // search O(n²).
    let mut most_room = 0;
    for i in by_size_decreasing(input) {
        let slot = if open.is_empty() || input.size(i) > most_room {
            None
        } else {
            open.iter()
                .position(|&c| calls.get(c).is_some_and(|call| call.fits(input, i)))
        };
        match slot.and_then(|s| open.get(s).copied()) {
            Some(c) => {
                if let Some(call) = calls.get_mut(c) {
                    call.push(input, i);
                    if call.members.len() >= limits.max_entries {
                        open.retain(|&o| o != c);
                    }
                }
                most_room = open
                    .iter()
                    .filter_map(|&o| calls.get(o))
                    .map(|call| call.room(limits))
                    .max()
                    .unwrap_or(0);
            }
            None => {
                let mut call = Slots::new(limits.max_entries);
                call.push(input, i);
                if call.members.len() < limits.max_entries {
                    most_room = most_room.max(call.room(limits));
                    open.push(calls.len());
                }
                calls.push(call);
            }
        }
    }
    calls.into_iter().map(|c| c.members).collect()
}

/// Fewest calls any packing could make: the count bound, the byte bound, and the entries over
/// half the byte limit (no two of them fit one call).
pub fn lower_bound(limits: &CallLimits, sizes: &[usize]) -> usize {
    bound(limits, sizes.iter().copied())
}

fn bound(limits: &CallLimits, sizes: impl Iterator<Item = usize>) -> usize {
    let (mut count, mut total, mut over_half) = (0usize, 0usize, 0usize);
    for size in sizes {
        count += 1;
        total = total.saturating_add(size);
        if limits.max_bytes.is_some_and(|max| size > max / 2) {
            over_half += 1;
        }
    }
    let by_count = count.div_ceil(limits.max_entries.max(1));
    let by_bytes = limits.max_bytes.map_or(0, |max| total.div_ceil(max.max(1)));
    by_count.max(by_bytes).max(over_half)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use crate::sink::Body;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::destination::{EntryParams, KinesisParams, SnsParams, SqsParams};

    fn entry(message: usize, size: usize, group: Option<&str>) -> Entry {
        Entry {
            message,
            target: 0,
            id: format!("id-{message}"),
            payload: Body::from(Vec::new()),
            timestamp: None,
            params: EntryParams::Sns(Arc::new(SnsParams {
                group_id: group.map(str::to_owned),
                ..SnsParams::default()
            })),
            size,
        }
    }

    fn sns(fifo: bool) -> Destination {
        Destination::Sns {
            topic_arn: format!(
                "arn:aws:sns:us-east-1:123456789012:t{}",
                if fifo { ".fifo" } else { "" }
            ),
        }
    }

    fn all_calls(lanes: &[Lane]) -> Vec<&Call> {
        lanes.iter().flat_map(|l| l.calls.iter()).collect()
    }

    #[test]
    fn count_only_limits_give_ceil_n_over_limit() {
        let d = Destination::Analytics {
            channel: "c".into(),
        };
        let lanes = pack(&d, (0..250).map(|i| entry(i, 10, None)).collect(), false);
        let sizes: Vec<usize> = all_calls(&lanes).iter().map(|c| c.entries.len()).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
    }

    #[test]
    fn byte_limit_splits_calls() {
        let d = Destination::Events { input: "i".into() };
        // 1 KiB per IoT Events batch: 600 + 500 cannot share a call.
        let lanes = pack(
            &d,
            vec![
                entry(0, 600, None),
                entry(1, 500, None),
                entry(2, 400, None),
            ],
            false,
        );
        let calls = all_calls(&lanes);
        assert_eq!(calls.len(), 2);
        for c in calls {
            assert!(c.entries.iter().map(|e| e.size).sum::<usize>() <= 1024);
        }
    }

    #[test]
    fn duplicate_ids_never_share_a_call() {
        let d = Destination::Analytics {
            channel: "c".into(),
        };
        let mut a = entry(0, 1, None);
        let mut b = entry(1, 1, None);
        a.id = "same".into();
        b.id = "same".into();
        let lanes = pack(&d, vec![a, b], false);
        assert_eq!(all_calls(&lanes).len(), 2);
    }

    #[test]
    fn one_entry_per_call_kinds() {
        let d = Destination::Mqtt { topic: "t".into() };
        let lanes = pack(&d, (0..3).map(|i| entry(i, 1, None)).collect(), false);
        assert_eq!(lanes.len(), 3);
        assert!(
            lanes
                .iter()
                .all(|l| l.calls.len() == 1 && l.calls[0].entries.len() == 1)
        );
    }

    fn kinesis_entry(message: usize, size: usize, key: &str) -> Entry {
        Entry {
            params: EntryParams::Kinesis(Arc::new(KinesisParams {
                partition_key: key.to_owned(),
                explicit_hash_key: None,
                max_record_bytes: 1 << 20,
            })),
            ..entry(message, size, None)
        }
    }

    #[test]
    fn ordered_kinesis_calls_hold_one_record_per_key() {
        let d = Destination::Kinesis { stream: "s".into() };
        // Keys a a b a c: the second and third `a` go into later calls, `b` and `c` fill in.
        let keys = ["a", "a", "b", "a", "c"];
        let entries = keys
            .iter()
            .enumerate()
            .map(|(i, k)| kinesis_entry(i, 10, k))
            .collect();
        let lanes = pack(&d, entries, true);
        assert_eq!(lanes.len(), 1);
        let calls: Vec<Vec<usize>> = lanes[0]
            .calls
            .iter()
            .map(|c| c.entries.iter().map(|e| e.message).collect())
            .collect();
        assert_eq!(calls, vec![vec![0, 2, 4], vec![1], vec![3]]);
        // Unordered, the same records share one call.
        let entries = keys
            .iter()
            .enumerate()
            .map(|(i, k)| kinesis_entry(i, 10, k))
            .collect();
        assert_eq!(all_calls(&pack(&d, entries, false)).len(), 1);
    }

    #[test]
    fn an_sqs_queue_limit_lowers_the_call_byte_cap() {
        let d = Destination::Sqs {
            queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/q".into(),
        };
        let entries: Vec<Entry> = (0..4)
            .map(|i| Entry {
                params: EntryParams::Sqs(Arc::new(SqsParams {
                    group_id: None,
                    delay_seconds: None,
                    attributes: Vec::new(),
                    max_message_bytes: 2_048,
                })),
                ..entry(i, 1_000, None)
            })
            .collect();
        assert_eq!(call_limits(&d, &entries).max_bytes, Some(2_048));
        let lanes = pack(&d, entries, false);
        assert_eq!(
            all_calls(&lanes).len(),
            2,
            "two 1,000-byte messages per 2 KiB batch"
        );
    }

    fn arb_entries() -> impl Strategy<Value = Vec<(usize, u8)>> {
        // Sizes up to the SNS per-message maximum, skewed small like real telemetry.
        prop::collection::vec(
            (
                prop_oneof![4 => 1usize..2_000, 1 => 1usize..=262_144],
                0u8..4,
            ),
            0..300,
        )
    }

    proptest! {
        #[test]
        fn packing_keeps_every_entry_once_and_respects_limits(input in arb_entries(), fifo in any::<bool>()) {
            let d = sns(fifo);
            let limits = d.kind().call_limits();
            let entries: Vec<Entry> = input
                .iter()
                .enumerate()
                .map(|(i, (size, g))| entry(i, *size, Some(["a", "b", "c", "d"][*g as usize])))
                .collect();
            let lanes = pack(&d, entries, fifo);
            let calls = all_calls(&lanes);

            let mut seen: Vec<usize> = calls.iter().flat_map(|c| c.entries.iter().map(|e| e.message)).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..input.len()).collect::<Vec<_>>());

            for c in &calls {
                prop_assert!(!c.entries.is_empty());
                prop_assert!(c.entries.len() <= limits.max_entries);
                prop_assert!(c.entries.iter().map(|e| e.size).sum::<usize>() <= limits.max_bytes.unwrap());
                prop_assert!(has_unique_ids(&c.entries));
            }

            if fifo {
                prop_assert_eq!(lanes.len(), usize::from(!input.is_empty()));
                // Order within each group, across the lane's calls, is input order.
                for g in ["a", "b", "c", "d"] {
                    let order: Vec<usize> = calls.iter()
                        .flat_map(|c| c.entries.iter())
                        .filter(|e| e.group() == Some(g))
                        .map(|e| e.message)
                        .collect();
                    prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
                }
                // Greedy runs are optimal for order-keeping splits: check against the DP minimum.
                let sizes: Vec<usize> = input.iter().map(|(s, _)| *s).collect();
                prop_assert_eq!(calls.len(), min_ordered_calls(&limits, &sizes));
            }
        }

        #[test]
        fn ordered_kinesis_keeps_key_order_and_limits(
            input in prop::collection::vec((1usize..400_000, 0u8..6), 0..400),
        ) {
            let d = Destination::Kinesis { stream: "s".into() };
            let limits = d.kind().call_limits();
            let entries: Vec<Entry> = input
                .iter()
                .enumerate()
                .map(|(i, (size, k))| kinesis_entry(i, *size, &format!("k{k}")))
                .collect();
            let lanes = pack(&d, entries, true);
            let calls = all_calls(&lanes);
            let mut seen: Vec<usize> = calls.iter().flat_map(|c| c.entries.iter().map(|e| e.message)).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..input.len()).collect::<Vec<_>>());
            for c in &calls {
                prop_assert!(c.entries.len() <= limits.max_entries);
                prop_assert!(c.entries.iter().map(|e| e.size).sum::<usize>() <= limits.max_bytes.unwrap());
                let mut keys = std::collections::HashSet::new();
                prop_assert!(c.entries.iter().all(|e| keys.insert(e.group())), "one record per key per call");
            }
            for k in 0..6u8 {
                let key = format!("k{k}");
                let order: Vec<usize> = calls.iter()
                    .flat_map(|c| c.entries.iter())
                    .filter(|e| e.group() == Some(key.as_str()))
                    .map(|e| e.message)
                    .collect();
                prop_assert!(order.windows(2).all(|w| w[0] < w[1]));
            }
            // Never more calls than the longest key's run, where sizes do not bind.
            let longest = (0..6u8).map(|k| input.iter().filter(|(_, g)| *g == k).count()).max().unwrap_or(0);
            if input.iter().map(|(s, _)| s).sum::<usize>() <= limits.max_bytes.unwrap() {
                prop_assert_eq!(calls.len(), longest);
            }
        }

        #[test]
        fn count_only_packing_is_minimal(n in 0usize..1_000) {
            let d = Destination::Analytics { channel: "c".into() };
            let lanes = pack(&d, (0..n).map(|i| entry(i, 7, None)).collect(), false);
            prop_assert_eq!(all_calls(&lanes).len(), n.div_ceil(100));
        }

        #[test]
        fn unordered_packing_leaves_no_two_calls_mergeable(sizes in prop::collection::vec(1usize..1_024, 0..200)) {
            let d = Destination::Events { input: "i".into() };
            let limits = d.kind().call_limits();
            let lanes = pack(&d, sizes.iter().enumerate().map(|(i, s)| entry(i, *s, None)).collect(), false);
            let calls = all_calls(&lanes);
            prop_assert!(calls.len() >= lower_bound(&limits, &sizes));
            // First fit never opens a call for an entry an earlier call could take, so no two
            // calls could be merged into one.
            let totals: Vec<(usize, usize)> = calls.iter()
                .map(|c| (c.entries.len(), c.entries.iter().map(|e| e.size).sum()))
                .collect();
            for (i, a) in totals.iter().enumerate() {
                for b in totals.iter().skip(i + 1) {
                    prop_assert!(a.0 + b.0 > limits.max_entries || a.1 + b.1 > limits.max_bytes.unwrap());
                }
            }
        }
        #[test]
        fn shortcuts_pack_as_the_full_search(
            input in prop::collection::vec((1usize..1_100, 0usize..40), 0..150),
        ) {
            // Entries sharing an id (a repeated message id) and sizes around half the limit.
            let entries: Vec<Entry> = input
                .iter()
                .enumerate()
                .map(|(i, (size, id))| Entry { id: format!("id-{id}"), ..entry(i, *size, None) })
                .collect();
            let d = Destination::Events { input: "i".into() };
            let input = Input::new(call_limits(&d, &entries), &entries);
            // The best of all three packings, first of equals, with every id compared.
            let full = Input { ids_repeat: true, ..Input::new(input.limits, &entries) };
            let reference = [first_fit_decreasing(&full), largest_then_smallest(&full), in_order(&full)]
                .into_iter()
                .min_by_key(Vec::len)
                .unwrap();
            let packed = fewest_unordered(&input);
            prop_assert_eq!(&packed, &reference);
            for call in &packed {
                let ids: Vec<&Entry> = call.iter().map(|&i| &entries[i]).collect();
                let mut seen = std::collections::HashSet::new();
                prop_assert!(ids.iter().all(|e| seen.insert(e.id.as_str())));
            }
        }
    }

    fn has_unique_ids(entries: &[Entry]) -> bool {
        let mut seen = std::collections::HashSet::new();
        entries.iter().all(|e| seen.insert(e.id.as_str()))
    }

    /// Minimum number of contiguous runs, by dynamic programming.
    fn min_ordered_calls(limits: &CallLimits, sizes: &[usize]) -> usize {
        let n = sizes.len();
        let mut best = vec![usize::MAX; n + 1];
        best[0] = 0;
        for end in 1..=n {
            let mut bytes = 0;
            for start in (0..end).rev() {
                bytes += sizes[start];
                if end - start > limits.max_entries
                    || bytes > limits.max_bytes.unwrap_or(usize::MAX)
                {
                    break;
                }
                if best[start] != usize::MAX {
                    best[end] = best[end].min(best[start] + 1);
                }
            }
        }
        best[n]
    }
}
