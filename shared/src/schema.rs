//! The routing table's JSON Schema (`shared/schema/routes.schema.json`, draft 2020-12): for
//! editors (a table may name it in `"$schema"`), `fanout schema`, and, in its draft 4 rendition,
//! AWS AppConfig's validator. `shared/tests/schema.rs` holds it against the parser.

use serde_json::{Map, Value};

/// The schema as kept in the repository.
pub const ROUTES_SCHEMA: &str = include_str!("../schema/routes.schema.json");

/// The draft 4 URI AppConfig's inline JSON Schema validators require: "AWS AppConfig supports
/// JSON Schema version 4.X for inline schema"
/// (<https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-creating-configuration-and-profile-validators.html>).
pub const DRAFT_4: &str = "http://json-schema.org/draft-04/schema#";

/// The schema for AppConfig: the same keywords (the schema uses only those draft 4 shares),
/// declared draft 4, with `$defs` under draft 4's name `definitions`.
pub fn draft4(schema: &Value) -> Value {
    let mut out = rename_defs(schema);
    if let Some(root) = out.as_object_mut() {
        root.insert("$schema".to_owned(), Value::String(DRAFT_4.to_owned()));
        if let Some(defs) = root.remove("$defs") {
            root.insert("definitions".to_owned(), defs);
        }
    }
    out
}

/// Every `$ref` into `#/$defs/` pointed at `#/definitions/` instead.
fn rename_defs(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| {
                    let v = match (key.as_str(), v) {
                        ("$ref", Value::String(r)) => Value::String(
                            r.strip_prefix("#/$defs/")
                                .map_or_else(|| r.clone(), |rest| format!("#/definitions/{rest}")),
                        ),
                        _ => rename_defs(v),
                    };
                    (key.clone(), v)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(rename_defs).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_draft4_rendition_renames_definitions_and_their_references() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "properties": {"$schema": {"type": "string"}, "a": {"$ref": "#/$defs/a"}},
            "$defs": {"a": {"items": [{"$ref": "#/$defs/b"}]}, "b": {"type": "null"}}
        });
        assert_eq!(
            draft4(&schema),
            json!({
                "$schema": DRAFT_4,
                "properties": {"$schema": {"type": "string"}, "a": {"$ref": "#/definitions/a"}},
                "definitions": {"a": {"items": [{"$ref": "#/definitions/b"}]}, "b": {"type": "null"}}
            })
        );
        let kept: Value = serde_json::from_str(ROUTES_SCHEMA).unwrap();
        assert!(kept["$defs"]["target"].is_object());
    }
}
