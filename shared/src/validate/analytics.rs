//! IoT Analytics `BatchPutMessage`: channel names, the configurable payload cap and payload field names.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, Visitor};

use super::{ContractError, ContractLimits, NameSet, Path, ascii_name, name_rule};
use crate::destination::Destination;
use crate::message::Payload;

/// channelName: 1–128 characters, `^[a-zA-Z0-9_]+$`, not starting `__` (CreateChannel).
const MAX_CHANNEL_CHARS: usize = 128;
/// Payload field names: "Cannot be more than 255 characters" (BatchPutMessage, seed document).
const MAX_FIELD_NAME_CHARS: usize = 255;
/// The seed document's field-name rule, taken exactly ("In regular expression terms: …").
const FIELD_NAME_PATTERN: &str = r"^[A-Za-z_]([A-Za-z0-9]*|[A-Za-z0-9][A-Za-z0-9_]*)$";
/// Objects with more keys than this are checked for case-insensitive duplicates by sorting their
/// hashes (one allocation) rather than pairwise (none).
const PAIRWISE_KEYS: usize = 16;

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
    ascii_name(channel, MAX_CHANNEL_CHARS, |b| NameSet::Channel.allows(b)).map_err(|f| {
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
    payload: &Payload,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
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
    // JSON ones were checked key by key when the message was decoded (`JsonPayload::parse`).
    match payload {
        Payload::Json(json) => match json.field_name_violation() {
            Some(v) => Err(ContractError::new(dest, v.path.clone(), v.rule.clone())),
            None => Ok(()),
        },
        Payload::Binary(_) => Ok(()),
    }
}

/// The first field-name rule a JSON payload breaks: every object key at every depth (inside
/// arrays too) follows the pattern, and no object holds two keys equal but for case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldNameViolation {
    pub(crate) path: String,
    pub(crate) rule: String,
}

impl FieldNameViolation {
    pub(crate) fn new(path: &Path<'_>, rule: String) -> Self {
        FieldNameViolation {
            path: path.render(),
            rule,
        }
    }
}

/// An object key, borrowed from the payload's text unless it holds escapes, with its
/// case-folded hash.
pub(crate) struct FieldKey<'de> {
    name: Cow<'de, str>,
    folded: u64,
}

impl<'de> FieldKey<'de> {
    pub(crate) fn new(name: Cow<'de, str>) -> Self {
        let folded = fold_hash(name.as_bytes());
        FieldKey { name, folded }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl<'de> Deserialize<'de> for FieldKey<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = FieldKey<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<FieldKey<'de>, E> {
                Ok(FieldKey::new(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<FieldKey<'de>, E> {
                Ok(FieldKey::new(Cow::Owned(key.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A hash equal for names equal ignoring ASCII case: eight bytes per step with bit 5 set in each,
/// which makes letters that differ only by case equal (other bytes may collide too, which costs
/// only a comparison of the text). Short names are read as overlapping words, as wyhash does.
/// A byte-at-a-time FNV hash was a third of the payload scan (BENCHMARKS.md, section 9).
#[inline]
fn fold_hash(bytes: &[u8]) -> u64 {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let mix = |h: u64, word: u64| {
        (h ^ (word | FOLD))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29)
    };
    let word = |at: usize| {
        bytes
            .get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let half = |at: usize| {
        bytes
            .get(at..at + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
    };
    let byte = |at: usize| bytes.get(at).copied().map_or(0, u64::from);
    let n = bytes.len();
    let h = n as u64;
    match n {
        0 => h,
        1..4 => mix(h, (byte(0) << 16) | (byte(n / 2) << 8) | byte(n - 1)),
        4..8 => mix(h, (half(0) << 32) | half(n - 4)),
        _ => {
            let mut h = h;
            let mut at = 0;
            while at + 8 < n {
                h = mix(h, word(at));
                at += 8;
            }
            mix(h, word(n - 8))
        }
    }
}

/// The rule `key` breaks as an IoT Analytics field name, if any. Inlined where payloads are
/// walked, for the common case of a short name that follows the pattern.
#[inline]
pub(crate) fn field_name_rule(key: &str) -> Option<String> {
    if key.len() <= MAX_FIELD_NAME_CHARS && is_field_name(key) {
        return None;
    }
    broken_field_name_rule(key)
}

#[cold]
fn broken_field_name_rule(key: &str) -> Option<String> {
    // Most names are short ASCII: count characters only when the bytes could be too many.
    if key.len() > MAX_FIELD_NAME_CHARS {
        let chars = key.chars().count();
        if chars > MAX_FIELD_NAME_CHARS {
            return Some(format!(
                "field name is {chars} characters, over the limit of {MAX_FIELD_NAME_CHARS}"
            ));
        }
    }
    (!is_field_name(key)).then(|| {
        format!(
            "field name must match {FIELD_NAME_PATTERN} (letters, digits and underscores; \
             starts with a letter or a single underscore; no hyphens)"
        )
    })
}

/// IoT Analytics field names are case-insensitive: `foo` and `FOO` in one object are duplicates
/// (and so is the same key twice). Runs after every key matched the (ASCII-only) pattern, so
/// ASCII case folding is exact. Gives the later key of the first pair, in document order, and
/// the rule.
pub(crate) fn case_duplicate<'k, 'de>(
    keys: &'k [FieldKey<'de>],
) -> Option<(&'k FieldKey<'de>, String)> {
    // Names are compared by a case-folded hash first, and only equal hashes by their text.
    let same = |a: &FieldKey<'_>, b: &FieldKey<'_>| {
        a.folded == b.folded && a.name.eq_ignore_ascii_case(&b.name)
    };
    let duplicate = if keys.len() <= PAIRWISE_KEYS {
        keys.iter().enumerate().find_map(|(i, later)| {
            keys.iter()
                .take(i)
                .find(|earlier| same(earlier, later))
                .map(|earlier| (earlier, later))
        })
    } else {
        let mut order: Vec<&FieldKey<'_>> = keys.iter().collect();
        // Stable: within equal hashes, document order.
        order.sort_by_key(|k| k.folded);
        order
            .iter()
            .enumerate()
            .flat_map(|(i, earlier)| {
                order
                    .iter()
                    .skip(i + 1)
                    .take_while(|later| later.folded == earlier.folded)
                    .map(move |later| (*earlier, *later))
            })
            .find(|(earlier, later)| same(earlier, later))
    };
    duplicate.map(|(earlier, later)| {
        let mut rule = String::from("field name duplicates `");
        super::push_key(&mut rule, &earlier.name);
        rule.push_str("` (IoT Analytics field names are case-insensitive)");
        (later, rule)
    })
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

    /// The rules on a parsed `Value`, as the check ran before it walked the text: every key at
    /// every depth is a field name, and no object has two keys equal ignoring ASCII case.
    fn fields_ok_by_value(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                let keys: Vec<&String> = map.keys().collect();
                keys.iter()
                    .all(|k| k.chars().count() <= MAX_FIELD_NAME_CHARS && is_field_name(k))
                    && keys
                        .iter()
                        .enumerate()
                        .all(|(i, a)| keys.iter().skip(i + 1).all(|b| !a.eq_ignore_ascii_case(b)))
                    && map.values().all(fields_ok_by_value)
            }
            serde_json::Value::Array(items) => items.iter().all(fields_ok_by_value),
            _ => true,
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<i32>().prop_map(Into::into)
        ];
        leaf.prop_recursive(4, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                // Few, short names, so case-insensitive duplicates and bad names are common.
                proptest::collection::btree_map("[aAbB_1-]{1,2}", inner, 0..20)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The byte tests agree with the seed's regular expression, taken exactly.
        #[test]
        fn byte_tests_agree_with_the_seed_pattern(name in "[A-Za-z0-9_ .é-]{0,6}") {
            let re = regex::Regex::new(FIELD_NAME_PATTERN).unwrap();
            proptest::prop_assert_eq!(is_field_name(&name), re.is_match(&name), "{}", name);
        }

        /// Walking the text accepts exactly what the rules accept on the parsed value (objects
        /// both small and large enough for the sorting path).
        #[test]
        fn text_walk_agrees_with_the_rules_on_values(value in json_value()) {
            let text = value.to_string();
            let walked = crate::message::JsonPayload::parse(&text).unwrap();
            proptest::prop_assert_eq!(
                walked.field_name_violation().is_none(),
                fields_ok_by_value(&value),
                "{}",
                text
            );
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
        assert_eq!(e.field, "payload.FOO");
        assert_eq!(
            e.rule,
            "field name duplicates `foo` (IoT Analytics field names are case-insensitive)"
        );
        // The same key twice is ambiguous too (a parser keeps one of the two values).
        let e = run(r#"{"a": {"x": 1, "x": 2}}"#).unwrap_err();
        assert_eq!(e.field, "payload.a.x");
        // Escaped keys are unescaped before the rules apply.
        assert_eq!(run(r#"{"\u0061b": 1}"#), Ok(()));
        assert_eq!(
            run(r#"{"ab": 1, "\u0041B": 2}"#).unwrap_err().field,
            "payload.AB"
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
