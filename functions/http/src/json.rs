//! JSON request bodies as the fields of one object, each kept as raw JSON text. Errors say what
//! is wrong and where, and never repeat a value the caller sent: serde's own messages would
//! (`invalid type: string "…", expected u8`), so each field's type is checked here by name.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::reply::quoted;

/// The fields of a JSON object, in the order sent.
#[derive(Debug)]
pub(crate) struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'a> Fields<'a> {
    /// Parses `text` as one JSON object. Syntax errors keep serde's position ("trailing comma at
    /// line 1 column 41"), which holds no input; anything but an object is named by its type.
    pub(crate) fn parse(text: &'a str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| {
            if e.is_data() {
                // The keys are strings and the values raw, so the only data error left is the
                // top-level value not being an object.
                format!("must be a JSON object, found {}", json_type(text))
            } else {
                e.to_string()
            }
        })
    }

    /// Every field must be one of `read` or `ignored`, and each at most once.
    pub(crate) fn only(&self, read: &[&str], ignored: &[&str]) -> Result<(), String> {
        for (i, (name, _)) in self.0.iter().enumerate() {
            if !read.contains(&name.as_str()) && !ignored.contains(&name.as_str()) {
                return Err(format!(
                    "unknown field {}; the fields are {}",
                    quoted(name),
                    read.iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if self.0.iter().take(i).any(|(earlier, _)| earlier == name) {
                return Err(format!("field `{name}` is given twice"));
            }
        }
        Ok(())
    }

    /// A required field as `T`; `rule` says what it must be when it is not one.
    pub(crate) fn required<T: Deserialize<'a>>(&self, name: &str, rule: &str) -> Result<T, String> {
        self.optional(name, rule)?
            .ok_or_else(|| format!("missing field `{name}`"))
    }

    /// An optional field as `T` (`null` counts as absent); `rule` says what it must be.
    pub(crate) fn optional<T: Deserialize<'a>>(
        &self,
        name: &str,
        rule: &str,
    ) -> Result<Option<T>, String> {
        match self.0.iter().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, raw)) if raw.get() == "null" => Ok(None),
            Some((_, raw)) => serde_json::from_str(raw.get())
                .map(Some)
                .map_err(|_| format!("`{name}` {rule}")),
        }
    }
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Fields<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    fields.push((name, map.next_value::<&'de RawValue>()?));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

/// The JSON type of a document that parses, from its first character.
fn json_type(text: &str) -> &'static str {
    match text.trim_start().bytes().next() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_fields_and_types_never_values() {
        let secret = "SECRET-VALUE";
        for (body, expected) in [
            (
                format!(r#""{secret}""#),
                "must be a JSON object, found a string",
            ),
            (
                format!("[\"{secret}\"]"),
                "must be a JSON object, found an array",
            ),
            ("12".to_owned(), "must be a JSON object, found a number"),
            ("null".to_owned(), "must be a JSON object, found null"),
            (
                format!(r#"{{"a": "{secret}",}}"#),
                "trailing comma at line 1 column",
            ),
        ] {
            let error = Fields::parse(&body).unwrap_err();
            assert!(error.starts_with(expected), "{body}: {error}");
            assert!(!error.contains(secret));
        }
        let body = format!(r#"{{"Qos": "{secret}", "Name": ["{secret}"], "Name2": 1}}"#);
        let fields = Fields::parse(&body).unwrap();
        assert_eq!(
            fields.required::<u8>("Qos", "must be 0 or 1").unwrap_err(),
            "`Qos` must be 0 or 1"
        );
        assert_eq!(
            fields
                .required::<String>("Name", "must be a string")
                .unwrap_err(),
            "`Name` must be a string"
        );
        assert_eq!(
            fields.required::<u8>("Missing", "x").unwrap_err(),
            "missing field `Missing`"
        );
        assert_eq!(
            fields.only(&["Qos", "Name"], &[]).unwrap_err(),
            "unknown field `Name2`; the fields are `Qos`, `Name`"
        );
        assert!(fields.only(&["Qos", "Name"], &["Name2"]).is_ok());
    }

    #[test]
    fn duplicate_fields_are_refused_and_null_is_absent() {
        let fields = Fields::parse(r#"{"a": 1, "b": null, "a": 2}"#).unwrap();
        assert_eq!(
            fields.only(&["a", "b"], &[]).unwrap_err(),
            "field `a` is given twice"
        );
        assert_eq!(fields.optional::<u8>("b", "x"), Ok(None));
        let escaped = Fields::parse(r#"{"\u0061": 1}"#).unwrap();
        assert_eq!(escaped.required::<u8>("a", "x"), Ok(1));
    }
}
