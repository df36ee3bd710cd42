//! EventBridge-style content patterns on a message's attributes and JSON payload.
//!
//! A pattern is an object whose keys name fields. A key holds either a nested pattern (an object)
//! or an array of matchers, any of which may match: exact values, `prefix`, `suffix`,
//! `equals-ignore-case`, `numeric` ranges, `exists` and `anything-but`, as in
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>.
//! When the field is an array, the field matches when any element does.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    fields: Vec<(String, Field)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Field {
    Nested(Pattern),
    AnyOf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    Numeric(Vec<(Cmp, f64)>),
    Exists(bool),
    AnythingBut(Vec<Matcher>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

const OPERATORS: &str = "prefix, suffix, equals-ignore-case, numeric, exists, anything-but";

impl Pattern {
    /// Parses a pattern; `path` (e.g. `payload`) prefixes the field named in errors.
    pub fn parse(value: &Value, path: &str) -> Result<Pattern, String> {
        let Value::Object(map) = value else {
            return Err(format!("`{path}` must be an object of field patterns"));
        };
        let mut fields = Vec::with_capacity(map.len());
        for (key, value) in map {
            let here = format!("{path}.{key}");
            let field = match value {
                Value::Object(_) => Field::Nested(Pattern::parse(value, &here)?),
                Value::Array(items) if items.is_empty() => {
                    return Err(format!("`{here}`: an empty array matches nothing"));
                }
                Value::Array(items) => Field::AnyOf(
                    items
                        .iter()
                        .map(|item| parse_matcher(item, &here))
                        .collect::<Result<_, _>>()?,
                ),
                _ => {
                    return Err(format!(
                        "`{here}` must be an array of values or matchers (e.g. [\"a\", {{\"prefix\": \"b\"}}]) or a nested object"
                    ));
                }
            };
            fields.push((key.clone(), field));
        }
        Ok(Pattern { fields })
    }

    /// Whether the object (absent: no fields at all) matches every field of the pattern.
    pub fn matches(&self, object: Option<&Map<String, Value>>) -> bool {
        self.fields.iter().all(|(key, field)| {
            let value = object.and_then(|o| o.get(key));
            match field {
                Field::Nested(pattern) => pattern.matches(value.and_then(Value::as_object)),
                Field::AnyOf(matchers) => matchers.iter().any(|m| m.matches_field(value)),
            }
        })
    }
}

fn parse_matcher(item: &Value, path: &str) -> Result<Matcher, String> {
    Ok(match item {
        Value::String(s) => Matcher::String(s.clone()),
        Value::Number(n) => Matcher::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::Bool(b) => Matcher::Bool(*b),
        Value::Null => Matcher::Null,
        Value::Array(_) => return Err(format!("`{path}`: arrays cannot be nested in a pattern")),
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
                return Err(format!(
                    "`{path}`: a matcher object has exactly one operator ({OPERATORS})"
                ));
            };
            parse_operator(op, arg, path)?
        }
    })
}

fn parse_operator(op: &str, arg: &Value, path: &str) -> Result<Matcher, String> {
    let text = |arg: &Value| {
        arg.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("`{path}`: `{op}` takes a string"))
    };
    Ok(match op {
        "prefix" => Matcher::Prefix(text(arg)?),
        "suffix" => Matcher::Suffix(text(arg)?),
        "equals-ignore-case" => Matcher::EqualsIgnoreCase(text(arg)?.to_lowercase()),
        "exists" => Matcher::Exists(
            arg.as_bool()
                .ok_or_else(|| format!("`{path}`: `exists` takes true or false"))?,
        ),
        "numeric" => Matcher::Numeric(parse_numeric(arg, path)?),
        "anything-but" => Matcher::AnythingBut(match arg {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|item| match item {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => {
                        parse_matcher(item, path)
                    }
                    _ => Err(format!("`{path}`: `anything-but` lists plain values")),
                })
                .collect::<Result<_, _>>()?,
            Value::Object(map) => {
                let mut entries = map.iter().map(|(k, v)| (k.as_str(), v));
                match (entries.next(), entries.next()) {
                    (Some((inner @ ("prefix" | "suffix" | "equals-ignore-case"), value)), None) => {
                        vec![parse_operator(inner, value, path)?]
                    }
                    _ => {
                        return Err(format!(
                            "`{path}`: `anything-but` takes a value, a list of values, or one of prefix, suffix, equals-ignore-case"
                        ));
                    }
                }
            }
            Value::Array(_) => {
                return Err(format!("`{path}`: `anything-but` needs at least one value"));
            }
            scalar => vec![parse_matcher(scalar, path)?],
        }),
        other => {
            return Err(format!(
                "`{path}`: unknown operator `{other}` (supported: {OPERATORS})"
            ));
        }
    })
}

fn parse_numeric(arg: &Value, path: &str) -> Result<Vec<(Cmp, f64)>, String> {
    let bad = || {
        format!(
            "`{path}`: `numeric` takes [op, number] or [op, number, op, number] with op one of <, <=, =, >=, >"
        )
    };
    let items = arg.as_array().ok_or_else(bad)?;
    if items.is_empty() || items.len() > 4 || items.len() % 2 != 0 {
        return Err(bad());
    }
    items
        .chunks(2)
        .map(|pair| match pair {
            [Value::String(op), Value::Number(n)] => {
                let cmp = match op.as_str() {
                    "<" => Cmp::Lt,
                    "<=" => Cmp::Le,
                    "=" => Cmp::Eq,
                    ">=" => Cmp::Ge,
                    ">" => Cmp::Gt,
                    _ => return Err(bad()),
                };
                n.as_f64().map(|n| (cmp, n)).ok_or_else(bad)
            }
            _ => Err(bad()),
        })
        .collect()
}

impl Matcher {
    /// Matches one field: absent, a scalar, or an array (any element).
    fn matches_field(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (Matcher::Exists(want), value) => *want == value.is_some(),
            (_, None) => false,
            (_, Some(Value::Array(items))) => items.iter().any(|v| self.matches_value(v)),
            (_, Some(v)) => self.matches_value(v),
        }
    }

    fn matches_value(&self, value: &Value) -> bool {
        match self {
            Matcher::String(want) => value.as_str() == Some(want.as_str()),
            Matcher::Number(want) => value.as_f64() == Some(*want),
            Matcher::Bool(want) => value.as_bool() == Some(*want),
            Matcher::Null => value.is_null(),
            Matcher::Prefix(p) => value.as_str().is_some_and(|s| s.starts_with(p.as_str())),
            Matcher::Suffix(p) => value.as_str().is_some_and(|s| s.ends_with(p.as_str())),
            Matcher::EqualsIgnoreCase(lower) => {
                value.as_str().is_some_and(|s| s.to_lowercase() == *lower)
            }
            Matcher::Numeric(ranges) => value.as_f64().is_some_and(|n| {
                ranges.iter().all(|(cmp, bound)| match cmp {
                    Cmp::Lt => n < *bound,
                    Cmp::Le => n <= *bound,
                    Cmp::Eq => n == *bound,
                    Cmp::Ge => n >= *bound,
                    Cmp::Gt => n > *bound,
                })
            }),
            Matcher::Exists(want) => *want,
            Matcher::AnythingBut(refused) => !refused.iter().any(|m| m.matches_value(value)),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn m(pattern: Value, object: Value) -> bool {
        Pattern::parse(&pattern, "p")
            .unwrap()
            .matches(object.as_object())
    }

    #[test]
    fn exact_values_and_arrays() {
        assert!(m(json!({"a": ["x", "y"]}), json!({"a": "y"})));
        assert!(!m(json!({"a": ["x"]}), json!({"a": "X"})));
        assert!(m(json!({"a": [5]}), json!({"a": 5.0})));
        assert!(!m(json!({"a": [5]}), json!({"a": "5"})));
        assert!(m(json!({"a": [true]}), json!({"a": true})));
        assert!(m(json!({"a": [null]}), json!({"a": null})));
        assert!(
            m(json!({"a": ["x"]}), json!({"a": ["z", "x"]})),
            "any element of an array field"
        );
        assert!(!m(json!({"a": ["x"]}), json!({})));
    }

    #[test]
    fn operators() {
        assert!(m(json!({"a": [{"prefix": "sen"}]}), json!({"a": "sensor"})));
        assert!(m(json!({"a": [{"suffix": "or"}]}), json!({"a": "sensor"})));
        assert!(m(
            json!({"a": [{"equals-ignore-case": "SeNsOr"}]}),
            json!({"a": "sensor"})
        ));
        assert!(m(
            json!({"t": [{"numeric": [">", 80]}]}),
            json!({"t": 81.5})
        ));
        assert!(!m(json!({"t": [{"numeric": [">", 80]}]}), json!({"t": 80})));
        assert!(m(
            json!({"t": [{"numeric": [">=", 0, "<", 10]}]}),
            json!({"t": 0})
        ));
        assert!(!m(
            json!({"t": [{"numeric": [">=", 0, "<", 10]}]}),
            json!({"t": 10})
        ));
        assert!(!m(json!({"t": [{"numeric": [">", 1]}]}), json!({"t": "5"})));
        assert!(m(json!({"a": [{"exists": true}]}), json!({"a": 1})));
        assert!(!m(json!({"a": [{"exists": true}]}), json!({})));
        assert!(m(json!({"a": [{"exists": false}]}), json!({})));
        assert!(!m(json!({"a": [{"exists": false}]}), json!({"a": 1})));
        assert!(m(
            json!({"a": [{"anything-but": ["x", "y"]}]}),
            json!({"a": "z"})
        ));
        assert!(!m(json!({"a": [{"anything-but": "x"}]}), json!({"a": "x"})));
        assert!(!m(
            json!({"a": [{"anything-but": {"prefix": "te"}}]}),
            json!({"a": "test"})
        ));
        assert!(
            !m(json!({"a": [{"anything-but": "x"}]}), json!({})),
            "absent fields match only exists:false"
        );
    }

    #[test]
    fn nested_fields_and_absent_objects() {
        let p = json!({"a": {"b": [{"numeric": ["<", 0]}]}});
        assert!(m(p.clone(), json!({"a": {"b": -1}})));
        assert!(!m(p.clone(), json!({"a": 3})));
        assert!(!Pattern::parse(&p, "p").unwrap().matches(None));
        let absent = Pattern::parse(&json!({"a": [{"exists": false}]}), "p").unwrap();
        assert!(absent.matches(None));
    }

    #[test]
    fn errors_name_the_field() {
        let err = |p: Value| Pattern::parse(&p, "payload").unwrap_err();
        assert!(err(json!({"a": "x"})).contains("`payload.a` must be an array"));
        assert!(err(json!({"a": []})).contains("matches nothing"));
        assert!(err(json!({"a": [{"wildcard": "x*"}]})).contains("unknown operator `wildcard`"));
        assert!(err(json!({"a": [{"numeric": [">", "1"]}]})).contains("numeric"));
        assert!(err(json!({"a": [{"numeric": ["!", 1]}]})).contains("numeric"));
        assert!(err(json!({"a": [{"prefix": 1}]})).contains("takes a string"));
        assert!(
            err(json!({"a": [{"prefix": "a", "suffix": "b"}]})).contains("exactly one operator")
        );
        assert!(err(json!({"b": {"c": [[1]]}})).contains("`payload.b.c`"));
        assert!(err(json!([1])).contains("must be an object"));
    }
}
