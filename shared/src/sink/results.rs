//! Per-entry answers of the batch APIs, mapped back to the call's entries: by position for the
//! APIs that answer in request order (Firehose, Kinesis, EventBridge), by entry Id for SQS.

use std::collections::HashMap;

use super::{Call, Entry, EntryFailure};

/// The entries of a call built into the API's request entries, with the positions they came
/// from; an entry that cannot be built is a failure of its own, never retried.
pub(crate) struct Prepared<T> {
    pub(crate) sent: Vec<usize>,
    pub(crate) requests: Vec<T>,
    pub(crate) failed: Vec<EntryFailure>,
}

pub(crate) fn prepare<T>(
    call: &Call,
    build: impl Fn(usize, &Entry) -> Result<T, String>,
) -> Prepared<T> {
    let mut prepared = Prepared {
        sent: Vec::with_capacity(call.entries.len()),
        requests: Vec::with_capacity(call.entries.len()),
        failed: Vec::new(),
    };
    for (index, entry) in call.entries.iter().enumerate() {
        match build(index, entry) {
            Ok(request) => {
                prepared.sent.push(index);
                prepared.requests.push(request);
            }
            Err(reason) => prepared.failed.push(EntryFailure {
                index,
                code: "InvalidEntry".to_owned(),
                reason,
                retryable: false,
            }),
        }
    }
    prepared
}

/// One entry's answer from an API that answers in request order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer<'a> {
    /// The service took it (it returned a record id, sequence number or event id).
    Accepted,
    /// The service refused it, with this code and message.
    Refused {
        code: &'a str,
        message: Option<&'a str>,
    },
    /// Neither: not confirmed, so it is reported for a retry, never counted delivered.
    Unclear,
}

impl<'a> Answer<'a> {
    /// An answer from its error code and message, and whether it carries what the service gives
    /// an accepted entry (a record id, sequence number or event id).
    pub(crate) fn of(code: Option<&'a str>, message: Option<&'a str>, accepted: bool) -> Self {
        match (code, accepted) {
            (Some(code), _) => Answer::Refused { code, message },
            (None, true) => Answer::Accepted,
            (None, false) => Answer::Unclear,
        }
    }
}

/// The report of a call: its failures, in entry order.
pub(crate) fn report(mut failed: Vec<EntryFailure>) -> super::CallReport {
    failed.sort_by_key(|f| f.index);
    super::CallReport { failed }
}

fn no_result(call: &Call, index: usize) -> EntryFailure {
    EntryFailure {
        index,
        code: "NoResult".to_owned(),
        reason: format!(
            "{} answered neither success nor failure for this entry",
            call.destination
        ),
        retryable: true,
    }
}

fn refused(
    call: &Call,
    index: usize,
    code: &str,
    message: Option<&str>,
    retryable: bool,
) -> EntryFailure {
    EntryFailure {
        index,
        code: code.to_owned(),
        reason: message.map_or_else(
            || format!("refused by {}", call.destination),
            super::aws::short,
        ),
        retryable,
    }
}

/// Failures of a call whose answers come in request order, one per entry sent (`sent` holds the
/// call positions of the request's entries). A response with fewer answers than entries leaves
/// the rest unconfirmed (retried); extra answers are ignored.
pub(crate) fn in_request_order<'a>(
    call: &Call,
    sent: &[usize],
    answers: impl Iterator<Item = Answer<'a>>,
    retryable: impl Fn(&str) -> bool,
) -> Vec<EntryFailure> {
    let mut answers = answers;
    let mut failed = Vec::new();
    for &index in sent {
        match answers.next() {
            Some(Answer::Accepted) => {}
            Some(Answer::Refused { code, message }) => {
                failed.push(refused(call, index, code, message, retryable(code)));
            }
            Some(Answer::Unclear) | None => failed.push(no_result(call, index)),
        }
    }
    if answers.next().is_some() {
        tracing::warn!(destination = %call.destination, "the service answered for more entries than were sent");
    }
    failed
}

/// One `Failed` item of an API that answers by entry Id (SQS, SNS).
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdFailure<'a> {
    pub(crate) id: &'a str,
    pub(crate) code: &'a str,
    pub(crate) message: Option<&'a str>,
    /// The entry itself is wrong: resending it cannot help.
    pub(crate) sender_fault: bool,
}

/// Failures of a call whose entries were sent with their position in the call as Id. `sent`
/// lists the positions that went out; a position in neither `successful` nor `failed` was not
/// confirmed and is reported for a retry.
pub(crate) fn by_entry_id<'a>(
    call: &Call,
    sent: &[usize],
    successful: impl Iterator<Item = &'a str>,
    failed: impl Iterator<Item = IdFailure<'a>>,
) -> Vec<EntryFailure> {
    let mut answers: HashMap<usize, Option<EntryFailure>> = HashMap::new();
    let position = |id: &str| id.parse::<usize>().ok().filter(|i| sent.contains(i));
    for id in successful {
        if let Some(index) = position(id) {
            answers.entry(index).or_insert(None);
        }
    }
    for f in failed {
        let Some(index) = position(f.id) else {
            tracing::warn!(destination = %call.destination, id = f.id, "the service reported a failure for an Id that was not sent");
            continue;
        };
        // A failure wins over a success reported for the same Id.
        let failure = refused(call, index, f.code, f.message, !f.sender_fault);
        answers.insert(index, Some(failure));
    }
    let mut out: Vec<EntryFailure> = sent
        .iter()
        .filter_map(|&index| match answers.remove(&index) {
            Some(answer) => answer,
            None => Some(no_result(call, index)),
        })
        .collect();
    out.sort_by_key(|f| f.index);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::sink::Body;

    use super::*;
    use crate::destination::{Destination, EntryParams};
    use crate::sink::Entry;

    fn call(n: usize) -> Call {
        Call {
            destination: Destination::Kinesis { stream: "s".into() },
            entries: (0..n)
                .map(|i| Entry {
                    message: i,
                    target: 0,
                    id: format!("m{i}"),
                    payload: Body::from(&b"x"[..]),
                    timestamp: None,
                    params: EntryParams::Analytics,
                    size: 1,
                })
                .collect(),
        }
    }

    #[test]
    fn positions_map_to_entries() {
        let answers = [
            Answer::Accepted,
            Answer::Refused {
                code: "InternalFailure",
                message: Some("try again"),
            },
            Answer::Refused {
                code: "KMSAccessDeniedException",
                message: None,
            },
            Answer::Unclear,
        ];
        let failed = in_request_order(&call(6), &[0, 1, 2, 3, 5], answers.into_iter(), |c| {
            c == "InternalFailure"
        });
        let got: Vec<(usize, &str, bool)> = failed
            .iter()
            .map(|f| (f.index, f.code.as_str(), f.retryable))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "InternalFailure", true),
                (2, "KMSAccessDeniedException", false),
                (3, "NoResult", true),
                (5, "NoResult", true),
            ]
        );
        assert_eq!(failed[1].reason, "refused by kinesis:s");
    }

    #[test]
    fn ids_map_to_entries_and_unanswered_ones_are_retried() {
        let failed = by_entry_id(
            &call(4),
            &[0, 1, 3],
            ["0", "9", "x"].into_iter(),
            [
                IdFailure {
                    id: "1",
                    code: "InvalidParameterValue",
                    message: Some("bad"),
                    sender_fault: true,
                },
                IdFailure {
                    id: "2",
                    code: "InternalError",
                    message: None,
                    sender_fault: false,
                },
            ]
            .into_iter(),
        );
        let got: Vec<(usize, &str, bool)> = failed
            .iter()
            .map(|f| (f.index, f.code.as_str(), f.retryable))
            .collect();
        // Id 2 was not sent (ignored); 3 got no answer.
        assert_eq!(
            got,
            vec![(1, "InvalidParameterValue", false), (3, "NoResult", true)]
        );
    }
}
