//! IoT Events Data `BatchPutMessage`: input names, the 1 KiB batch payload budget and timestamps.

use super::{ContractError, NameSet, ascii_name, name_rule};
use crate::destination::Destination;
use crate::message::Message;

/// inputName: 1–128 characters, `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$` (IoT Events API reference).
const MAX_INPUT_CHARS: usize = 128;
/// One BatchPutMessage carries at most 1 KiB of payload (design brief; `Kind::Events` call
/// limits): a single larger payload can never be sent, whatever the packing.
const MAX_BATCH_PAYLOAD: usize = 1024;

pub(super) fn check_input(dest: &Destination, input: &str) -> Result<(), ContractError> {
    const SET: &str = "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$";
    ascii_name(input, MAX_INPUT_CHARS, |b| NameSet::Input.allows(b))
        .map_err(|f| ContractError::new(dest, "inputName", name_rule(f, MAX_INPUT_CHARS, SET)))?;
    if !input.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(ContractError::new(
            dest,
            "inputName",
            format!("must match {SET}: must start with a letter or digit"),
        ));
    }
    Ok(())
}

pub(super) fn check(dest: &Destination, msg: &Message) -> Result<(), ContractError> {
    let size = msg.payload.len();
    if size > MAX_BATCH_PAYLOAD {
        return Err(ContractError::new(
            dest,
            "payload",
            format!(
                "is {size} bytes, over the limit of {MAX_BATCH_PAYLOAD} bytes for one IoT Events batch"
            ),
        ));
    }
    // timestamp.timeInMillis: 1 … 2^63−1. Message timestamps are i64 milliseconds, so only the
    // lower bound can be broken.
    if let Some(ts) = msg.timestamp
        && ts < 1
    {
        return Err(ContractError::new(
            dest,
            "timestamp.timeInMillis",
            format!("must be 1 … 2^63−1 milliseconds since the Unix epoch, is {ts}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::testing::*;
    use super::super::{ContractLimits, check};
    use super::*;
    use crate::destination::{EntryParams, Kind};

    fn input(name: &str) -> Destination {
        Destination::Events { input: name.into() }
    }

    fn run(m: &Message) -> Result<(), ContractError> {
        check(
            m,
            &target(input("pump_input"), EntryParams::Events),
            &ContractLimits::default(),
        )
    }

    #[test]
    fn batch_budget_matches_call_limits() {
        assert_eq!(
            Kind::Events.call_limits().max_bytes,
            Some(MAX_BATCH_PAYLOAD)
        );
    }

    #[test]
    fn payload_over_one_batch_is_refused() {
        assert_eq!(run(&sized(1024)), Ok(()));
        assert_eq!(
            run(&sized(1025)).unwrap_err().to_string(),
            "events:pump_input field `payload`: is 1025 bytes, over the limit of 1024 bytes for one IoT Events batch"
        );
        assert_eq!(run(&binary(1024)), Ok(()));
        assert!(run(&binary(1025)).is_err());
    }

    #[test]
    fn timestamps() {
        let mut m = msg(r#"{"t":1}"#);
        assert_eq!(run(&m), Ok(()));
        for ok in [1, 1_732_270_000_000, i64::MAX] {
            m.timestamp = Some(ok);
            assert_eq!(run(&m), Ok(()), "{ok}");
        }
        for bad in [0, -1, i64::MIN] {
            m.timestamp = Some(bad);
            let e = run(&m).unwrap_err();
            assert_eq!(e.field, "timestamp.timeInMillis");
            assert!(e.rule.starts_with("must be 1 … 2^63−1"), "{e}");
        }
    }

    #[test]
    fn input_names() {
        let c = |n: &str| check_input(&input(n), n);
        for ok in ["a", "A1", "9in.put-name_x", &"i".repeat(128)] {
            assert_eq!(c(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            c(&"i".repeat(129)).unwrap_err().rule,
            "must be 1–128 characters, is 129"
        );
        assert_eq!(
            c("").unwrap_err().rule,
            "must be 1–128 characters, is empty"
        );
        for bad in ["_a", ".a", "-a", "a b", "a/b", "a:b"] {
            let e = c(bad).unwrap_err();
            assert_eq!(e.field, "inputName", "{bad}");
        }
        assert_eq!(
            c("-a").unwrap_err().to_string(),
            "events:-a field `inputName`: must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$: must start with a letter or digit"
        );
    }
}
