//! The matchers of one field, each tested against one leaf value of the message (a string,
//! number, boolean or null; arrays are looked into by the caller, objects are not leaves).

use serde_json::{Number, Value};

use super::ip::{Cidr, Ip};
use super::number::comparable;
use super::wildcard::Wildcard;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Matcher {
    Exact(Exact),
    Prefix(String),
    /// Lowercased.
    PrefixIgnoreCase(String),
    Suffix(String),
    /// Lowercased.
    SuffixIgnoreCase(String),
    /// Lowercased.
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    Numeric(Range),
    Cidr(Cidr),
    /// `exists: true`; `exists: false` is a field's absence, kept on the field.
    Exists,
    AnythingBut(Exclusion),
}

/// An exact value. A string that reads as an IP address also matches the same address written
/// another way; a number EventBridge can compare matches the same number written another way.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Exact {
    String(String, Option<Ip>),
    Number(Number, Option<i64>),
    Bool(bool),
    Null,
}

/// What `anything-but` refuses; every other leaf value (of any type) matches.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Exclusion {
    Strings(Vec<String>),
    /// In millionths ([`comparable`]).
    Numbers(Vec<i64>),
    Prefixes(Vec<String>),
    Suffixes(Vec<String>),
    /// Lowercased.
    IgnoreCase(Vec<String>),
    Wildcards(Vec<Wildcard>),
}

/// A numeric range in millionths; each bound is `(value, inclusive)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Range {
    pub(super) low: Option<(i64, bool)>,
    pub(super) high: Option<(i64, bool)>,
}

impl Range {
    fn contains(&self, n: i64) -> bool {
        self.low
            .is_none_or(|(low, inclusive)| n > low || (inclusive && n == low))
            && self
                .high
                .is_none_or(|(high, inclusive)| n < high || (inclusive && n == high))
    }
}

impl Matcher {
    pub(super) fn matches(&self, value: &Value) -> bool {
        match self {
            Matcher::Exact(exact) => exact.matches(value),
            Matcher::Exists => true,
            Matcher::Numeric(range) => number(value).is_some_and(|n| range.contains(n)),
            Matcher::AnythingBut(excluded) => !excluded.excludes(value),
            Matcher::Cidr(cidr) => value
                .as_str()
                .and_then(Ip::parse)
                .is_some_and(|ip| cidr.contains(ip)),
            Matcher::Prefix(p) => value.as_str().is_some_and(|s| s.starts_with(p.as_str())),
            Matcher::Suffix(p) => value.as_str().is_some_and(|s| s.ends_with(p.as_str())),
            Matcher::PrefixIgnoreCase(p) => value.as_str().is_some_and(|s| prefix_folded(s, p)),
            Matcher::SuffixIgnoreCase(p) => value.as_str().is_some_and(|s| suffix_folded(s, p)),
            Matcher::EqualsIgnoreCase(p) => value.as_str().is_some_and(|s| equal_folded(s, p)),
            Matcher::Wildcard(w) => value.as_str().is_some_and(|s| w.matches(s)),
        }
    }
}

impl Exact {
    fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Exact::String(want, ip), Value::String(s)) => {
                want == s || ip.is_some_and(|ip| Ip::parse(s) == Some(ip))
            }
            (Exact::Number(raw, scaled), Value::Number(n)) => {
                raw == n || scaled.is_some_and(|scaled| comparable(n) == Some(scaled))
            }
            (Exact::Bool(want), Value::Bool(b)) => want == b,
            (Exact::Null, Value::Null) => true,
            _ => false,
        }
    }
}

impl Exclusion {
    fn excludes(&self, value: &Value) -> bool {
        if let (Exclusion::Numbers(numbers), Value::Number(n)) = (self, value) {
            return comparable(n).is_some_and(|n| numbers.contains(&n));
        }
        let Some(s) = value.as_str() else {
            return false;
        };
        match self {
            Exclusion::Strings(strings) => strings.iter().any(|x| x == s),
            Exclusion::Numbers(_) => false,
            Exclusion::Prefixes(prefixes) => prefixes.iter().any(|p| s.starts_with(p.as_str())),
            Exclusion::Suffixes(suffixes) => suffixes.iter().any(|p| s.ends_with(p.as_str())),
            Exclusion::IgnoreCase(folded) => folded.iter().any(|p| equal_folded(s, p)),
            Exclusion::Wildcards(wildcards) => wildcards.iter().any(|w| w.matches(s)),
        }
    }
}

fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => comparable(n),
        _ => None,
    }
}

/// Case-insensitive comparisons against an already lowercased pattern; ASCII values are compared
/// in place, others are lowercased first (Unicode lowercasing can change a string's length).
fn equal_folded(value: &str, lower: &str) -> bool {
    if value.is_ascii() {
        value.eq_ignore_ascii_case(lower)
    } else {
        value.to_lowercase() == lower
    }
}

fn prefix_folded(value: &str, lower: &str) -> bool {
    if value.is_ascii() {
        value
            .as_bytes()
            .get(..lower.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(lower.as_bytes()))
    } else {
        value.to_lowercase().starts_with(lower)
    }
}

fn suffix_folded(value: &str, lower: &str) -> bool {
    if value.is_ascii() {
        value
            .len()
            .checked_sub(lower.len())
            .and_then(|at| value.as_bytes().get(at..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(lower.as_bytes()))
    } else {
        value.to_lowercase().ends_with(lower)
    }
}
