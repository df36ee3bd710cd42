//! The routing table's JSON Schema (`shared/schema/routes.schema.json`) against the parser, so
//! the two cannot drift apart: every sample table is valid; the schema refuses the structural
//! mistakes of the bad-input corpus; over hundreds of mutations of the valid tables it never
//! refuses a table the parser accepts, and it refuses every unknown field and wrong type the
//! parser refuses. Both renditions are checked: draft 2020-12 (editors, `fanout schema`) and
//! draft 4 (AppConfig's validator).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;

use fanout::routes::RoutingTable;
use fanout::schema::{ROUTES_SCHEMA, draft4};
use fanout::validate::ContractLimits;
use jsonschema::Validator;
use serde_json::{Value, json};

const CORPUS: &str = include_str!("fixtures/bad_input.json");
/// A valid table that uses every field and operator, so every one of them is mutated below.
const EVERY_FIELD: &str = include_str!("fixtures/every_field.json");

/// Bad tables of the corpus that only the parser can refuse: their mistakes are in values that
/// may also be templates (rendered per message), which the schema leaves to the functions.
const SEMANTIC: &[&str] = &[
    "SNS subject over 100 characters",
    "SNS FIFO group id with a space",
    "MQTT response topic with a wildcard",
    "fleet product key with a dash",
    "template literal text with a wildcard",
];

/// Where the schema is knowingly looser than the parser about a value's type: `numeric` takes
/// `[op, number]` or `[op, number, op, number]`, positions a schema shared with draft 4 cannot
/// pin down, so it takes operators and numbers in any order.
const LOOSER_UNDER: &[&str] = &["numeric"];

struct Schemas {
    latest: Validator,
    draft4: Validator,
}

impl Schemas {
    fn new() -> Schemas {
        let schema: Value = serde_json::from_str(ROUTES_SCHEMA).unwrap();
        Schemas {
            latest: jsonschema::draft202012::new(&schema).unwrap(),
            draft4: jsonschema::draft4::new(&draft4(&schema)).unwrap(),
        }
    }

    /// Whether the table is valid; both renditions must agree.
    fn valid(&self, table: &Value, what: &str) -> bool {
        let latest = self.latest.is_valid(table);
        assert_eq!(
            latest,
            self.draft4.is_valid(table),
            "the draft 4 rendition disagrees on {what}"
        );
        latest
    }

    fn errors(&self, table: &Value) -> String {
        self.latest
            .iter_errors(table)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn parses(table: &Value) -> bool {
    RoutingTable::from_json(&table.to_string(), &ContractLimits::default()).is_ok()
}

/// Every JSON file in events/ that holds a routing table (an object with `routes`).
fn sample_tables() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut tables: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let value: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let name = format!("events/{}", p.file_name()?.to_string_lossy());
            value.get("routes").is_some().then_some((name, value))
        })
        .collect();
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    tables.push((
        "the bad-input corpus's table".to_owned(),
        corpus["routes"].clone(),
    ));
    tables.push((
        "fixtures/every_field.json".to_owned(),
        serde_json::from_str(EVERY_FIELD).unwrap(),
    ));
    tables
}

#[test]
fn the_schema_is_a_schema_in_both_drafts() {
    let schema: Value = serde_json::from_str(ROUTES_SCHEMA).unwrap();
    jsonschema::draft202012::meta::validate(&schema).unwrap();
    jsonschema::draft4::meta::validate(&draft4(&schema)).unwrap();
}

#[test]
fn every_sample_table_is_valid() {
    let schemas = Schemas::new();
    let tables = sample_tables();
    assert!(
        tables.len() >= 3,
        "events/routes.json, the corpus table, every_field.json"
    );
    for (name, table) in &tables {
        assert!(parses(table), "{name} does not parse");
        assert!(
            schemas.valid(table, name),
            "{name}: {}",
            schemas.errors(table)
        );
    }
    // A table that names the schema for its editor stays valid for both.
    let mut named = tables[0].1.clone();
    named["$schema"] = json!("https://example.com/routes.schema.json");
    assert!(parses(&named) && schemas.valid(&named, "a table with $schema"));
}

#[test]
fn the_schema_refuses_the_structural_mistakes_of_the_corpus() {
    let schemas = Schemas::new();
    let corpus: Value = serde_json::from_str(CORPUS).unwrap();
    let mut wrong = Vec::new();
    for case in corpus["tables"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let table = &case["table"];
        assert!(!parses(table), "{name}: the parser accepts it");
        let refused = !schemas.valid(table, name);
        match (refused, SEMANTIC.contains(&name)) {
            (true, false) | (false, true) => {}
            (false, false) => wrong.push(format!("{name}: the schema accepts it")),
            (true, true) => wrong.push(format!(
                "{name}: the schema refuses it now; take it off SEMANTIC"
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A change to one place of a valid table.
struct Mutation {
    /// JSON pointer of the changed value (or of the object a key was added to or removed from).
    path: String,
    kind: &'static str,
    table: Value,
}

/// Every value replaced by null and by a value of another type, every key removed, and an
/// unknown key added to every object.
fn mutations(table: &Value) -> Vec<Mutation> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    collect_paths(table, String::new(), &mut paths);
    for path in paths {
        let original = table.pointer(&path).unwrap().clone();
        let others: Vec<Value> = match &original {
            Value::String(_) => vec![json!(7), json!(true), json!([])],
            Value::Number(_) => vec![json!("7"), json!(true)],
            Value::Bool(_) => vec![json!("true"), json!(1)],
            Value::Null => vec![json!(7)],
            Value::Array(_) => vec![json!({}), json!("x")],
            Value::Object(_) => vec![json!([]), json!("x")],
        };
        if !path.is_empty() {
            let mut nulled = table.clone();
            *nulled.pointer_mut(&path).unwrap() = Value::Null;
            out.push(Mutation {
                path: path.clone(),
                kind: "null",
                table: nulled,
            });
            for other in others {
                let mut changed = table.clone();
                *changed.pointer_mut(&path).unwrap() = other;
                out.push(Mutation {
                    path: path.clone(),
                    kind: "type",
                    table: changed,
                });
            }
        }
        if let Value::Object(map) = &original {
            for key in map.keys() {
                let mut removed = table.clone();
                removed
                    .pointer_mut(&path)
                    .unwrap()
                    .as_object_mut()
                    .unwrap()
                    .remove(key);
                out.push(Mutation {
                    path: format!("{path}/{key}"),
                    kind: "removed",
                    table: removed,
                });
            }
            let mut added = table.clone();
            added
                .pointer_mut(&path)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert("zzUnknown".to_owned(), json!({"type": "x"}));
            out.push(Mutation {
                path,
                kind: "unknown field",
                table: added,
            });
        }
    }
    out
}

fn collect_paths(value: &Value, path: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                collect_paths(v, format!("{path}/{escaped}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_paths(v, format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(path);
}

#[test]
fn the_schema_never_refuses_what_the_parser_accepts_and_catches_unknown_fields_and_types() {
    let schemas = Schemas::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (name, table) in sample_tables() {
        for m in mutations(&table) {
            checked += 1;
            let parsed = parses(&m.table);
            let valid = schemas.valid(&m.table, &m.path);
            let looser = LOOSER_UNDER
                .iter()
                .any(|seg| m.path.split('/').any(|p| p == *seg));
            let problem = match (parsed, valid, m.kind) {
                (true, false, _) => Some(format!(
                    "refuses what the parser accepts: {}",
                    schemas.errors(&m.table)
                )),
                (false, true, "unknown field") => {
                    Some("accepts an unknown field the parser refuses".to_owned())
                }
                (false, true, "type") if !looser => {
                    Some("accepts a wrong type the parser refuses".to_owned())
                }
                _ => None,
            };
            if let Some(problem) = problem {
                wrong.push(format!("{name} {} at {}: {problem}", m.kind, m.path));
            }
        }
    }
    assert!(checked > 500, "only {checked} mutations");
    assert!(
        wrong.is_empty(),
        "{} of {checked} mutations:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
