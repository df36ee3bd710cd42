//! The content-pattern conformance corpus (`fixtures/eventbridge_patterns.json`): the examples of
//! EventBridge's event-pattern documentation and of the event-ruler README, each with its
//! source. A vector's pattern is a route's `match.payload` and its event is the message payload.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fanout::message::Message;
use fanout::routes::{Routed, RoutingTable};
use fanout::validate::ContractLimits;
use serde::Deserialize;
use serde_json::{Value, json};

const CORPUS: &str = include_str!("fixtures/eventbridge_patterns.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Corpus {
    #[allow(dead_code)]
    description: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    name: String,
    source: String,
    section: String,
    pattern: Value,
    event: Option<Value>,
    expect: Expect,
    #[allow(dead_code)]
    note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Expect {
    Match,
    NoMatch,
    Invalid,
}

/// What the engine makes of one vector: a table with the pattern, then the event routed through it.
fn outcome(vector: &Vector) -> Expect {
    let table = json!({
        "routes": [{"name": "vector", "match": {"payload": vector.pattern},
                    "targets": [{"type": "mqtt", "topic": "out"}]}],
        "default": {"action": "drop"}
    });
    let table = match RoutingTable::from_json(&table.to_string(), &ContractLimits::default()) {
        Ok(table) => table,
        Err(e) => {
            // A refusal names the route, the field and the pattern path.
            assert_eq!(
                e.location, "route \"vector\" field \"match.payload\"",
                "{}",
                vector.name
            );
            assert!(
                e.reason.starts_with("`payload"),
                "{}: {}",
                vector.name,
                e.reason
            );
            return Expect::Invalid;
        }
    };
    let Some(event) = &vector.event else {
        panic!(
            "{}: a vector that is not invalid needs an event",
            vector.name
        );
    };
    let message = Message::decode(&json!({"id": "m", "payload": event}).to_string(), None)
        .unwrap_or_else(|e| panic!("{}: {e}", vector.name));
    match table.route(&message).unwrap() {
        Routed::Targets(_) => Expect::Match,
        Routed::Dropped => Expect::NoMatch,
        Routed::Rejected => panic!("{}: the default is drop", vector.name),
    }
}

#[test]
fn every_documented_example_behaves_as_documented() {
    let corpus: Corpus = serde_json::from_str(CORPUS).unwrap();
    let mut failures = Vec::new();
    for vector in &corpus.vectors {
        assert!(
            vector.source.starts_with("https://") && !vector.section.is_empty(),
            "{}: cite the page and its section",
            vector.name
        );
        let got = outcome(vector);
        if got != vector.expect {
            failures.push(format!(
                "{} ({} {}): expected {:?}, got {got:?}",
                vector.name, vector.source, vector.section, vector.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors disagree:\n{}",
        failures.len(),
        corpus.vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn the_corpus_covers_every_operator_and_outcome() {
    let corpus: Corpus = serde_json::from_str(CORPUS).unwrap();
    for operator in [
        "\"prefix\"",
        "\"suffix\"",
        "\"equals-ignore-case\"",
        "\"wildcard\"",
        "\"numeric\"",
        "\"cidr\"",
        "\"exists\"",
        "\"anything-but\"",
        "\"$or\"",
    ] {
        for expect in [Expect::Match, Expect::NoMatch, Expect::Invalid] {
            assert!(
                corpus
                    .vectors
                    .iter()
                    .any(|v| v.expect == expect && v.pattern.to_string().contains(operator)),
                "no {expect:?} vector uses {operator}"
            );
        }
    }
}
