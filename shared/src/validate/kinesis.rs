//! Kinesis Data Streams `PutRecords` records: the stream (name or ARN), the partition key, the
//! explicit hash key and the record size (data and partition key).

use std::fmt;

use super::{ContractError, arn, ascii_name, name_rule};
use crate::destination::{Destination, KinesisParams};
use crate::message::Payload;

/// StreamName: 1–128 characters of `[a-zA-Z0-9_.-]` (API reference, PutRecords).
const MAX_NAME_CHARS: usize = 128;
/// StreamARN: up to 2048 characters (API reference, PutRecords).
const MAX_ARN_CHARS: usize = 2048;
/// "Partition keys are Unicode strings, with a maximum length limit of 256 characters for each
/// key" (API reference, PutRecordsRequestEntry: length 1–256).
const MAX_PARTITION_KEY_CHARS: usize = 256;
/// The default maximum record size of every stream, data and partition key together: 1 MiB
/// ("The default maximum record size for existing, and newly created streams is set to 1 MiB",
/// Developer Guide, Handle large records).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 1024 * 1024;
/// What a stream's maximum record size can be raised to: 10 MiB (same page).
pub const MAX_RECORD_BYTES: usize = 10 * 1024 * 1024;

/// A stream name, or a stream ARN (`arn:…:kinesis:<region>:<account>:stream/<name>`).
pub(super) fn check_stream(dest: &Destination, stream: &str) -> Result<(), ContractError> {
    let (field, name) = if stream.starts_with("arn:") {
        if stream.chars().count() > MAX_ARN_CHARS {
            return Err(ContractError::new(
                dest,
                "StreamARN",
                format!("must be at most {MAX_ARN_CHARS} characters"),
            ));
        }
        (
            "StreamARN",
            arn::resource_name(dest, "StreamARN", stream, "kinesis", "stream")?,
        )
    } else {
        ("StreamName", stream)
    };
    ascii_name(name, MAX_NAME_CHARS, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
    })
    .map_err(|f| {
        ContractError::new(
            dest,
            field,
            format!(
                "stream name {}",
                name_rule(f, MAX_NAME_CHARS, "[a-zA-Z0-9_.-]")
            ),
        )
    })
}

/// Bytes the record counts toward its stream's record limit and the call's: data and partition key.
pub(crate) fn record_len(payload: &Payload, params: &KinesisParams) -> usize {
    payload.len().saturating_add(params.partition_key.len())
}

pub(super) fn check(
    dest: &Destination,
    payload: &Payload,
    params: &KinesisParams,
) -> Result<(), ContractError> {
    check_literals(
        dest,
        Some(&params.partition_key),
        params.explicit_hash_key.as_deref(),
    )?;
    let len = record_len(payload, params);
    let max = params.max_record_bytes;
    if len > max {
        return Err(ContractError::new(
            dest,
            "Records.Data",
            format!(
                "data and partition key are {len} bytes, over this stream's maximum record size of \
                 {max} bytes (raise `maxRecordBytes` if the stream's MaxRecordSizeInKiB allows more)"
            ),
        ));
    }
    Ok(())
}

/// The partition and hash keys, when known: at cold start for the table's literals, per message.
pub(super) fn check_literals(
    dest: &dyn fmt::Display,
    partition_key: Option<&str>,
    explicit_hash_key: Option<&str>,
) -> Result<(), ContractError> {
    if let Some(key) = partition_key {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_PARTITION_KEY_CHARS {
            return Err(ContractError::new(
                dest,
                "PartitionKey",
                format!("must be 1–{MAX_PARTITION_KEY_CHARS} Unicode characters, is {key_chars}"),
            ));
        }
    }
    if let Some(hash) = explicit_hash_key {
        check_hash_key(dest, hash)?;
    }
    Ok(())
}

/// ExplicitHashKey: a decimal 128-bit unsigned integer (`0|([1-9]\d{0,38})`, at most 2^128−1),
/// which picks the shard instead of the partition key's MD5 hash.
fn check_hash_key(dest: &dyn fmt::Display, hash: &str) -> Result<(), ContractError> {
    let digits = !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_digit());
    let canonical = hash == "0" || !hash.starts_with('0');
    if !digits || !canonical || hash.parse::<u128>().is_err() {
        return Err(ContractError::new(
            dest,
            "ExplicitHashKey",
            "must be a decimal integer from 0 to 2^128−1 without leading zeros",
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
        Destination::Kinesis {
            stream: name.into(),
        }
    }

    fn params(key: &str) -> KinesisParams {
        KinesisParams {
            partition_key: key.into(),
            explicit_hash_key: None,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }

    fn run(m: &Message, p: KinesisParams) -> Result<(), ContractError> {
        check_any(
            m,
            &target(stream("iot-events"), EntryParams::Kinesis(Arc::new(p))),
            &ContractLimits::default(),
        )
    }

    #[test]
    fn streams_by_name_or_arn() {
        for ok in [
            "iot-events",
            "a_b.c-1",
            &"s".repeat(128),
            "arn:aws:kinesis:eu-west-1:123456789012:stream/iot-events",
        ] {
            assert_eq!(check_stream(&stream(ok), ok), Ok(()), "{ok}");
        }
        let field = |s: &str| check_stream(&stream(s), s).unwrap_err().field;
        assert_eq!(field(""), "StreamName");
        assert_eq!(field("a b"), "StreamName");
        assert_eq!(field(&"s".repeat(129)), "StreamName");
        assert_eq!(
            field("arn:aws:kinesis:eu-west-1:123456789012:stream/a b"),
            "StreamARN"
        );
        assert_eq!(
            field("arn:aws:kinesis:eu-west-1:123456789012:table/a"),
            "StreamARN"
        );
    }

    #[test]
    fn partition_keys_count_characters() {
        let m = msg("1");
        assert_eq!(run(&m, params(&"é".repeat(256))), Ok(()));
        let e = run(&m, params(&"é".repeat(257))).unwrap_err();
        assert_eq!(e.field, "PartitionKey");
        assert_eq!(e.rule, "must be 1–256 Unicode characters, is 257");
        assert_eq!(run(&m, params("")).unwrap_err().field, "PartitionKey");
    }

    #[test]
    fn explicit_hash_keys() {
        let m = msg("1");
        let with = |h: &str| {
            run(
                &m,
                KinesisParams {
                    explicit_hash_key: Some(h.into()),
                    ..params("k")
                },
            )
        };
        let max = u128::MAX.to_string();
        for ok in ["0", "1", "170141183460469231731687303715884105728", &max] {
            assert_eq!(with(ok), Ok(()), "{ok}");
        }
        let over = "340282366920938463463374607431768211456";
        for bad in ["", "01", "-1", "+1", "1.5", "x", over] {
            assert_eq!(with(bad).unwrap_err().field, "ExplicitHashKey", "{bad}");
        }
    }

    #[test]
    fn record_size_counts_data_and_key() {
        // 1 MiB by default: data 1,048,575 bytes with a 1-byte key fills it.
        assert_eq!(run(&raw_binary(1_048_575), params("k")), Ok(()));
        let e = run(&raw_binary(1_048_575), params("kk")).unwrap_err();
        assert_eq!(e.field, "Records.Data");
        assert!(e.rule.contains("1048577 bytes"), "{e}");
        let raised = KinesisParams {
            max_record_bytes: 2 * 1024 * 1024,
            ..params("kk")
        };
        assert_eq!(run(&raw_binary(1_048_575), raised), Ok(()));
    }
}
