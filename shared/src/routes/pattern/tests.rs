#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};

use super::*;

fn m(pattern: Value, object: Value) -> bool {
    Pattern::parse(&pattern, "p")
        .unwrap()
        .matches(object.as_object())
}

fn err(pattern: Value) -> String {
    Pattern::parse(&pattern, "payload").unwrap_err().to_string()
}

#[test]
fn exact_values_and_arrays() {
    assert!(m(json!({"a": ["x", "y"]}), json!({"a": "y"})));
    assert!(!m(json!({"a": ["x"]}), json!({"a": "X"})));
    assert!(m(json!({"a": [5]}), json!({"a": 5.0})));
    assert!(m(json!({"a": [300]}), json!({"a": 3e2})));
    assert!(!m(json!({"a": [5]}), json!({"a": "5"})));
    assert!(m(
        json!({"a": [123_456_789_012_u64]}),
        json!({"a": 123_456_789_012_u64})
    ));
    assert!(m(json!({"a": [true]}), json!({"a": true})));
    assert!(m(json!({"a": [null]}), json!({"a": null})));
    assert!(!m(json!({"a": [null]}), json!({"a": "null"})));
    assert!(!m(json!({"a": [null]}), json!({"a": []})));
    assert!(!m(json!({"a": [""]}), json!({"a": null})));
    assert!(m(json!({"a": ["x"]}), json!({"a": ["z", ["x"]]})));
    assert!(!m(json!({"a": ["x"]}), json!({})));
    assert!(
        m(json!({"ip": ["10.0.0.1"]}), json!({"ip": "::ffff:a00:1"})),
        "an address matches however it is written"
    );
}

#[test]
fn nested_patterns_look_into_arrays_of_objects() {
    let readings = json!({"readings": {"sensor": ["t1"]}});
    assert!(m(
        readings.clone(),
        json!({"readings": [{"sensor": "t0"}, {"sensor": "t1"}]})
    ));
    assert!(m(
        readings.clone(),
        json!({"readings": [[{"sensor": "t0"}], [[{"sensor": "t1"}]]]})
    ));
    assert!(!m(readings, json!({"readings": [{"sensor": "t0"}]})));
    let both = json!({"readings": {"sensor": ["t1"], "temp": [{"numeric": [">", 80]}]}});
    assert!(m(
        both.clone(),
        json!({"readings": [{"sensor": "t0", "temp": 90}, {"sensor": "t1", "temp": 85}]})
    ));
    assert!(
        !m(
            both,
            json!({"readings": [{"sensor": "t0", "temp": 90}, {"sensor": "t1", "temp": 20}]})
        ),
        "the fields of one match come from one element"
    );
    let employees = json!({"employees": [
        [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}],
        [{"firstName": "Peter", "lastName": "Jones"}]
    ]});
    assert!(m(
        json!({"employees": {"firstName": ["Anna"]}}),
        employees.clone()
    ));
    assert!(!m(
        json!({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}),
        employees
    ));
}

#[test]
fn exists_applies_to_leaf_values() {
    let exists = json!({"a": [{"exists": true}]});
    let absent = json!({"a": [{"exists": false}]});
    for leaf in [
        json!(1),
        json!(null),
        json!(""),
        json!([0]),
        json!([[false]]),
    ] {
        assert!(m(exists.clone(), json!({"a": leaf})), "{leaf}");
        assert!(!m(absent.clone(), json!({"a": leaf})), "{leaf}");
    }
    for no_leaf in [json!({"b": 1}), json!([]), json!([[]]), json!([{"b": 1}])] {
        assert!(!m(exists.clone(), json!({"a": no_leaf})), "{no_leaf}");
        assert!(m(absent.clone(), json!({"a": no_leaf})), "{no_leaf}");
    }
    assert!(m(absent.clone(), json!({})));
    assert!(Pattern::parse(&absent, "p").unwrap().matches(None));
    assert!(!m(exists, json!({})));
    let deep = json!({"d": {"l1": {"l2": [{"exists": false}]}}});
    assert!(m(deep.clone(), json!({"d": {"l1": "scalar"}})));
    assert!(m(deep.clone(), json!({"d": 5})));
    assert!(!m(deep, json!({"d": {"l1": {"l2": 0}}})));
}

#[test]
fn absence_inside_arrays() {
    let p = json!({"a": {"b": ["y"], "c": [{"exists": false}]}});
    assert!(m(p.clone(), json!({"a": [{"b": "x", "c": 1}, {"b": "y"}]})));
    assert!(!m(p, json!({"a": [{"b": "y", "c": 1}, {"b": "x"}]})));
    let only_absent = json!({"a": {"c": [{"exists": false}]}});
    assert!(
        !m(only_absent.clone(), json!({"a": [{"c": 1}, {"b": 2}]})),
        "with no value chosen, every element is looked at"
    );
    assert!(m(only_absent.clone(), json!({"a": [{"b": 1}, {"b": 2}]})));
    assert!(m(only_absent, json!({"a": []})));
}

#[test]
fn operators() {
    assert!(m(json!({"a": [{"prefix": "sen"}]}), json!({"a": "sensor"})));
    assert!(m(json!({"a": [{"prefix": ""}]}), json!({"a": "x"})));
    assert!(!m(json!({"a": [{"prefix": ""}]}), json!({"a": 1})));
    assert!(m(
        json!({"a": [{"prefix": {"equals-ignore-case": "SEN"}}]}),
        json!({"a": "sEnsor"})
    ));
    assert!(m(json!({"a": [{"suffix": "or"}]}), json!({"a": "sensor"})));
    assert!(m(
        json!({"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}),
        json!({"a": "x.png"})
    ));
    assert!(m(
        json!({"a": [{"equals-ignore-case": "SeNsOr"}]}),
        json!({"a": "sensor"})
    ));
    assert!(m(
        json!({"a": [{"equals-ignore-case": "grÜn"}]}),
        json!({"a": "GRüN"})
    ));
    assert!(m(
        json!({"a": [{"wildcard": "dir/*.png"}]}),
        json!({"a": "dir/x.png"})
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
    assert!(m(
        json!({"t": [{"numeric": ["=", 301.8]}]}),
        json!({"t": 3.018e2})
    ));
    assert!(!m(json!({"t": [{"numeric": [">", 1]}]}), json!({"t": "5"})));
    assert!(
        !m(json!({"t": [{"numeric": [">", 1]}]}), json!({"t": 1e10})),
        "outside EventBridge's numeric range"
    );
    assert!(!m(
        json!({"t": [{"numeric": [">", 1]}]}),
        json!({"t": 1.000_000_1})
    ));
    assert!(m(
        json!({"ip": [{"cidr": "10.0.0.0/24"}]}),
        json!({"ip": "10.0.0.255"})
    ));
    assert!(!m(
        json!({"ip": [{"cidr": "10.0.0.0/24"}]}),
        json!({"ip": "10.0.0.256"})
    ));
}

#[test]
fn anything_but_matches_every_other_leaf_value() {
    let but = json!({"a": [{"anything-but": ["x", "y"]}]});
    assert!(m(but.clone(), json!({"a": "z"})));
    assert!(!m(but.clone(), json!({"a": "x"})));
    assert!(m(but.clone(), json!({"a": null})), "null is another value");
    assert!(m(but.clone(), json!({"a": 5})));
    assert!(m(but.clone(), json!({"a": ["x", "q"]})), "any element");
    assert!(!m(but.clone(), json!({"a": ["x", "y"]})));
    assert!(!m(but.clone(), json!({})), "a missing field has no value");
    assert!(!m(but, json!({"a": {"b": 1}})));
    assert!(!m(json!({"a": [{"anything-but": 0}]}), json!({"a": 0.0})));
    assert!(m(json!({"a": [{"anything-but": 0}]}), json!({"a": "0"})));
    let prefixes = json!({"a": [{"anything-but": {"prefix": ["init", "test"]}}]});
    assert!(m(prefixes.clone(), json!({"a": "post-init"})));
    assert!(!m(prefixes.clone(), json!({"a": "testing"})));
    assert!(m(prefixes, json!({"a": 12})));
    assert!(!m(
        json!({"a": [{"anything-but": {"suffix": [".txt", ".jpg"]}}]}),
        json!({"a": "f.jpg"})
    ));
    assert!(!m(
        json!({"a": [{"anything-but": {"equals-ignore-case": ["Stopped"]}}]}),
        json!({"a": "STOPPED"})
    ));
    assert!(!m(
        json!({"a": [{"anything-but": {"wildcard": ["*/init/*", "*/dir/*"]}}]}),
        json!({"a": "dir/init/dir"})
    ));
    assert!(m(
        json!({"a": [{"anything-but": {"wildcard": ""}}]}),
        json!({"a": "x"})
    ));
}

#[test]
fn or_alternatives() {
    let p = json!({"source": ["aws.cloudwatch"], "$or": [
        {"metricName": ["CPUUtilization"]},
        {"metricType": ["MetricType"], "namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}
    ]});
    assert!(m(
        p.clone(),
        json!({"source": "aws.cloudwatch", "metricName": "CPUUtilization"})
    ));
    assert!(m(
        p.clone(),
        json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2", "spaceId": 1000})
    ));
    assert!(!m(
        p.clone(),
        json!({"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"})
    ));
    assert!(!m(p, json!({"metricName": "CPUUtilization"})));
    let nested =
        json!({"detail": {"$or": [{"c": [{"numeric": [">", 0]}]}, {"d": [{"exists": false}]}]}});
    assert!(m(nested.clone(), json!({"detail": {"c": 1, "d": 1}})));
    assert!(m(nested.clone(), json!({"detail": {"c": 0}})));
    assert!(!m(nested.clone(), json!({"detail": {"c": 0, "d": 1}})));
    assert!(m(nested, json!({})));
}

#[test]
fn or_that_is_not_a_list_of_alternatives_is_a_field_name() {
    // event-ruler's README and its test data (normalRulesWithOrWording.json).
    let p = json!({"source": ["aws.cloudwatch"], "$or": {"metricType": ["MetricType"]}});
    assert!(m(
        p.clone(),
        json!({"source": "aws.cloudwatch", "$or": {"metricType": "MetricType"}})
    ));
    assert!(!m(
        p,
        json!({"source": "aws.cloudwatch", "metricType": "MetricType"})
    ));
    let cidr = json!({"detail": {"$or": [{"numeric": [">", 0, "<=", 5]}, {"cidr": "10.0.0.0/8"}]}});
    assert!(m(cidr.clone(), json!({"detail": {"$or": "10.1.2.3"}})));
    assert!(m(cidr, json!({"detail": {"$or": 3}})));
}

#[test]
fn dotted_keys_are_nested_paths() {
    let nested = json!({"detail": {"state": {"status": ["running"]}}});
    let dotted = json!({"detail": {"state.status": ["running"]}});
    for pattern in [nested, dotted] {
        assert!(m(
            pattern.clone(),
            json!({"detail": {"state": {"status": "running"}}})
        ));
        assert!(m(
            pattern.clone(),
            json!({"detail": {"state.status": "running"}})
        ));
        assert!(m(
            pattern.clone(),
            json!({"detail.state.status": "running"})
        ));
        assert!(!m(
            pattern,
            json!({"detail": {"state.status": {"status": "running"}}})
        ));
    }
    assert!(m(
        json!({"a": {"b": ["x"], "c": ["y"]}}),
        json!({"a.b": "x", "a.c": "y"})
    ));
    assert!(!m(
        json!({"a": {"b": [{"exists": false}]}}),
        json!({"a.b": 1})
    ));
}

#[test]
fn hostile_messages_stay_linear() {
    let mut deep = json!("x");
    for _ in 0..1_000 {
        deep = json!([deep]);
    }
    assert!(m(json!({"a": ["x"]}), json!({"a": deep})));
    let wide: Vec<Value> = (0..100_000).map(|i| json!({"s": i})).collect();
    let p = json!({"a": {"s": [{"numeric": ["<", 0]}], "t": [{"exists": false}]}});
    assert!(!m(p, json!({"a": wide})));
    let long = "a".repeat(1_000_000);
    assert!(!m(
        json!({"a": [{"wildcard": "*a*a*a*b*"}]}),
        json!({"a": long})
    ));
}

#[test]
fn nesting_is_capped_where_json_text_stops() {
    let nest = |levels: usize, leaf: Value| (0..levels).fold(leaf, |inner, _| json!({"": inner}));
    let pattern = Pattern::parse(&nest(126, json!({"": [1]})), "p").unwrap();
    assert!(pattern.matches(nest(126, json!({"": 1})).as_object()));
    assert!(!pattern.matches(nest(126, json!({"": 2})).as_object()));
    assert!(!pattern.matches(Some(&Map::new())));
    // Deeper than any JSON text serde_json parses: only a value built in code gets here.
    let e = err(nest(700, json!({"": [1]})));
    assert!(e.contains("nested deeper than 128 levels"), "{e}");
}

#[test]
fn errors_name_the_field_and_the_rule() {
    assert!(err(json!({"a": "x"})).starts_with("`payload.a`: must be a list"));
    assert!(err(json!({"a": []})).contains("empty list"));
    assert!(err(json!({"a": {}})).contains("`payload.a`: an empty object"));
    assert!(err(json!({})).contains("an empty object"));
    assert!(err(json!({"a": [{"regex": "x"}]})).contains("unknown operator `regex`"));
    assert!(err(json!({"a": [{"EXISTS": true}]})).contains("case-sensitive"));
    assert!(err(json!({"a": [{"numeric": [">", "1"]}]})).contains("numeric"));
    assert!(err(json!({"a": [{"numeric": [">", 0, ">", 0]}]})).contains("only a lower bound"));
    assert!(err(json!({"a": [{"numeric": ["<", 10, ">", 0]}]})).contains("only a lower bound"));
    assert!(err(json!({"a": [{"numeric": [">", 5, "<", 5]}]})).contains("below the upper"));
    assert!(err(json!({"a": [{"numeric": [">", 0, "<"]}]})).contains("numeric"));
    assert!(err(json!({"a": [{"numeric": 10}]})).contains("numeric"));
    assert!(err(json!({"a": [{"numeric": ["=", 6e9]}]})).contains("5,000,000,000"));
    assert!(err(json!({"a": [{"numeric": ["=", 0.000_000_1]}]})).contains("six digits"));
    assert!(err(json!({"a": [{"prefix": 1}]})).contains("takes a string"));
    assert!(err(json!({"a": [{"prefix": ["x"]}]})).contains("takes a string"));
    assert!(err(json!({"a": [{"equals-ignore-case": ["x"]}]})).contains("takes a string"));
    assert!(
        err(json!({"a": [{"equals-ignore-case": {"prefix": "x"}}]})).contains("takes a string")
    );
    assert!(err(json!({"a": [{"prefix": {"suffix": "x"}}]})).contains("equals-ignore-case"));
    assert!(err(json!({"a": [{"prefix": "a", "suffix": "b"}]})).contains("exactly one operator"));
    assert!(err(json!({"a": [{}]})).contains("exactly one operator"));
    assert!(err(json!({"b": {"c": [[1]]}})).starts_with("`payload.b.c`"));
    assert!(err(json!([1])).contains("object of fields"));
    assert!(err(json!({"a": [{"exists": "yes"}]})).contains("true or false"));
    assert!(err(json!({"a": [{"cidr": "10.0.0.0/32"}]})).contains("single address"));
    assert!(err(json!({"a": [{"cidr": ["10.0.0.0/8"]}]})).contains("`cidr` takes"));
    assert!(err(json!({"a": [{"wildcard": "a**"}]})).contains("consecutive `*`"));
    assert!(err(json!({"a": [{"wildcard": "a\\b"}]})).contains("escapes"));
    assert!(err(json!({"a": [{"wildcard": ["a*"]}]})).contains("takes a string"));
    assert!(err(json!({"a.b": [1], "a": {"b": [2]}})).contains("given twice"));
}

#[test]
fn anything_but_refusals() {
    for (pattern, why) in [
        (json!(null), "cannot exclude null"),
        (json!(["x", null]), "cannot hold null"),
        (json!([]), "only strings or only numbers"),
        (json!(["x", 1]), "only strings or only numbers"),
        (json!([true]), "only strings or only numbers"),
        (json!(false), "true or false"),
        (json!({"prefix": ""}), "empty `anything-but` `prefix`"),
        (
            json!({"suffix": ["x", ""]}),
            "empty `anything-but` `suffix`",
        ),
        (json!({"prefix": 123}), "a string or a list of strings"),
        (
            json!({"suffix": [null, ".txt"]}),
            "a string or a list of strings",
        ),
        (
            json!({"equals-ignore-case": [123, 456]}),
            "a string or a list of strings",
        ),
        (
            json!({"prefix": {"equals-ignore-case": "x"}}),
            "a string or a list of strings",
        ),
        (json!({"wildcard": "a**"}), "consecutive"),
        (json!({"exists": true}), "cannot hold `exists`"),
        (json!({}), "exactly one operator"),
        (json!(6e9), "5,000,000,000"),
    ] {
        let e = err(json!({"a": [{"anything-but": pattern}]}));
        assert!(e.starts_with("`payload.a`: "), "{e}");
        assert!(e.contains(why), "{pattern}: {e}");
    }
}

#[test]
fn or_refusals_say_what_is_wrong() {
    assert!(err(json!({"$or": "x"})).starts_with("`payload.$or`: `$or` takes a list"));
    assert!(
        err(json!({"$or": [{"a": [1]}]}))
            .starts_with("`payload.$or`: `$or` takes a list of two or more")
    );
    assert!(err(json!({"$or": [{"a": [1]}, 5]})).starts_with("`payload.$or[1]`: each alternative"));
    assert!(err(json!({"$or": [{"a": [1]}, {}]})).starts_with("`payload.$or[1]`: an empty object"));
    assert!(
        err(json!({"x": {"$or": [{"numeric": [1]}, {"prefix": ["abc"]}]}}))
            .starts_with("`payload.x.$or[0].numeric`: `numeric` is an operator name")
    );
    assert!(
        err(json!({"$or": [{"numeric": 123}, {"prefix": "abc"}]}))
            .starts_with("`payload.$or[0].numeric`: `numeric` is an operator name")
    );
    assert!(err(json!({"$or": [{"a": [1]}, {"b": {"prefix": ["x"]}}]})).contains("operator name"));
    assert!(
        err(json!({"$or": [{"a": [1]}, {"b": []}]}))
            .starts_with("`payload.$or[1].b`: an empty list")
    );
}

#[test]
fn pattern_size_is_capped() {
    let fields: Map<String, Value> = (0..400)
        .map(|i| (format!("field{i}"), json!([i])))
        .collect();
    let e = err(Value::Object(fields));
    assert!(
        e.starts_with("`payload`: the pattern is longer than 4096 characters"),
        "{e}"
    );
    let fits: Map<String, Value> = (0..200).map(|i| (format!("f{i}"), json!([i]))).collect();
    assert!(Pattern::parse(&Value::Object(fits), "p").is_ok());
}
