//! Data Firehose `PutRecordBatch` records: the delivery stream name and the record size
//! (payload and delimiter).

use super::{ContractError, ascii_name, name_rule};
use crate::destination::{Destination, FirehoseParams};
use crate::message::Payload;

/// DeliveryStreamName: 1–64 characters of `[a-zA-Z0-9_.-]` (API reference, PutRecordBatch).
const MAX_NAME_CHARS: usize = 64;
/// Record data: "The maximum size of the data blob, before base64-encoding, is 1,000 KiB"
/// (API reference, Record: maximum length 1024000).
pub(crate) const MAX_RECORD_BYTES: usize = 1_024_000;

pub(super) fn check_name(dest: &Destination, name: &str) -> Result<(), ContractError> {
    ascii_name(name, MAX_NAME_CHARS, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
    })
    .map_err(|f| {
        ContractError::new(
            dest,
            "DeliveryStreamName",
            name_rule(f, MAX_NAME_CHARS, "[a-zA-Z0-9_.-]"),
        )
    })
}

/// Bytes of the record Firehose receives: the payload and its delimiter.
pub(crate) fn record_len(payload: &Payload, params: &FirehoseParams) -> usize {
    let json = matches!(payload, Payload::Json(_));
    payload
        .len()
        .saturating_add(params.delimiter_for(json).len())
}

pub(super) fn check(
    dest: &Destination,
    payload: &Payload,
    params: &FirehoseParams,
) -> Result<(), ContractError> {
    let len = record_len(payload, params);
    if len > MAX_RECORD_BYTES {
        return Err(ContractError::new(
            dest,
            "Records.Data",
            format!(
                "the record (payload and delimiter) is {len} bytes, over the Firehose limit of \
                 {MAX_RECORD_BYTES} bytes (1,000 KiB)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::*;
    use super::super::{ContractLimits, check as check_any};
    use super::*;
    use crate::destination::EntryParams;
    use crate::message::Message;

    fn stream(name: &str) -> Destination {
        Destination::Firehose {
            delivery_stream: name.into(),
        }
    }

    fn run(m: &Message, params: FirehoseParams) -> Result<(), ContractError> {
        check_any(
            m,
            &target(
                stream("iot-telemetry"),
                EntryParams::Firehose(Arc::new(params)),
            ),
            &ContractLimits::default(),
        )
    }

    #[test]
    fn names() {
        for ok in ["a", "iot-telemetry_1.v2", &"s".repeat(64)] {
            assert_eq!(check_name(&stream(ok), ok), Ok(()), "{ok}");
        }
        for bad in ["", "a b", "a/b", "é", &"s".repeat(65)] {
            assert_eq!(
                check_name(&stream(bad), bad).unwrap_err().field,
                "DeliveryStreamName",
                "{bad}"
            );
        }
    }

    #[test]
    fn record_size_counts_the_delimiter() {
        // JSON payloads get a newline by default: 1,023,999 + 1 is the limit.
        assert_eq!(
            run(&raw_sized(1_023_999), FirehoseParams::default()),
            Ok(())
        );
        let e = run(&raw_sized(1_024_000), FirehoseParams::default()).unwrap_err();
        assert_eq!(e.field, "Records.Data");
        assert!(e.rule.contains("1024001 bytes"), "{e}");
        // Binary payloads get no delimiter unless one is set.
        assert_eq!(
            run(&raw_binary(1_024_000), FirehoseParams::default()),
            Ok(())
        );
        let crlf = FirehoseParams {
            delimiter: Some("\r\n".into()),
        };
        assert!(run(&raw_binary(1_023_999), crlf).is_err());
    }

    #[test]
    fn default_delimiters() {
        let p = FirehoseParams::default();
        assert_eq!(p.delimiter_for(true), "\n");
        assert_eq!(p.delimiter_for(false), "");
        assert_eq!(record_len(&msg("{}").payload, &p), 3);
        assert_eq!(record_len(&binary(4).payload, &p), 4);
    }
}
