//! Building a pattern from its JSON, refusing what EventBridge refuses (the rules of
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>
//! and of its reference matcher, <https://github.com/aws/event-ruler>), each refusal with the
//! path of the field.

use serde_json::{Map, Value};

use super::ip::{CIDR_RULE, Cidr, Ip};
use super::number::{self, comparable};
use super::operator::{Exact, Exclusion, Matcher, Range};
use super::wildcard::Wildcard;
use super::{Leaf, Member, Node, Pattern, PatternError, Then};

/// EventBridge's event pattern size: 2,048 characters by default, raised on request up to 4,096
/// (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html>). The table has no
/// quota to raise, so it takes the largest; measured as compact JSON.
pub(super) const MAX_CHARS: usize = 4096;

/// Nesting depth, the limit `serde_json` puts on JSON text: a pattern read from a table never
/// comes near it, and building and matching recurse once per level.
const MAX_DEPTH: usize = 128;

const OPERATORS: &str =
    "prefix, suffix, equals-ignore-case, wildcard, numeric, cidr, exists, anything-but";

/// Names the reference matcher keeps for operators; inside `$or` they cannot name fields, so
/// that an operator written one level too high is refused instead of read as a field.
const RESERVED_IN_OR: [&str; 24] = [
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

const OR_RULE: &str = "`$or` takes a list of two or more alternative pattern objects, e.g. \"$or\": [{\"a\": [1]}, {\"b\": [2]}]";
const NUMERIC_RULE: &str = "`numeric` takes one comparison or a range: [\">\", 0], [\"=\", 5], [\">=\", 0, \"<\", 10]; the operators are <, <=, =, >=, >, and only a lower bound (> or >=) may be followed by an upper one (< or <=)";
const ANYTHING_BUT_RULE: &str = "`anything-but` takes a string, a number, a list of only strings or only numbers, or one of {\"prefix\": …}, {\"suffix\": …}, {\"equals-ignore-case\": …}, {\"wildcard\": …} holding a string or a list of strings";

fn at(path: &str, reason: impl Into<String>) -> PatternError {
    PatternError {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

pub(super) fn pattern(value: &Value, path: &str) -> Result<Pattern, PatternError> {
    let Value::Object(map) = value else {
        return Err(at(
            path,
            "a pattern is an object of fields, e.g. {\"temp\": [{\"numeric\": [\">\", 80]}]}",
        ));
    };
    match measure(value) {
        Measure::Fits => {}
        Measure::TooLong => {
            return Err(at(
                path,
                format!(
                    "the pattern is longer than {MAX_CHARS} characters as compact JSON, EventBridge's largest event pattern; split it over several routes"
                ),
            ));
        }
        Measure::TooDeep => {
            return Err(at(
                path,
                format!("the pattern is nested deeper than {MAX_DEPTH} levels"),
            ));
        }
    }
    let build = |or_is_field| {
        let mut builder = Builder {
            or_is_field,
            ..Builder::default()
        };
        let mut root = Node::empty();
        let built = builder.object(map, path, &mut root, false);
        root.settle();
        (
            built.map(|()| Pattern {
                root,
                uses_wildcard: builder.uses_wildcard,
            }),
            builder.saw_or,
        )
    };
    match build(false) {
        (Ok(pattern), _) => Ok(pattern),
        // The reference matcher reads a pattern it cannot read with `$or` alternatives again
        // with `$or` as a plain field name, for patterns written before `$or` existed
        // (event-ruler's README, "The backward compatibility of using "$or" as field name").
        (Err(error), true) => build(true).0.map_err(|_| error),
        (Err(error), false) => Err(error),
    }
}

impl Node {
    fn empty() -> Node {
        Node {
            members: Vec::new(),
            can_be_absent: false,
        }
    }

    /// Fills in `can_be_absent`, bottom up.
    fn settle(&mut self) -> bool {
        let mut all = true;
        for member in &mut self.members {
            let absent = match member {
                Member::Field { then, .. } => match then {
                    Then::Leaf(leaf) => leaf.absent,
                    Then::Node(node) => node.settle(),
                },
                Member::Or(branches) => branches.iter_mut().fold(false, |any, b| b.settle() | any),
            };
            all &= absent;
        }
        self.can_be_absent = all;
        all
    }

    /// The nested pattern under `key`, made if new (dotted keys and nested objects meet here).
    fn child(&mut self, key: &str, path: &str) -> Result<&mut Node, PatternError> {
        let found = self
            .members
            .iter()
            .position(|member| matches!(member, Member::Field { key: k, .. } if k == key));
        let index = match found {
            Some(index) => index,
            None => {
                self.members.push(Member::Field {
                    key: key.to_owned(),
                    then: Then::Node(Node::empty()),
                });
                self.members.len() - 1
            }
        };
        match self.members.get_mut(index) {
            Some(Member::Field {
                then: Then::Node(node),
                ..
            }) => Ok(node),
            _ => Err(twice(path)),
        }
    }

    fn has_field(&self, key: &str) -> bool {
        self.members
            .iter()
            .any(|member| matches!(member, Member::Field { key: k, .. } if k == key))
    }
}

fn twice(path: &str) -> PatternError {
    at(
        path,
        "this field is given twice (with a dotted key and with nested objects); give it once",
    )
}

#[derive(Default)]
struct Builder {
    uses_wildcard: bool,
    /// Read `$or` as a field name.
    or_is_field: bool,
    /// A `$or` key was read as alternatives.
    saw_or: bool,
}

impl Builder {
    fn object(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        node: &mut Node,
        in_or: bool,
    ) -> Result<(), PatternError> {
        if map.is_empty() {
            return Err(at(
                path,
                "an empty object matches nothing; give at least one field",
            ));
        }
        for (key, value) in map {
            if key == "$or" && !self.or_is_field {
                self.saw_or = true;
                let branches = self.or(value, &format!("{path}.$or"))?;
                node.members.push(Member::Or(branches));
                continue;
            }
            let here = format!("{path}.{key}");
            if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
                return Err(at(
                    &here,
                    format!(
                        "`{key}` is an operator name, so it cannot name a field inside `$or`; an operator goes in a field's list, e.g. \"field\": [{{\"{key}\": …}}]"
                    ),
                ));
            }
            // A dotted key is the nested path it spells, as in EventBridge's field names.
            let mut segments = key.split('.');
            let last = segments.next_back().unwrap_or_default();
            let mut target = &mut *node;
            for segment in segments {
                target = target.child(segment, &here)?;
            }
            match value {
                Value::Object(inner) => {
                    let child = target.child(last, &here)?;
                    self.object(inner, &here, child, in_or)?;
                }
                Value::Array(items) => {
                    if target.has_field(last) {
                        return Err(twice(&here));
                    }
                    let leaf = self.leaf(items, &here)?;
                    target.members.push(Member::Field {
                        key: last.to_owned(),
                        then: Then::Leaf(leaf),
                    });
                }
                _ => {
                    return Err(at(
                        &here,
                        "must be a list of values or matchers (e.g. [\"a\", {\"prefix\": \"b\"}]) or a nested pattern object",
                    ));
                }
            }
        }
        Ok(())
    }

    fn or(&mut self, value: &Value, path: &str) -> Result<Vec<Node>, PatternError> {
        let Value::Array(items) = value else {
            return Err(at(path, OR_RULE));
        };
        if items.len() < 2 {
            return Err(at(path, OR_RULE));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let here = format!("{path}[{i}]");
                let Value::Object(map) = item else {
                    return Err(at(
                        &here,
                        format!("each alternative is a pattern object; {OR_RULE}"),
                    ));
                };
                let mut branch = Node::empty();
                self.object(map, &here, &mut branch, true)?;
                Ok(branch)
            })
            .collect()
    }

    fn leaf(&mut self, items: &[Value], path: &str) -> Result<Leaf, PatternError> {
        if items.is_empty() {
            return Err(at(
                path,
                "an empty list matches nothing; list at least one value or matcher",
            ));
        }
        let mut leaf = Leaf {
            matchers: Vec::with_capacity(items.len()),
            absent: false,
        };
        for item in items {
            let exact = match item {
                Value::String(s) => Exact::String(s.clone(), Ip::parse(s)),
                Value::Number(n) => Exact::Number(n.clone(), comparable(n)),
                Value::Bool(b) => Exact::Bool(*b),
                Value::Null => Exact::Null,
                Value::Array(_) => {
                    return Err(at(
                        path,
                        "a list of values cannot hold another list; values are strings, numbers, true, false, null or matcher objects",
                    ));
                }
                Value::Object(map) => {
                    if let Some(matcher) = self.operator(map, path, &mut leaf)? {
                        leaf.matchers.push(matcher);
                    }
                    continue;
                }
            };
            leaf.matchers.push(Matcher::Exact(exact));
        }
        Ok(leaf)
    }

    /// One matcher object; `exists: false` marks the leaf instead of returning a matcher.
    fn operator(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        leaf: &mut Leaf,
    ) -> Result<Option<Matcher>, PatternError> {
        let mut entries = map.iter();
        let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
            return Err(at(
                path,
                format!(
                    "a matcher object holds exactly one operator, found {} ({OPERATORS})",
                    map.len()
                ),
            ));
        };
        let text = |arg: &Value| match arg {
            Value::String(s) => Ok(s.clone()),
            _ => Err(at(path, format!("`{op}` takes a string"))),
        };
        Ok(Some(match op.as_str() {
            "prefix" | "suffix" => {
                let (plain, folded) = match arg {
                    Value::Object(inner) => (None, Some(ignore_case(inner, op, path)?)),
                    Value::String(s) => (Some(s.clone()), None),
                    _ => {
                        return Err(at(
                            path,
                            format!(
                                "`{op}` takes a string, or {{\"equals-ignore-case\": \"…\"}} to ignore case"
                            ),
                        ));
                    }
                };
                match (op.as_str(), plain, folded) {
                    ("prefix", Some(s), _) => Matcher::Prefix(s),
                    ("prefix", None, Some(s)) => Matcher::PrefixIgnoreCase(s),
                    (_, Some(s), _) => Matcher::Suffix(s),
                    (_, _, folded) => Matcher::SuffixIgnoreCase(folded.unwrap_or_default()),
                }
            }
            "equals-ignore-case" => Matcher::EqualsIgnoreCase(text(arg)?.to_lowercase()),
            "wildcard" => {
                self.uses_wildcard = true;
                Matcher::Wildcard(Wildcard::parse(&text(arg)?).map_err(|e| at(path, e))?)
            }
            "numeric" => Matcher::Numeric(numeric(arg, path)?),
            "cidr" => Matcher::Cidr(
                arg.as_str()
                    .and_then(Cidr::parse)
                    .ok_or_else(|| at(path, CIDR_RULE))?,
            ),
            "exists" => match arg {
                Value::Bool(true) => Matcher::Exists,
                Value::Bool(false) => {
                    leaf.absent = true;
                    return Ok(None);
                }
                _ => return Err(at(path, "`exists` takes true or false")),
            },
            "anything-but" => Matcher::AnythingBut(self.anything_but(arg, path)?),
            other => {
                return Err(at(
                    path,
                    format!("unknown operator `{other}` (operators, case-sensitive: {OPERATORS})"),
                ));
            }
        }))
    }

    fn anything_but(&mut self, arg: &Value, path: &str) -> Result<Exclusion, PatternError> {
        let refuse = |reason: &str| Err(at(path, format!("{reason}; {ANYTHING_BUT_RULE}")));
        match arg {
            Value::String(s) => Ok(Exclusion::Strings(vec![s.clone()])),
            Value::Number(n) => Ok(Exclusion::Numbers(vec![anything_but_number(n, path)?])),
            Value::Null => refuse("`anything-but` cannot exclude null (EventBridge refuses it)"),
            Value::Bool(_) => refuse("`anything-but` cannot exclude true or false"),
            Value::Array(items) => {
                if items.iter().any(Value::is_null) {
                    return refuse(
                        "an `anything-but` list cannot hold null (EventBridge refuses it)",
                    );
                }
                if !items.is_empty() && items.iter().all(Value::is_string) {
                    Ok(Exclusion::Strings(
                        items
                            .iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect(),
                    ))
                } else if !items.is_empty() && items.iter().all(Value::is_number) {
                    items
                        .iter()
                        .filter_map(Value::as_number)
                        .map(|n| anything_but_number(n, path))
                        .collect::<Result<_, _>>()
                        .map(Exclusion::Numbers)
                } else {
                    refuse(
                        "an `anything-but` list holds only strings or only numbers, at least one",
                    )
                }
            }
            Value::Object(map) => {
                let mut entries = map.iter();
                let (Some((op, inner)), None) = (entries.next(), entries.next()) else {
                    return refuse("an `anything-but` object holds exactly one operator");
                };
                enum Kind {
                    Prefix,
                    Suffix,
                    IgnoreCase,
                    Wildcard,
                }
                let kind = match op.as_str() {
                    "prefix" => Kind::Prefix,
                    "suffix" => Kind::Suffix,
                    "equals-ignore-case" => Kind::IgnoreCase,
                    "wildcard" => Kind::Wildcard,
                    other => return refuse(&format!("`anything-but` cannot hold `{other}`")),
                };
                let strings: Vec<String> = match inner {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) if items.iter().all(Value::is_string) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    _ => {
                        return refuse(&format!(
                            "`anything-but` `{op}` takes a string or a list of strings"
                        ));
                    }
                };
                match kind {
                    Kind::Prefix | Kind::Suffix if strings.iter().any(String::is_empty) => {
                        refuse(&format!(
                            "an empty `anything-but` `{op}` would exclude every string (EventBridge refuses it)"
                        ))
                    }
                    Kind::Prefix => Ok(Exclusion::Prefixes(strings)),
                    Kind::Suffix => Ok(Exclusion::Suffixes(strings)),
                    Kind::IgnoreCase => Ok(Exclusion::IgnoreCase(
                        strings.iter().map(|s| s.to_lowercase()).collect(),
                    )),
                    Kind::Wildcard => {
                        self.uses_wildcard = true;
                        strings
                            .iter()
                            .map(|s| Wildcard::parse(s).map_err(|e| at(path, e)))
                            .collect::<Result<_, _>>()
                            .map(Exclusion::Wildcards)
                    }
                }
            }
        }
    }
}

/// `{"equals-ignore-case": "…"}` inside `prefix` or `suffix`: the lowercased text.
fn ignore_case(map: &Map<String, Value>, op: &str, path: &str) -> Result<String, PatternError> {
    match map.get("equals-ignore-case") {
        Some(Value::String(s)) if map.len() == 1 => Ok(s.to_lowercase()),
        _ => Err(at(
            path,
            format!("`{op}` takes a string, or {{\"equals-ignore-case\": \"…\"}} to ignore case"),
        )),
    }
}

fn anything_but_number(n: &serde_json::Number, path: &str) -> Result<i64, PatternError> {
    comparable(n).ok_or_else(|| {
        at(
            path,
            format!("`anything-but` numbers must be {}", number::RULE),
        )
    })
}

fn numeric(arg: &Value, path: &str) -> Result<Range, PatternError> {
    let Value::Array(items) = arg else {
        return Err(at(path, NUMERIC_RULE));
    };
    let bound = |op: Option<&Value>, n: Option<&Value>| -> Result<(String, i64), PatternError> {
        let Some(Value::String(op)) = op else {
            return Err(at(path, NUMERIC_RULE));
        };
        if !matches!(op.as_str(), "<" | "<=" | "=" | ">=" | ">") {
            return Err(at(path, NUMERIC_RULE));
        }
        let Some(Value::Number(n)) = n else {
            return Err(at(path, format!("`{op}` takes a number; {NUMERIC_RULE}")));
        };
        let n = comparable(n)
            .ok_or_else(|| at(path, format!("`numeric` bounds must be {}", number::RULE)))?;
        Ok((op.clone(), n))
    };
    let (first, value) = bound(items.first(), items.get(1))?;
    let second = match items.len() {
        2 => None,
        4 => Some(bound(items.get(2), items.get(3))?),
        _ => return Err(at(path, NUMERIC_RULE)),
    };
    let range = match (first.as_str(), second) {
        ("=", None) => Range {
            low: Some((value, true)),
            high: Some((value, true)),
        },
        ("<" | "<=", None) => Range {
            low: None,
            high: Some((value, first == "<=")),
        },
        (">" | ">=", None) => Range {
            low: Some((value, first == ">=")),
            high: None,
        },
        (">" | ">=", Some((op, top))) if op == "<" || op == "<=" => {
            if top <= value {
                return Err(at(
                    path,
                    "`numeric`: the lower bound must be below the upper bound",
                ));
            }
            Range {
                low: Some((value, first == ">=")),
                high: Some((top, op == "<=")),
            }
        }
        _ => return Err(at(path, NUMERIC_RULE)),
    };
    Ok(range)
}

enum Measure {
    Fits,
    TooLong,
    TooDeep,
}

/// Whether the value, written as compact JSON, fits in [`MAX_CHARS`] characters and
/// [`MAX_DEPTH`] levels; walked without recursion, and only as far as the limits.
fn measure(value: &Value) -> Measure {
    let quoted = |s: &str| {
        2 + s
            .chars()
            .map(|c| match c {
                '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
                c if u32::from(c) < 0x20 => 6,
                _ => 1,
            })
            .sum::<usize>()
    };
    let mut total = 0;
    let mut pending = vec![(value, 1)];
    while let Some((value, depth)) = pending.pop() {
        // Levels are arrays and objects, as serde_json counts them.
        if depth > MAX_DEPTH && (value.is_array() || value.is_object()) {
            return Measure::TooDeep;
        }
        total += match value {
            Value::Null | Value::Bool(true) => 4,
            Value::Bool(false) => 5,
            Value::Number(n) => n.to_string().len(),
            Value::String(s) => quoted(s),
            Value::Array(items) => {
                pending.extend(items.iter().map(|item| (item, depth + 1)));
                2 + items.len().saturating_sub(1)
            }
            Value::Object(map) => {
                pending.extend(map.values().map(|item| (item, depth + 1)));
                2 + map.len().saturating_sub(1) + map.keys().map(|k| quoted(k) + 1).sum::<usize>()
            }
        };
        if total > MAX_CHARS {
            return Measure::TooLong;
        }
    }
    Measure::Fits
}
