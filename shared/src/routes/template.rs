//! `${…}` templates in target names, parsed once at cold start and rendered per message.

use std::fmt::Write as _;

use serde_json::Value;

use crate::message::{Message, json_type};
use crate::validate::NameSet;

/// A parsed template: literal text and variables, in order, and the slot it renders into.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
    slot: Slot,
}

/// Where a template's text lands, and so what its literal text and each substituted value may
/// hold: the rules for a literal in that position. A value from a message fills exactly the
/// part of a name it stands in; it can never add MQTT levels, wildcards or ARN fields, so a
/// caller cannot steer a message to a name the table's author did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Free text (a subject, an attribute value): the destination's contract checks the whole
    /// rendered value per message.
    Text,
    /// A name made of one character set: literal text and substituted values alike.
    Name(NameSet),
    /// A field of an ARN (`arn:aws:sns:…:${…}`): substituted values are names of the set, so
    /// they cannot add `:`-separated fields; the literal text is the ARN's own.
    ArnField(NameSet),
    /// An MQTT topic name. Literal text holds no wildcard or NUL. A substituted value fills the
    /// topic level(s) it stands in: it is not empty and holds no `/`, `+`, `#`, NUL or leading
    /// `$`. `${topic}` (the message's whole topic) and a fleet's own variables may span levels:
    /// each was checked where it came from.
    Topic,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    Var(Var),
}

/// What a `${…}` refers to.
#[derive(Debug, Clone, PartialEq)]
enum Var {
    Id,
    Topic,
    /// 1-based, like the AWS IoT SQL `topic(n)` function.
    TopicLevel(usize),
    Timestamp,
    Attribute(String),
    /// Keys, or array indexes written as numbers.
    Payload(Vec<String>),
    /// A value the target supplies itself (a device fleet's `productKey`, `deviceName`,
    /// `topicShortName`).
    Extra(&'static str),
}

/// Why a template could not be parsed (at cold start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("`${{` at character {0} has no closing `}}`")]
    Unclosed(usize),
    #[error(
        "unknown variable `${{{0}}}` (use id, topic, topic(N), timestamp, attributes.NAME or payload.PATH{1})"
    )]
    Unknown(String, &'static str),
    #[error("`${{{0}}}`: topic levels count from 1")]
    TopicLevel(String),
    #[error("a lone `$` at character {0}: write `$$` for a literal `$`")]
    LoneDollar(usize),
    #[error("character {0} is not allowed in {1}, which is made of {2}")]
    LiteralChar(usize, &'static str, &'static str),
    #[error(
        "character {0} is an MQTT wildcard (`+` or `#`) or NUL, which a topic name may not hold"
    )]
    TopicChar(usize),
}

/// Why a template could not be rendered for one message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`${{{variable}}}`: {reason}")]
pub struct RenderError {
    pub variable: String,
    pub reason: String,
}

/// Values a template may use besides the message's own (fleet targets).
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    pub product_key: Option<&'a str>,
    pub device_name: Option<&'a str>,
    pub topic_short_name: Option<&'a str>,
    /// The retired target's rendered name, for a `redirect` (`${channel}`, `${input}`).
    pub redirected: Option<&'a str>,
}

impl Template {
    /// Parses `text`, which renders into `slot`; `extras` names the target-supplied variables
    /// allowed here. The literal text is held to the slot's rules now, at cold start.
    pub fn parse(
        text: &str,
        extras: &[&'static str],
        slot: Slot,
    ) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(at) = rest.find('$') {
            literal.push_str(rest.get(..at).unwrap_or_default());
            let after = rest.get(at + 1..).unwrap_or_default();
            let position = offset + at + 1;
            if let Some(tail) = after.strip_prefix('$') {
                literal.push('$');
                offset += at + 2;
                rest = tail;
            } else if let Some(body) = after.strip_prefix('{') {
                let end = body.find('}').ok_or(TemplateError::Unclosed(position))?;
                let name = body.get(..end).unwrap_or_default();
                if !literal.is_empty() {
                    parts.push(Part::Literal(std::mem::take(&mut literal)));
                }
                parts.push(Part::Var(parse_var(name, extras)?));
                offset += at + 2 + end + 1;
                rest = body.get(end + 1..).unwrap_or_default();
            } else {
                return Err(TemplateError::LoneDollar(position));
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() || parts.is_empty() {
            parts.push(Part::Literal(literal));
        }
        let template = Template { parts, slot };
        template.check_literals()?;
        Ok(template)
    }

    /// Holds the literal text to the slot's character rules (positions count characters of the
    /// literal text, `$$` counting as one).
    fn check_literals(&self) -> Result<(), TemplateError> {
        let mut position = 0;
        for part in &self.parts {
            let Part::Literal(text) = part else {
                continue;
            };
            for c in text.chars() {
                position += 1;
                match self.slot {
                    Slot::Name(set)
                        if !(c.is_ascii() && set.allows(u8::try_from(c).unwrap_or(0))) =>
                    {
                        return Err(TemplateError::LiteralChar(
                            position,
                            set.what(),
                            set.describe(),
                        ));
                    }
                    Slot::Topic if matches!(c, '+' | '#' | '\0') => {
                        return Err(TemplateError::TopicChar(position));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Whether rendering reads the message (any variable but a target's own extras).
    pub fn reads_message(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(v) if !matches!(v, Var::Extra(_))))
    }

    /// The slot this template renders into.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// The text itself when the template has no variables.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Literal(text)] => Some(text),
            _ => None,
        }
    }

    pub fn render(&self, msg: &Message, extras: &Extras<'_>) -> Result<String, RenderError> {
        if let Some(text) = self.as_literal() {
            return Ok(text.to_owned());
        }
        // Room for the literal text and a few short values: rendering then grows the string
        // at most once (a grown string was most of rendering's allocations).
        let literal: usize = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Literal(text) => text.len(),
                Part::Var(_) => 0,
            })
            .sum();
        let mut out = String::with_capacity(literal + 32);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Var(var) => {
                    let start = out.len();
                    render_var(var, msg, extras, &mut out)?;
                    let value = out.get(start..).unwrap_or_default();
                    check_value(self.slot, var, value).map_err(|reason| RenderError {
                        variable: var_name(var),
                        reason,
                    })?;
                }
            }
        }
        Ok(out)
    }
}

/// Holds one substituted value to the rules of the slot it lands in. The reason names the rule
/// and a character position, never the value: values come from callers and stay out of logs.
fn check_value(slot: Slot, var: &Var, value: &str) -> Result<(), String> {
    let position = |i: usize| value.char_indices().take_while(|&(at, _)| at <= i).count();
    match slot {
        Slot::Text => Ok(()),
        Slot::Name(set) | Slot::ArnField(set) => {
            if value.is_empty() {
                return Err(format!("the value is empty, and {} may not be", set.what()));
            }
            match value.bytes().position(|b| !set.allows(b)) {
                None => Ok(()),
                Some(i) => Err(format!(
                    "character {} of the value is not allowed in {}, which is made of {}",
                    position(i),
                    set.what(),
                    set.describe()
                )),
            }
        }
        Slot::Topic => {
            if value.is_empty() {
                return Err("the value is empty: it would leave an empty topic level".to_owned());
            }
            if let Some(i) = value.bytes().position(|b| matches!(b, b'+' | b'#' | 0)) {
                return Err(format!(
                    "character {} of the value is an MQTT wildcard (`+` or `#`) or NUL, which a topic name may not hold",
                    position(i)
                ));
            }
            // The message's own topic, and a fleet's product key, device and topic short name
            // (each checked in its own field), may span levels.
            if matches!(var, Var::Topic | Var::Extra(_)) {
                return Ok(());
            }
            if let Some(i) = value.bytes().position(|b| b == b'/') {
                return Err(format!(
                    "character {} of the value is `/`: a value fills the topic level it stands in and may not add levels",
                    position(i)
                ));
            }
            if value.starts_with('$') {
                return Err(
                    "the value starts with `$`, which would make a topic level reserved by AWS IoT"
                        .to_owned(),
                );
            }
            Ok(())
        }
    }
}

fn parse_var(name: &str, extras: &[&'static str]) -> Result<Var, TemplateError> {
    let extras_hint = match extras {
        [] => "",
        ["channel"] => ", or channel (the redirected IoT Analytics channel)",
        ["input"] => ", or input (the redirected IoT Events input)",
        _ => ", productKey, deviceName or topicShortName",
    };
    let unknown = || TemplateError::Unknown(name.to_owned(), extras_hint);
    match name {
        "id" => return Ok(Var::Id),
        "topic" => return Ok(Var::Topic),
        "timestamp" => return Ok(Var::Timestamp),
        _ => {}
    }
    if let Some(extra) = extras.iter().find(|e| **e == name) {
        return Ok(Var::Extra(extra));
    }
    if let Some(key) = name.strip_prefix("attributes.") {
        return if key.is_empty() {
            Err(unknown())
        } else {
            Ok(Var::Attribute(key.to_owned()))
        };
    }
    if let Some(path) = name.strip_prefix("payload.") {
        let keys: Vec<String> = path.split('.').map(str::to_owned).collect();
        return if keys.iter().any(String::is_empty) {
            Err(unknown())
        } else {
            Ok(Var::Payload(keys))
        };
    }
    if let Some(n) = name
        .strip_prefix("topic(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return match n.trim().parse::<usize>() {
            Ok(0) | Err(_) => Err(TemplateError::TopicLevel(name.to_owned())),
            Ok(n) => Ok(Var::TopicLevel(n)),
        };
    }
    Err(unknown())
}

fn render_var(
    var: &Var,
    msg: &Message,
    extras: &Extras<'_>,
    out: &mut String,
) -> Result<(), RenderError> {
    let fail = |reason: String| RenderError {
        variable: var_name(var),
        reason,
    };
    match var {
        Var::Id => out.push_str(&msg.id),
        Var::Topic => out.push_str(
            msg.topic
                .as_deref()
                .ok_or_else(|| fail("the message has no `topic`".to_owned()))?,
        ),
        Var::TopicLevel(n) => {
            let topic = msg
                .topic
                .as_deref()
                .ok_or_else(|| fail("the message has no `topic`".to_owned()))?;
            let level = msg.topic_level(*n).ok_or_else(|| {
                fail(format!(
                    "the message topic has {} levels",
                    topic.split('/').count()
                ))
            })?;
            if level.is_empty() {
                return Err(fail(format!("topic level {n} is empty")));
            }
            out.push_str(level);
        }
        Var::Timestamp => {
            let ts = msg
                .timestamp
                .ok_or_else(|| fail("the message has no `timestamp`".to_owned()))?;
            let _ = write!(out, "{ts}");
        }
        Var::Attribute(key) => {
            let value = msg
                .attributes
                .get(key)
                .ok_or_else(|| fail(format!("the message has no attribute `{key}`")))?;
            push_scalar(value, out).map_err(fail)?;
        }
        Var::Payload(keys) => {
            let root = msg
                .payload
                .json()
                .ok_or_else(|| fail("the payload is binary, not JSON".to_owned()))?;
            let value = keys.iter().try_fold(root, |value, key| match value {
                Value::Object(map) => map.get(key),
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            });
            let value =
                value.ok_or_else(|| fail("the payload has no value at this path".to_owned()))?;
            push_scalar(value, out).map_err(fail)?;
        }
        Var::Extra(name) => {
            let value = match *name {
                "productKey" => extras.product_key,
                "deviceName" => extras.device_name,
                "channel" | "input" => extras.redirected,
                _ => extras.topic_short_name,
            };
            out.push_str(value.ok_or_else(|| fail("not available here".to_owned()))?);
        }
    }
    Ok(())
}

fn push_scalar(value: &Value, out: &mut String) -> Result<(), String> {
    match value {
        Value::String(s) if s.is_empty() => return Err("the value is an empty string".to_owned()),
        Value::String(s) => out.push_str(s),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        other => {
            return Err(format!(
                "the value is {}, not a string, number or boolean",
                json_type(other)
            ));
        }
    }
    Ok(())
}

fn var_name(var: &Var) -> String {
    match var {
        Var::Id => "id".to_owned(),
        Var::Topic => "topic".to_owned(),
        Var::TopicLevel(n) => format!("topic({n})"),
        Var::Timestamp => "timestamp".to_owned(),
        Var::Attribute(key) => format!("attributes.{key}"),
        Var::Payload(keys) => format!("payload.{}", keys.join(".")),
        Var::Extra(name) => (*name).to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message::decode(
            r#"{"id": "m-1", "topic": "plant1/line3/telemetry", "timestamp": 7,
                "attributes": {"deviceId": "sensor-42", "n": 3, "ok": true},
                "payload": {"a": {"b": "deep"}, "list": [10, 20], "empty": ""}}"#,
            None,
        )
        .unwrap()
    }

    fn render(text: &str) -> Result<String, RenderError> {
        Template::parse(text, &[], Slot::Text)
            .unwrap()
            .render(&msg(), &Extras::default())
    }

    #[test]
    fn renders_every_variable_kind() {
        assert_eq!(render("plain").unwrap(), "plain");
        assert_eq!(
            render("${id}|${topic}|${timestamp}").unwrap(),
            "m-1|plant1/line3/telemetry|7"
        );
        assert_eq!(
            render("t_${topic(2)}_${topic(1)}").unwrap(),
            "t_line3_plant1"
        );
        assert_eq!(
            render("${attributes.deviceId}/${attributes.n}/${attributes.ok}").unwrap(),
            "sensor-42/3/true"
        );
        assert_eq!(
            render("${payload.a.b}-${payload.list.1}").unwrap(),
            "deep-20"
        );
        assert_eq!(render("cost $$5").unwrap(), "cost $5");
        assert_eq!(render("").unwrap(), "");
    }

    #[test]
    fn render_errors_name_the_variable_and_why() {
        let err = render("x/${attributes.missing}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`${attributes.missing}`: the message has no attribute `missing`"
        );
        assert!(
            render("${topic(9)}")
                .unwrap_err()
                .to_string()
                .contains("has 3 levels")
        );
        assert!(
            render("${payload.a}")
                .unwrap_err()
                .to_string()
                .contains("an object")
        );
        assert!(
            render("${payload.a.c}")
                .unwrap_err()
                .to_string()
                .contains("no value at this path")
        );
        assert!(
            render("${payload.empty}")
                .unwrap_err()
                .to_string()
                .contains("empty string")
        );
        let binary = Message::decode(r#"{"id": "b", "payloadBase64": "AA=="}"#, None).unwrap();
        let err = Template::parse("${payload.x}", &[], Slot::Text)
            .unwrap()
            .render(&binary, &Extras::default());
        assert!(err.unwrap_err().to_string().contains("binary"));
        let err = Template::parse("${topic}", &[], Slot::Text)
            .unwrap()
            .render(&binary, &Extras::default());
        assert!(err.unwrap_err().to_string().contains("no `topic`"));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            Template::parse("a${id", &[], Slot::Text),
            Err(TemplateError::Unclosed(2))
        );
        assert!(matches!(
            Template::parse("${nope}", &[], Slot::Text),
            Err(TemplateError::Unknown(..))
        ));
        assert!(matches!(
            Template::parse("${deviceName}", &[], Slot::Text),
            Err(TemplateError::Unknown(..))
        ));
        assert!(matches!(
            Template::parse("${topic(0)}", &[], Slot::Text),
            Err(TemplateError::TopicLevel(_))
        ));
        assert!(matches!(
            Template::parse("${payload.a..b}", &[], Slot::Text),
            Err(TemplateError::Unknown(..))
        ));
        assert_eq!(
            Template::parse("a$b", &[], Slot::Text),
            Err(TemplateError::LoneDollar(2))
        );
    }

    #[test]
    fn extras_render_where_allowed() {
        let t = Template::parse(
            "/${productKey}/${deviceName}/user/${topicShortName}",
            &["productKey", "deviceName", "topicShortName"],
            Slot::Topic,
        )
        .unwrap();
        let extras = Extras {
            product_key: Some("pk"),
            device_name: Some("dev"),
            topic_short_name: Some("get"),
            ..Extras::default()
        };
        assert_eq!(t.render(&msg(), &extras).unwrap(), "/pk/dev/user/get");
        assert_eq!(t.as_literal(), None);
        assert_eq!(
            Template::parse("abc", &[], Slot::Text)
                .unwrap()
                .as_literal(),
            Some("abc")
        );
    }

    fn hostile(attributes: &str) -> Message {
        Message::decode(
            &format!(
                r#"{{"id": "m-1", "topic": "plant1/line3", "attributes": {attributes}, "payload": {{"n": "a/b"}}}}"#
            ),
            None,
        )
        .unwrap()
    }

    fn render_in(text: &str, slot: Slot, msg: &Message) -> Result<String, RenderError> {
        Template::parse(text, &[], slot)
            .unwrap()
            .render(msg, &Extras::default())
    }

    #[test]
    fn a_value_fills_exactly_the_topic_level_it_stands_in() {
        let ok = hostile(r#"{"d": "sensor-42"}"#);
        assert_eq!(
            render_in("/pk/${attributes.d}/user/cmd", Slot::Topic, &ok).unwrap(),
            "/pk/sensor-42/user/cmd"
        );
        for (value, rule) in [
            ("victim/user/evil", "`/`"),
            ("a+", "wildcard"),
            ("#", "wildcard"),
            ("$aws", "starts with `$`"),
            ("", "empty"),
            ("nul\\u0000", "NUL"),
        ] {
            let m = hostile(&format!(r#"{{"d": "{value}"}}"#));
            let err = render_in("/pk/${attributes.d}/user/cmd", Slot::Topic, &m).unwrap_err();
            assert!(err.reason.contains(rule), "{value:?}: {err}");
            assert_eq!(err.variable, "attributes.d");
        }
        let err = render_in("out/${payload.n}", Slot::Topic, &ok).unwrap_err();
        assert!(err.reason.contains("`/`"), "{err}");
        // The whole message topic may span levels; it was checked when the message was decoded.
        assert_eq!(
            render_in("out/${topic}", Slot::Topic, &ok).unwrap(),
            "out/plant1/line3"
        );
    }

    #[test]
    fn a_value_in_a_name_holds_only_the_names_characters() {
        let m = hostile(r#"{"t": "other:topic", "c": "line_3", "g": "a b"}"#);
        let arn = "arn:aws:sns:us-east-1:123456789012:${attributes.t}";
        let err = render_in(arn, Slot::ArnField(NameSet::SnsTopic), &m).unwrap_err();
        assert!(err.reason.contains("character 6"), "{err}");
        assert!(err.reason.contains("an SNS topic name"), "{err}");
        assert_eq!(
            render_in("ch_${attributes.c}", Slot::Name(NameSet::Channel), &m).unwrap(),
            "ch_line_3"
        );
        let err = render_in("${attributes.g}", Slot::Name(NameSet::GroupId), &m).unwrap_err();
        assert!(err.reason.contains("character 2"), "{err}");
        // Errors locate the character; they never quote the value.
        assert!(!err.to_string().contains("a b"));
    }

    #[test]
    fn literal_text_is_held_to_the_slot_at_parse() {
        assert_eq!(
            Template::parse("r/+/${id}", &[], Slot::Topic),
            Err(TemplateError::TopicChar(3))
        );
        assert!(matches!(
            Template::parse("bad-${id}", &[], Slot::Name(NameSet::Channel)),
            Err(TemplateError::LiteralChar(4, ..))
        ));
        // ARN literal text is the ARN's own (`:`); only values are held to the name's set.
        assert!(
            Template::parse(
                "arn:aws:sns:us-east-1:123456789012:${id}",
                &[],
                Slot::ArnField(NameSet::SnsTopic)
            )
            .is_ok()
        );
        assert!(Template::parse("a$$b+", &[], Slot::Text).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = Template::parse(&text, &["deviceName"], Slot::Topic).map(|t| t.render(&msg(), &Extras::default()));
        }

        #[test]
        fn dollar_free_text_is_literal(text in "[^$]{0,40}") {
            let t = Template::parse(&text, &[], Slot::Text).unwrap();
            proptest::prop_assert_eq!(t.render(&msg(), &Extras::default()).unwrap(), text);
        }
    }
}
