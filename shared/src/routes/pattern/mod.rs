//! EventBridge content patterns on a message's attributes and JSON payload, with EventBridge's
//! meaning (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>,
//! and the reference matcher's documentation, <https://github.com/aws/event-ruler>).
//!
//! A pattern is an object whose keys name fields; a key holds a nested pattern or a list of
//! matchers, any of which may match; every key must match, and `$or` lists alternative
//! patterns. A dotted key (`"a.b"`) is the same field as the nested `{"a": {"b": …}}`.
//!
//! Arrays in the message are looked into at any depth: a list of matchers matches when any
//! value in the array (or in arrays inside it) does, and a nested pattern applies to each object
//! in an array. The fields one match uses inside an array all come from the same element, so
//! `{"readings": {"sensor": ["t1"], "temp": [{"numeric": [">", 80]}]}}` needs one reading that
//! is both. Only leaf values (strings, numbers, booleans, null) exist: an object or an empty
//! array is no value, so it fails `exists: true` and passes `exists: false`.

mod ip;
mod number;
mod operator;
mod parse;
mod wildcard;

use std::cell::Cell;

use serde_json::{Map, Value};

use operator::Matcher;

/// A checked pattern, ready to match.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    root: Node,
    uses_wildcard: bool,
}

/// A pattern that cannot be used: the field (e.g. `payload.a.b`, `payload.$or[2]`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {reason}")]
pub struct PatternError {
    pub path: String,
    pub reason: String,
}

/// Fields that must all match, and `$or` groups of which one alternative must.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    members: Vec<Member>,
    /// Whether the node can match with no leaf value at all (`exists: false` everywhere it must).
    can_be_absent: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Member {
    Field { key: String, then: Then },
    Or(Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
enum Then {
    Leaf(Leaf),
    Node(Node),
}

/// The matchers of one field; `exists: false` is kept apart, as it asks for no value.
#[derive(Debug, Clone, PartialEq)]
struct Leaf {
    matchers: Vec<Matcher>,
    absent: bool,
}

impl Pattern {
    /// Parses and checks a pattern; `path` (e.g. `payload`) starts the field path in errors.
    pub fn parse(value: &Value, path: &str) -> Result<Pattern, PatternError> {
        parse::pattern(value, path)
    }

    /// Whether the object (absent: no fields at all) matches.
    pub fn matches(&self, object: Option<&Map<String, Value>>) -> bool {
        match object {
            Some(map) => {
                let object = Object::of(map);
                self.root.witnessed(&object)
                    || (self.root.can_be_absent && self.root.absent(&[Seen::Object(object)]))
            }
            None => self.root.can_be_absent,
        }
    }

    /// Whether a `wildcard` appears (EventBridge caps how many rules may use one).
    pub fn uses_wildcard(&self) -> bool {
        self.uses_wildcard
    }
}

/// An object of the message, or the part of one spelled with dotted keys: the entries of
/// `{"a.b": 1, "a.c": 2}` under `a`, as `{"b": 1, "c": 2}`.
#[derive(Debug)]
enum Object<'a> {
    /// An object of the message, and whether any of its keys holds a dot (looked up once, when
    /// first needed: a message rarely has such keys, and a key missing from a large object
    /// should not cost a scan of its keys each time).
    Map(&'a Map<String, Value>, Cell<Option<bool>>),
    Dotted(Vec<(&'a str, &'a Value)>),
}

impl<'a> Object<'a> {
    fn of(map: &'a Map<String, Value>) -> Object<'a> {
        Object::Map(map, Cell::new(None))
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        match self {
            Object::Map(map, _) => map.get(key),
            Object::Dotted(entries) => entries.iter().find(|(k, _)| *k == key).map(|(_, v)| *v),
        }
    }

    /// The entries whose key starts with `key.`, with that start removed. Only asked when `key`
    /// itself is missing: a key with dots stands for the nested path the way EventBridge's field
    /// names do, and a message holding both spellings is read through the nested one.
    fn dotted(&self, key: &str) -> Option<Object<'a>> {
        let under = |k: &'a str| k.strip_prefix(key).and_then(|rest| rest.strip_prefix('.'));
        let entries: Vec<(&'a str, &'a Value)> = match self {
            Object::Map(map, has_dots) => {
                let dots = has_dots.get().unwrap_or_else(|| {
                    let dots = map.keys().any(|k| k.contains('.'));
                    has_dots.set(Some(dots));
                    dots
                });
                if !dots {
                    return None;
                }
                map.iter()
                    .filter_map(|(k, v)| under(k.as_str()).map(|rest| (rest, v)))
                    .collect()
            }
            Object::Dotted(entries) => entries
                .iter()
                .filter_map(|(k, v)| under(k).map(|rest| (rest, *v)))
                .collect(),
        };
        (!entries.is_empty()).then_some(Object::Dotted(entries))
    }

    /// The same object, borrowed again.
    fn view(&self) -> Object<'a> {
        match self {
            Object::Map(map, has_dots) => Object::Map(map, has_dots.clone()),
            Object::Dotted(entries) => Object::Dotted(entries.clone()),
        }
    }

    /// What the field `key` holds when its value is a nested pattern.
    fn child(&self, key: &str) -> Option<Seen<'a>> {
        match self.get(key) {
            Some(value) => Some(Seen::Value(value)),
            None => self.dotted(key).map(Seen::Object),
        }
    }
}

/// A value found at a pattern's path.
#[derive(Debug)]
enum Seen<'a> {
    Value(&'a Value),
    Object(Object<'a>),
}

impl Node {
    /// Whether the node matches inside `object` using at least one leaf value (a witness). The
    /// values one match uses inside an array come from one element: the element is chosen where
    /// the array is met, for the whole nested pattern below it.
    fn witnessed(&self, object: &Object<'_>) -> bool {
        let mut witness = false;
        for member in &self.members {
            let (witnessed, absent) = match member {
                Member::Field { key, then } => match then {
                    Then::Leaf(leaf) => {
                        let value = object.get(key);
                        let witnessed = leaf.witnessed(value);
                        (witnessed, !witnessed && leaf.absent && no_leaf(value))
                    }
                    Then::Node(node) => {
                        let seen = object.child(key);
                        let witnessed = seen.as_ref().is_some_and(|seen| node.witnessed_in(seen));
                        let absent = !witnessed
                            && node.can_be_absent
                            && seen.is_none_or(|seen| node.absent(&[seen]));
                        (witnessed, absent)
                    }
                },
                Member::Or(branches) => {
                    let witnessed = branches.iter().any(|branch| branch.witnessed(object));
                    let absent = !witnessed
                        && branches.iter().any(|branch| {
                            branch.can_be_absent && branch.absent(&[Seen::Object(object.view())])
                        });
                    (witnessed, absent)
                }
            };
            if !witnessed && !absent {
                return false;
            }
            witness |= witnessed;
        }
        witness
    }

    /// [`Node::witnessed`] on whatever the path holds: an object, or an array whose elements
    /// (and the elements of arrays inside it) are tried one at a time.
    fn witnessed_in(&self, seen: &Seen<'_>) -> bool {
        let value = match seen {
            Seen::Object(object) => return self.witnessed(object),
            Seen::Value(value) => *value,
        };
        let mut pending = vec![value];
        while let Some(value) = pending.pop() {
            match value {
                Value::Object(map) if self.witnessed(&Object::of(map)) => return true,
                Value::Array(items) => pending.extend(items.iter().rev()),
                _ => {}
            }
        }
        false
    }

    /// Whether the node matches with no leaf value, given everything the message holds at its
    /// path (every element of the arrays there, as no element was chosen).
    fn absent(&self, seen: &[Seen<'_>]) -> bool {
        let objects = objects(seen);
        if objects.is_empty() {
            return self.can_be_absent;
        }
        self.members.iter().all(|member| match member {
            Member::Field { key, then } => match then {
                Then::Leaf(leaf) => leaf.absent && objects.iter().all(|o| no_leaf(o.get(key))),
                Then::Node(node) => {
                    let below: Vec<Seen<'_>> =
                        objects.iter().filter_map(|o| o.child(key)).collect();
                    node.can_be_absent && node.absent(&below)
                }
            },
            Member::Or(branches) => branches.iter().any(|branch| {
                branch.can_be_absent
                    && branch.absent(
                        &objects
                            .iter()
                            .map(|o| Seen::Object(o.view()))
                            .collect::<Vec<_>>(),
                    )
            }),
        })
    }
}

/// The objects among what was seen at a path, arrays opened at any depth.
fn objects<'a>(seen: &[Seen<'a>]) -> Vec<Object<'a>> {
    let mut objects = Vec::new();
    let mut pending: Vec<&'a Value> = Vec::new();
    for seen in seen {
        match seen {
            Seen::Object(object) => objects.push(object.view()),
            Seen::Value(value) => pending.push(value),
        }
    }
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(map) => objects.push(Object::of(map)),
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    objects
}

/// Whether a field holds no leaf value: missing, an object, or arrays of those.
fn no_leaf(value: Option<&Value>) -> bool {
    !any_leaf(value, |_| true)
}

/// Whether any leaf value of the field (arrays opened at any depth) passes `test`.
fn any_leaf(value: Option<&Value>, mut test: impl FnMut(&Value) -> bool) -> bool {
    let Some(value) = value else {
        return false;
    };
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Array(items) => pending.extend(items),
            Value::Object(_) => {}
            leaf => {
                if test(leaf) {
                    return true;
                }
            }
        }
    }
    false
}

impl Leaf {
    fn witnessed(&self, value: Option<&Value>) -> bool {
        if self.matchers.is_empty() {
            return false;
        }
        match value {
            // The common case: one leaf value, no array to open.
            Some(leaf @ (Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null)) => {
                self.matchers.iter().any(|m| m.matches(leaf))
            }
            _ => any_leaf(value, |leaf| self.matchers.iter().any(|m| m.matches(leaf))),
        }
    }
}

#[cfg(test)]
mod tests;
