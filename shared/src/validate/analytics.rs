//! IoT Analytics `BatchPutMessage`: channel names, the configurable payload cap and payload field names.

use serde_json::{Map, Value};

use super::{ContractError, ContractLimits, Path, ascii_name, name_rule};
use crate::destination::Destination;
use crate::message::Payload;

/// channelName: 1–128 characters, `^[a-zA-Z0-9_]+$`, not starting `__` (CreateChannel).
const MAX_CHANNEL_CHARS: usize = 128;
/// Payload field names: "Cannot be more than 255 characters" (BatchPutMessage, seed document).
const MAX_FIELD_NAME_CHARS: usize = 255;
/// The seed document's field-name rule, taken exactly ("In regular expression terms: …").
const FIELD_NAME_PATTERN: &str = r"^[A-Za-z_]([A-Za-z0-9]*|[A-Za-z0-9][A-Za-z0-9_]*)$";
/// Objects with more keys than this are checked for case-insensitive duplicates by sorting
/// (one allocation) rather than pairwise (none).
const PAIRWISE_KEYS: usize = 16;
/// serde_json refuses to parse deeper documents; a hand-built `Value` could still be deeper, and
/// the walk must not overflow the stack on it.
const MAX_WALK_DEPTH: usize = 128;

/// `FIELD_NAME_PATTERN` as byte tests: one letter or `_`, then nothing, or an ASCII letter or
/// digit followed by letters, digits and `_` (the first alternative, all letters and digits, is
/// contained in the second). A regex here cost 6 % of the routing pipeline (BENCHMARKS.md); a
/// property test checks this against the pattern itself.
fn is_field_name(name: &str) -> bool {
    match name.as_bytes() {
        [first, rest @ ..] if first.is_ascii_alphabetic() || *first == b'_' => match rest {
            [] => true,
            [second, tail @ ..] => {
                second.is_ascii_alphanumeric()
                    && tail.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
            }
        },
        _ => false,
    }
}

pub(super) fn check_channel(dest: &Destination, channel: &str) -> Result<(), ContractError> {
    ascii_name(channel, MAX_CHANNEL_CHARS, |b| {
        b.is_ascii_alphanumeric() || b == b'_'
    })
    .map_err(|f| {
        ContractError::new(
            dest,
            "channelName",
            name_rule(f, MAX_CHANNEL_CHARS, "^[a-zA-Z0-9_]+$"),
        )
    })?;
    if channel.starts_with("__") {
        return Err(ContractError::new(
            dest,
            "channelName",
            "must not start with `__` (reserved by IoT Analytics)",
        ));
    }
    Ok(())
}

pub(super) fn check(
    dest: &Destination,
    channel: &str,
    payload: &Payload,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
    check_channel(dest, channel)?;
    let size = payload.len();
    if size > limits.analytics_max_payload {
        return Err(ContractError::new(
            dest,
            "payload",
            format!(
                "is {size} bytes, over the configured limit of {} bytes for IoT Analytics \
                 (FANOUT_ANALYTICS_MAX_PAYLOAD; the service publishes no figure)",
                limits.analytics_max_payload
            ),
        ));
    }
    // Binary payloads are decoded by a pipeline activity; their field names are not ours to check.
    match payload.json() {
        Some(value) => check_fields(dest, value, &Path::root("payload"), 0),
        None => Ok(()),
    }
}

/// Every object key at every depth (inside arrays too) follows the field-name rules.
fn check_fields(
    dest: &Destination,
    value: &Value,
    path: &Path<'_>,
    depth: usize,
) -> Result<(), ContractError> {
    if depth > MAX_WALK_DEPTH {
        return Err(ContractError::new(
            dest,
            path.render(),
            format!("nests deeper than {MAX_WALK_DEPTH} levels"),
        ));
    }
    match value {
        Value::Object(map) => {
            for key in map.keys() {
                check_field_name(dest, key, &path.key(key))?;
            }
            check_case_duplicates(dest, map, path)?;
            for (key, child) in map {
                check_fields(dest, child, &path.key(key), depth + 1)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_fields(dest, item, &path.index(i), depth + 1)),
        _ => Ok(()),
    }
}

fn check_field_name(dest: &Destination, key: &str, path: &Path<'_>) -> Result<(), ContractError> {
    let chars = key.chars().count();
    if chars > MAX_FIELD_NAME_CHARS {
        return Err(ContractError::new(
            dest,
            path.render(),
            format!("field name is {chars} characters, over the limit of {MAX_FIELD_NAME_CHARS}"),
        ));
    }
    if !is_field_name(key) {
        return Err(ContractError::new(
            dest,
            path.render(),
            format!(
                "field name must match {FIELD_NAME_PATTERN} (letters, digits and underscores; \
                 starts with a letter or a single underscore; no hyphens)"
            ),
        ));
    }
    Ok(())
}

/// IoT Analytics field names are case-insensitive: `foo` and `FOO` in one object are duplicates.
/// Runs after every key matched the (ASCII-only) pattern, so ASCII case folding is exact.
fn check_case_duplicates(
    dest: &Destination,
    map: &Map<String, Value>,
    path: &Path<'_>,
) -> Result<(), ContractError> {
    let duplicate = if map.len() <= PAIRWISE_KEYS {
        let mut found = None;
        for (i, a) in map.keys().enumerate() {
            if let Some(b) = map.keys().skip(i + 1).find(|b| b.eq_ignore_ascii_case(a)) {
                found = Some((a.as_str(), b.as_str()));
                break;
            }
        }
        found
    } else {
        let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
        keys.sort_unstable_by(|a, b| {
            a.bytes()
                .map(|c| c.to_ascii_lowercase())
                .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
        });
        keys.windows(2).find_map(|w| match w {
            [a, b] if a.eq_ignore_ascii_case(b) => Some((*a, *b)),
            _ => None,
        })
    };
    match duplicate {
        Some((first, second)) => {
            let mut rule = String::from("field name duplicates `");
            super::push_key(&mut rule, first);
            rule.push_str("` (IoT Analytics field names are case-insensitive)");
            Err(ContractError::new(dest, path.key(second).render(), rule))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::testing::*;
    use super::super::{ContractLimits, check};
    use super::*;
    use crate::destination::EntryParams;

    fn channel(name: &str) -> Destination {
        Destination::Analytics {
            channel: name.into(),
        }
    }

    fn run(payload: &str) -> Result<(), ContractError> {
        check(
            &msg(payload),
            &target(channel("telemetry"), EntryParams::Analytics),
            &ContractLimits::default(),
        )
    }

    proptest::proptest! {
        /// The byte tests agree with the seed's regular expression, taken exactly.
        #[test]
        fn byte_tests_agree_with_the_seed_pattern(name in "[A-Za-z0-9_ .é-]{0,6}") {
            let re = regex::Regex::new(FIELD_NAME_PATTERN).unwrap();
            proptest::prop_assert_eq!(is_field_name(&name), re.is_match(&name), "{}", name);
        }
    }

    #[test]
    fn seed_examples() {
        assert_eq!(run(r#"{"temp_01": 29}"#), Ok(()));
        assert_eq!(run(r#"{"_temp_01": 29}"#), Ok(()));
        for bad in ["temp-01", "01_temp", "__temp_01"] {
            let e = run(&format!(r#"{{"{bad}": 29}}"#)).unwrap_err();
            assert_eq!(e.field, format!("payload.{bad}"));
        }
    }

    #[test]
    fn field_name_error_text() {
        assert_eq!(
            run(r#"{"temp-01": 29}"#).unwrap_err().to_string(),
            "analytics:telemetry field `payload.temp-01`: field name must match \
             ^[A-Za-z_]([A-Za-z0-9]*|[A-Za-z0-9][A-Za-z0-9_]*)$ (letters, digits and underscores; \
             starts with a letter or a single underscore; no hyphens)"
        );
    }

    #[test]
    fn pattern_is_taken_exactly() {
        // The seed's pattern, not a paraphrase of its prose: these follow from the regex itself.
        for ok in ["a", "_", "_a", "_a_", "ab_", "a1_b_", "A9", "xy_z"] {
            assert_eq!(run(&format!(r#"{{"{ok}": 1}}"#)), Ok(()), "{ok}");
        }
        // A single character before the first underscore cannot match either alternative.
        for bad in ["a_", "", "1", "a b", "é", "a.b", "a__", "x_y_z", "c_1"] {
            assert!(run(&format!(r#"{{"{bad}": 1}}"#)).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_keys_and_keys_in_arrays_are_checked() {
        assert_eq!(
            run(r#"{"a": {"b": [{"cc_1": 1}, 2, [{"d": null}]]}}"#),
            Ok(())
        );
        let e = run(r#"{"a": {"b": [{"ok": 1}, {"bad-key": 2}]}}"#).unwrap_err();
        assert_eq!(e.field, "payload.a.b[1].bad-key");
        let e = run(r#"{"a": {"x-y": 1}}"#).unwrap_err();
        assert_eq!(e.field, "payload.a.x-y");
    }

    #[test]
    fn field_name_length() {
        let ok = format!("a{}", "b".repeat(254));
        assert_eq!(run(&format!(r#"{{"{ok}": 1}}"#)), Ok(()));
        let long = format!("a{}", "b".repeat(255));
        let e = run(&format!(r#"{{"{long}": 1}}"#)).unwrap_err();
        assert_eq!(
            e.rule,
            "field name is 256 characters, over the limit of 255"
        );
        assert!(
            e.field.ends_with('…'),
            "long keys are shortened: {}",
            e.field
        );
    }

    #[test]
    fn case_insensitive_duplicates() {
        let e = run(r#"{"foo": 1, "FOO": 2}"#).unwrap_err();
        assert_eq!(e.field, "payload.foo");
        assert_eq!(
            e.rule,
            "field name duplicates `FOO` (IoT Analytics field names are case-insensitive)"
        );
        assert!(run(r#"{"a": {"Temp": 1, "tEMP": 2}}"#).is_err());
        // Same name in different objects is fine.
        assert_eq!(
            run(r#"{"foo": {"foo": 1}, "bar": [{"foo": 1}, {"FOO": 2}]}"#),
            Ok(())
        );
        // Large objects take the sorting path.
        let mut keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        assert_eq!(run(&format!("{{{}}}", keys.join(","))), Ok(()));
        keys.push("\"K17\": 0".into());
        let e = run(&format!("{{{}}}", keys.join(","))).unwrap_err();
        assert!(e.rule.contains("case-insensitive"), "{e}");
    }

    #[test]
    fn scalars_and_binary_payloads_have_no_field_names() {
        assert_eq!(run("29"), Ok(()));
        assert_eq!(run(r#"["a-b"]"#), Ok(()));
        let t = target(channel("telemetry"), EntryParams::Analytics);
        assert_eq!(check(&binary(100), &t, &ContractLimits::default()), Ok(()));
    }

    #[test]
    fn payload_cap_is_configurable() {
        let t = target(channel("telemetry"), EntryParams::Analytics);
        let limits = ContractLimits::default();
        assert_eq!(check(&sized(131_072), &t, &limits), Ok(()));
        let e = check(&sized(131_073), &t, &limits).unwrap_err();
        assert_eq!(e.field, "payload");
        assert!(
            e.rule
                .starts_with("is 131073 bytes, over the configured limit of 131072 bytes")
        );
        let small = ContractLimits {
            analytics_max_payload: 10,
            ..ContractLimits::default()
        };
        assert_eq!(check(&sized(10), &t, &small), Ok(()));
        assert!(check(&sized(11), &t, &small).is_err());
        assert!(check(&binary(11), &t, &small).is_err());
    }

    #[test]
    fn channel_names() {
        let ok = |n: &str| check_channel(&channel(n), n);
        assert_eq!(ok("a"), Ok(()));
        assert_eq!(ok("_a"), Ok(()));
        assert_eq!(ok(&"c".repeat(128)), Ok(()));
        let e = ok(&"c".repeat(129)).unwrap_err();
        assert_eq!(e.rule, "must be 1–128 characters, is 129");
        assert_eq!(e.field, "channelName");
        assert_eq!(
            ok("").unwrap_err().rule,
            "must be 1–128 characters, is empty"
        );
        assert_eq!(
            ok("my-channel").unwrap_err().to_string(),
            "analytics:my-channel field `channelName`: must match ^[a-zA-Z0-9_]+$: character 3 is not allowed"
        );
        assert!(ok("__reserved").unwrap_err().rule.contains("`__`"));
        assert!(ok("a b").is_err());
    }
}
