//! IoT Analytics `BatchPutMessage`: channel names, the configurable payload cap and payload field names.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

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
    match payload {
        Payload::Json(json) => check_fields(dest, json.raw()),
        Payload::Binary(_) => Ok(()),
    }
}

/// Every object key at every depth (inside arrays too) follows the field-name rules. Walks the
/// payload's text instead of its `Value`, so a route that sends to IoT Analytics does not pay
/// for building one.
fn check_fields(dest: &Destination, text: &str) -> Result<(), ContractError> {
    let mut found = None;
    let walk = Fields {
        dest,
        path: Path::root("payload"),
        found: &mut found,
    };
    let parsed = walk.deserialize(&mut serde_json::Deserializer::from_str(text));
    match (found, parsed) {
        (Some(error), _) => Err(error),
        (None, Ok(())) => Ok(()),
        // Decoding checked the text already; a payload built around it still gets a clear error.
        (None, Err(e)) => Err(ContractError::new(
            dest,
            "payload",
            format!("is not valid JSON: {e}"),
        )),
    }
}

/// One value of the walk: where it is, and where the first broken rule goes (the walk then
/// stops with a placeholder parse error).
struct Fields<'p, 'f> {
    dest: &'p Destination,
    path: Path<'p>,
    found: &'f mut Option<ContractError>,
}

impl Fields<'_, '_> {
    fn fail<E: de::Error>(self, error: ContractError) -> E {
        *self.found = Some(error);
        E::custom("field name rule")
    }
}

impl<'de> DeserializeSeed<'de> for Fields<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    crate::message::accept_json_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Fields {
                dest: self.dest,
                path: self.path.index(i),
                found: &mut *self.found,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: Vec<Key<'de>> = Vec::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if let Err(e) = check_field_name(self.dest, &key.name, &self.path.key(&key.name)) {
                return Err(self.fail(e));
            }
            keys.push(key);
            let Some(key) = keys.last() else { break };
            map.next_value_seed(Fields {
                dest: self.dest,
                path: self.path.key(&key.name),
                found: &mut *self.found,
            })?;
        }
        match check_case_duplicates(self.dest, &keys, &self.path) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }
}

/// An object key, borrowed from the payload's text unless it holds escapes, with its
/// case-folded hash.
struct Key<'de> {
    name: Cow<'de, str>,
    folded: u64,
}

impl<'de> Key<'de> {
    fn new(name: Cow<'de, str>) -> Self {
        // FNV-1a over the lower-cased bytes: equal for names equal ignoring ASCII case.
        let folded = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
        });
        Key { name, folded }
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::new(Cow::Borrowed(key)))
            }

            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key::new(Cow::Owned(key.to_owned())))
            }
        }
        d.deserialize_str(KeyVisitor)
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

/// IoT Analytics field names are case-insensitive: `foo` and `FOO` in one object are duplicates
/// (and so is the same key twice). Runs after every key matched the (ASCII-only) pattern, so
/// ASCII case folding is exact. The error names the later key, in document order.
fn check_case_duplicates(
    dest: &Destination,
    keys: &[Key<'_>],
    path: &Path<'_>,
) -> Result<(), ContractError> {
    // Names are compared by a case-folded hash first, and only equal hashes by their text.
    let same =
        |a: &Key<'_>, b: &Key<'_>| a.folded == b.folded && a.name.eq_ignore_ascii_case(&b.name);
    let duplicate = if keys.len() <= PAIRWISE_KEYS {
        keys.iter().enumerate().find_map(|(i, later)| {
            keys.iter()
                .take(i)
                .find(|earlier| same(earlier, later))
                .map(|earlier| (earlier, later))
        })
    } else {
        let mut order: Vec<&Key<'_>> = keys.iter().collect();
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
    match duplicate {
        Some((earlier, later)) => {
            let mut rule = String::from("field name duplicates `");
            super::push_key(&mut rule, &earlier.name);
            rule.push_str("` (IoT Analytics field names are case-insensitive)");
            Err(ContractError::new(
                dest,
                path.key(&later.name).render(),
                rule,
            ))
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
            let walked = check_fields(&channel("telemetry"), &text);
            proptest::prop_assert_eq!(walked.is_ok(), fields_ok_by_value(&value), "{}", text);
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
