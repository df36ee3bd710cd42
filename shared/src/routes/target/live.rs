//! Targets for the live successors of IoT Analytics and IoT Events (Data Firehose, Kinesis Data
//! Streams, EventBridge, SQS), and the table-level `redirect` that turns a retired target into
//! one of them, with the original's name as a template variable (`${channel}`, `${input}`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::super::template::{Extras, Slot, Template};
use super::{RawAttribute, RawTarget, SpecError, SpecKind, TargetSpec, render_err, spec_err};
use crate::destination::{
    Destination, DetailMode, EntryParams, EventBridgeParams, FirehoseParams, KinesisParams,
    SnsAttribute, SqsParams,
};
use crate::message::Message;
use crate::validate::{self, ContractError, ContractLimits, NameSet, kinesis, sqs};

/// SQS DelaySeconds: 0 to 900 (15 minutes) (API reference, SendMessageBatchRequestEntry).
const MAX_DELAY_SECONDS: i32 = 900;
/// The smallest MaximumMessageSize a queue can have: 1,024 bytes (API reference, SetQueueAttributes).
const MIN_QUEUE_MESSAGE_BYTES: usize = 1024;
/// The default event bus of an account.
const DEFAULT_BUS: &str = "default";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RawFirehose {
    delivery_stream: String,
    delimiter: Option<String>,
    #[serde(default)]
    ordered: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RawKinesis {
    stream: String,
    partition_key: String,
    explicit_hash_key: Option<String>,
    max_record_bytes: Option<usize>,
    #[serde(default)]
    ordered: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RawEventBridge {
    event_bus: Option<String>,
    source: String,
    detail_type: String,
    #[serde(default)]
    resources: Vec<String>,
    detail: Option<DetailMode>,
    #[serde(default)]
    ordered: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RawSqs {
    queue_url: String,
    group_id: Option<String>,
    delay_seconds: Option<i32>,
    max_message_bytes: Option<usize>,
    #[serde(default)]
    attributes: BTreeMap<String, RawAttribute>,
    #[serde(default)]
    ordered: bool,
}

/// A live target with its templates parsed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LiveSpec {
    kind: LiveKind,
    /// Set when a `redirect` made this target from a retired one.
    from: Option<Retired>,
}

/// The retired target a redirected one stands for: its kind and its (templated) name.
#[derive(Debug, Clone, PartialEq)]
struct Retired {
    /// `channel` (IoT Analytics) or `input` (IoT Events): the field and the variable.
    field: &'static str,
    name: Template,
}

#[derive(Debug, Clone, PartialEq)]
enum LiveKind {
    Firehose {
        stream: Template,
        delimiter: Option<Template>,
    },
    Kinesis {
        stream: Template,
        partition_key: Template,
        explicit_hash_key: Option<Template>,
        max_record_bytes: usize,
    },
    EventBridge {
        bus: Template,
        source: Template,
        detail_type: Template,
        resources: Vec<Template>,
        detail: DetailMode,
    },
    Sqs {
        queue_url: Template,
        group_id: Option<Template>,
        delay_seconds: Option<i32>,
        /// Name, data type, value.
        attributes: Vec<(String, String, Template)>,
        max_message_bytes: usize,
    },
}

/// A live target as the table spells it.
pub(super) enum RawLive {
    Firehose(RawFirehose),
    Kinesis(RawKinesis),
    EventBridge(RawEventBridge),
    Sqs(RawSqs),
}

impl RawLive {
    /// The live part of a raw target, if it is one.
    fn of(raw: RawTarget) -> Option<RawLive> {
        Some(match raw {
            RawTarget::Firehose(r) => RawLive::Firehose(r),
            RawTarget::Kinesis(r) => RawLive::Kinesis(r),
            RawTarget::EventBridge(r) => RawLive::EventBridge(r),
            RawTarget::Sqs(r) => RawLive::Sqs(r),
            _ => return None,
        })
    }
}

/// Parses a live target; `extras` are the variables its templates may use besides the
/// message's own (a redirect's `channel` or `input`). Returns the spec and `ordered`.
pub(super) fn parse(raw: RawLive, extras: &[&'static str]) -> Result<(LiveSpec, bool), SpecError> {
    let t = |field: &str, text: &str, slot: Slot| {
        Template::parse(text, extras, slot).map_err(|e| spec_err(field, e))
    };
    let opt = |field: &str, text: Option<String>, slot: Slot| {
        text.map(|x| t(field, &x, slot)).transpose()
    };
    // Names take a name's characters from a value; a stream, bus or queue may also be named by
    // an ARN or URL whose literal text is the table's own, so values there cannot add fields.
    let stream = Slot::ArnField(NameSet::StreamName);
    let (kind, ordered) = match raw {
        RawLive::Firehose(r) => (
            LiveKind::Firehose {
                stream: t(
                    "deliveryStream",
                    &r.delivery_stream,
                    Slot::Name(NameSet::StreamName),
                )?,
                delimiter: opt("delimiter", r.delimiter, Slot::Text)?,
            },
            r.ordered,
        ),
        RawLive::Kinesis(r) => {
            let max = r
                .max_record_bytes
                .unwrap_or(kinesis::DEFAULT_MAX_RECORD_BYTES);
            if !(1..=kinesis::MAX_RECORD_BYTES).contains(&max) {
                return Err(spec_err(
                    "maxRecordBytes",
                    format!(
                        "must be from 1 to {} (10 MiB, the largest record a stream can take), found {max}",
                        kinesis::MAX_RECORD_BYTES
                    ),
                ));
            }
            (
                LiveKind::Kinesis {
                    stream: t("stream", &r.stream, stream)?,
                    partition_key: t("partitionKey", &r.partition_key, Slot::Text)?,
                    explicit_hash_key: opt(
                        "explicitHashKey",
                        r.explicit_hash_key,
                        Slot::Name(NameSet::Decimal),
                    )?,
                    max_record_bytes: max,
                },
                r.ordered,
            )
        }
        RawLive::EventBridge(r) => (
            LiveKind::EventBridge {
                bus: t(
                    "eventBus",
                    r.event_bus.as_deref().unwrap_or(DEFAULT_BUS),
                    Slot::ArnField(NameSet::EventBus),
                )?,
                source: t("source", &r.source, Slot::Text)?,
                detail_type: t("detailType", &r.detail_type, Slot::Text)?,
                resources: r
                    .resources
                    .iter()
                    .enumerate()
                    .map(|(i, x)| t(&format!("resources[{i}]"), x, Slot::Text))
                    .collect::<Result<_, _>>()?,
                detail: r.detail.unwrap_or(DetailMode::Envelope),
            },
            r.ordered,
        ),
        RawLive::Sqs(r) => {
            if let Some(d) = r.delay_seconds
                && !(0..=MAX_DELAY_SECONDS).contains(&d)
            {
                return Err(spec_err(
                    "delaySeconds",
                    format!("must be from 0 to {MAX_DELAY_SECONDS} seconds, found {d}"),
                ));
            }
            let max = r
                .max_message_bytes
                .unwrap_or(sqs::DEFAULT_MAX_MESSAGE_BYTES);
            if !(MIN_QUEUE_MESSAGE_BYTES..=sqs::MAX_MESSAGE_BYTES).contains(&max) {
                return Err(spec_err(
                    "maxMessageBytes",
                    format!(
                        "must be the queue's MaximumMessageSize, {MIN_QUEUE_MESSAGE_BYTES} to {} bytes, found {max}",
                        sqs::MAX_MESSAGE_BYTES
                    ),
                ));
            }
            let attributes = r
                .attributes
                .into_iter()
                .map(|(name, a)| {
                    let field = format!("attributes.{name}");
                    Ok((name, a.data_type, t(&field, &a.value, Slot::Text)?))
                })
                .collect::<Result<_, SpecError>>()?;
            (
                LiveKind::Sqs {
                    queue_url: t("queueUrl", &r.queue_url, Slot::ArnField(NameSet::QueueName))?,
                    group_id: opt("groupId", r.group_id, Slot::Name(NameSet::GroupId))?,
                    delay_seconds: r.delay_seconds,
                    attributes,
                    max_message_bytes: max,
                },
                r.ordered,
            )
        }
    };
    Ok((LiveSpec { kind, from: None }, ordered))
}

impl LiveSpec {
    /// Whether rendering reads the message: any template uses a message variable (the retired
    /// name of a redirected target included).
    pub(super) fn reads_message(&self) -> bool {
        let reads = |t: &Template| t.reads_message();
        let reads_opt = |t: &Option<Template>| t.as_ref().is_some_and(Template::reads_message);
        self.from.as_ref().is_some_and(|r| r.name.reads_message())
            || match &self.kind {
                LiveKind::Firehose { stream, delimiter } => reads(stream) || reads_opt(delimiter),
                LiveKind::Kinesis {
                    stream,
                    partition_key,
                    explicit_hash_key,
                    ..
                } => reads(stream) || reads(partition_key) || reads_opt(explicit_hash_key),
                LiveKind::EventBridge {
                    bus,
                    source,
                    detail_type,
                    resources,
                    ..
                } => {
                    reads(bus) || reads(source) || reads(detail_type) || resources.iter().any(reads)
                }
                LiveKind::Sqs {
                    queue_url,
                    group_id,
                    attributes,
                    ..
                } => {
                    reads(queue_url)
                        || reads_opt(group_id)
                        || attributes.iter().any(|(_, _, v)| reads(v))
                }
            }
    }

    /// Holds every literal the table fixes to the rules each message's rendered values meet.
    pub(super) fn check_literals(&self) -> Result<(), SpecError> {
        const HERE: &str = "the routing table";
        fn literal(t: &Option<Template>) -> Option<&str> {
            t.as_ref().and_then(Template::as_literal)
        }
        let located = |field: &str| {
            let field = field.to_owned();
            move |e: ContractError| spec_err(&field, format!("{}: {}", e.field, e.rule))
        };
        match &self.kind {
            LiveKind::Firehose { .. } => Ok(()),
            LiveKind::Kinesis {
                partition_key,
                explicit_hash_key,
                ..
            } => validate::check_kinesis_literals(
                HERE,
                partition_key.as_literal(),
                literal(explicit_hash_key),
            )
            .map_err(|e| {
                let field = if e.field == "PartitionKey" {
                    "partitionKey"
                } else {
                    "explicitHashKey"
                };
                located(field)(e)
            }),
            LiveKind::EventBridge {
                source,
                detail_type,
                resources,
                ..
            } => {
                let resources: Vec<Option<&str>> =
                    resources.iter().map(Template::as_literal).collect();
                validate::check_eventbridge_literals(
                    HERE,
                    source.as_literal(),
                    detail_type.as_literal(),
                    &resources,
                )
                .map_err(|e| {
                    let field = match e.field.as_str() {
                        "Source" => "source",
                        "DetailType" => "detailType",
                        _ => "resources",
                    };
                    located(field)(e)
                })
            }
            LiveKind::Sqs {
                group_id,
                attributes,
                ..
            } => {
                let declared: Vec<(&str, &str, Option<&str>)> = attributes
                    .iter()
                    .map(|(name, data_type, value)| {
                        (name.as_str(), data_type.as_str(), value.as_literal())
                    })
                    .collect();
                validate::check_sqs_literals(HERE, literal(group_id), &declared).map_err(|e| {
                    let field = if e.field == "MessageGroupId" {
                        "groupId"
                    } else {
                        "attributes"
                    };
                    located(field)(e)
                })
            }
        }
    }

    /// The destination, when no template is involved in naming it.
    pub(super) fn literal_destination(&self) -> Option<Destination> {
        Some(match &self.kind {
            LiveKind::Firehose { stream, .. } => Destination::Firehose {
                delivery_stream: stream.as_literal()?.to_owned(),
            },
            LiveKind::Kinesis { stream, .. } => Destination::Kinesis {
                stream: stream.as_literal()?.to_owned(),
            },
            LiveKind::EventBridge { bus, .. } => Destination::EventBridge {
                event_bus: bus.as_literal()?.to_owned(),
            },
            LiveKind::Sqs { queue_url, .. } => Destination::Sqs {
                queue_url: queue_url.as_literal()?.to_owned(),
            },
        })
    }

    /// The table field that names the destination.
    pub(super) fn name_field(&self) -> &'static str {
        match self.kind {
            LiveKind::Firehose { .. } => "deliveryStream",
            LiveKind::Kinesis { .. } => "stream",
            LiveKind::EventBridge { .. } => "eventBus",
            LiveKind::Sqs { .. } => "queueUrl",
        }
    }

    /// The kind as the table spells it; a redirected target names both kinds.
    pub(super) fn type_name(&self) -> &'static str {
        let redirected = self.from.as_ref().map(|r| r.field);
        match (&self.kind, redirected) {
            (LiveKind::Firehose { .. }, None) => "firehose",
            (LiveKind::Kinesis { .. }, None) => "kinesis",
            (LiveKind::EventBridge { .. }, None) => "eventbridge",
            (LiveKind::Sqs { .. }, None) => "sqs",
            (LiveKind::Firehose { .. }, Some("channel")) => "analytics, redirected to firehose",
            (LiveKind::Kinesis { .. }, Some("channel")) => "analytics, redirected to kinesis",
            (LiveKind::EventBridge { .. }, Some("channel")) => {
                "analytics, redirected to eventbridge"
            }
            (LiveKind::Sqs { .. }, Some("channel")) => "analytics, redirected to sqs",
            (LiveKind::Firehose { .. }, Some(_)) => "events, redirected to firehose",
            (LiveKind::Kinesis { .. }, Some(_)) => "events, redirected to kinesis",
            (LiveKind::EventBridge { .. }, Some(_)) => "events, redirected to eventbridge",
            (LiveKind::Sqs { .. }, Some(_)) => "events, redirected to sqs",
        }
    }

    /// Renders the destination and entry parameters for one message.
    pub(super) fn render(&self, msg: &Message) -> Result<(Destination, EntryParams), SpecError> {
        let original = match &self.from {
            Some(r) => Some(
                r.name
                    .render(msg, &Extras::default())
                    .map_err(|e| render_err(r.field, e))?,
            ),
            None => None,
        };
        let extras = Extras {
            redirected: original.as_deref(),
            ..Extras::default()
        };
        let render =
            |field: &str, t: &Template| t.render(msg, &extras).map_err(|e| render_err(field, e));
        let render_opt =
            |field: &str, t: &Option<Template>| t.as_ref().map(|t| render(field, t)).transpose();
        Ok(match &self.kind {
            LiveKind::Firehose { stream, delimiter } => (
                Destination::Firehose {
                    delivery_stream: render("deliveryStream", stream)?,
                },
                EntryParams::Firehose(Arc::new(FirehoseParams {
                    delimiter: render_opt("delimiter", delimiter)?,
                })),
            ),
            LiveKind::Kinesis {
                stream,
                partition_key,
                explicit_hash_key,
                max_record_bytes,
            } => (
                Destination::Kinesis {
                    stream: render("stream", stream)?,
                },
                EntryParams::Kinesis(Arc::new(KinesisParams {
                    partition_key: render("partitionKey", partition_key)?,
                    explicit_hash_key: render_opt("explicitHashKey", explicit_hash_key)?,
                    max_record_bytes: *max_record_bytes,
                })),
            ),
            LiveKind::EventBridge {
                bus,
                source,
                detail_type,
                resources,
                detail,
            } => (
                Destination::EventBridge {
                    event_bus: render("eventBus", bus)?,
                },
                EntryParams::EventBridge(Arc::new(EventBridgeParams {
                    source: render("source", source)?,
                    detail_type: render("detailType", detail_type)?,
                    resources: resources
                        .iter()
                        .enumerate()
                        .map(|(i, r)| render(&format!("resources[{i}]"), r))
                        .collect::<Result<_, _>>()?,
                    detail: *detail,
                })),
            ),
            LiveKind::Sqs {
                queue_url,
                group_id,
                delay_seconds,
                attributes,
                max_message_bytes,
            } => (
                Destination::Sqs {
                    queue_url: render("queueUrl", queue_url)?,
                },
                EntryParams::Sqs(Arc::new(SqsParams {
                    group_id: render_opt("groupId", group_id)?,
                    delay_seconds: *delay_seconds,
                    attributes: attributes
                        .iter()
                        .map(|(name, data_type, value)| {
                            Ok(SnsAttribute {
                                name: name.clone(),
                                data_type: data_type.clone(),
                                value: render(&format!("attributes.{name}"), value)?,
                            })
                        })
                        .collect::<Result<_, SpecError>>()?,
                    max_message_bytes: *max_message_bytes,
                })),
            ),
        })
    }
}

/// The table's `redirect`: a live target for each retired kind it names. Its templates may use
/// the retired target's name: `${channel}` for `analytics`, `${input}` for `events`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Redirect {
    analytics: Option<(LiveSpec, bool)>,
    events: Option<(LiveSpec, bool)>,
}

impl Redirect {
    /// Parses `{"analytics": {target}, "events": {target}}`; an error's field starts with the
    /// retired kind (`analytics.deliveryStream`).
    pub fn parse(value: &Value, limits: &ContractLimits) -> Result<Redirect, SpecError> {
        let Some(map) = value.as_object() else {
            return Err(spec_err(
                "",
                "must be an object mapping `analytics` and/or `events` to a live target",
            ));
        };
        let mut redirect = Redirect::default();
        for (kind, target) in map {
            let (slot, variable) = match kind.as_str() {
                "analytics" => (&mut redirect.analytics, "channel"),
                "events" => (&mut redirect.events, "input"),
                other => {
                    return Err(spec_err(
                        other,
                        "only the retired kinds `analytics` and `events` can be redirected",
                    ));
                }
            };
            let within = |e: SpecError| {
                let field = if e.field.is_empty() {
                    kind.clone()
                } else {
                    format!("{kind}.{}", e.field)
                };
                spec_err(&field, e.reason)
            };
            let raw = RawTarget::deserialize(target).map_err(|e| within(spec_err("type", e)))?;
            let Some(live) = RawLive::of(raw) else {
                return Err(within(spec_err(
                    "type",
                    "a redirect leads to a live destination: firehose, kinesis, eventbridge or sqs",
                )));
            };
            let (spec, ordered) = parse(live, &[variable]).map_err(within)?;
            spec.check_literals().map_err(within)?;
            if let Some(dest) = spec.literal_destination() {
                validate::check_destination(&dest, limits).map_err(|e| {
                    within(spec_err(
                        spec.name_field(),
                        format!("{}: {}", e.field, e.rule),
                    ))
                })?;
            }
            *slot = Some((spec, ordered));
        }
        Ok(redirect)
    }
}

impl TargetSpec {
    /// Parses a target of the routing table, sending it to the table's `redirect` when that
    /// names its kind. The retired target is still checked as written, so a table keeps
    /// meaning what it said apart from the redirect line.
    pub fn parse_in_table(
        value: &Value,
        route_ordered: bool,
        limits: &ContractLimits,
        redirect: &Redirect,
    ) -> Result<TargetSpec, SpecError> {
        let spec = TargetSpec::parse(value, route_ordered, limits)?;
        let (to, field, name) = match &spec.kind {
            SpecKind::Analytics { channel } => (&redirect.analytics, "channel", channel),
            SpecKind::Events { input } => (&redirect.events, "input", input),
            _ => return Ok(spec),
        };
        let Some((live, ordered)) = to else {
            return Ok(spec);
        };
        let live = LiveSpec {
            kind: live.kind.clone(),
            from: Some(Retired {
                field,
                name: name.clone(),
            }),
        };
        Ok(TargetSpec {
            kind: SpecKind::Live(live),
            ordered: spec.ordered || *ordered,
            label: None,
            // The live name may come from the retired target's: checked with every message.
            checked_under: None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::destination::Target;

    fn parse(v: Value) -> Result<TargetSpec, SpecError> {
        TargetSpec::parse(&v, false, &ContractLimits::default())
    }

    fn render_spec(spec: &TargetSpec, msg: &str) -> Result<Vec<Target>, SpecError> {
        let msg = Message::decode(msg, None).unwrap();
        let mut out = Vec::new();
        spec.render(&msg, &Arc::from("r"), &mut out)?;
        Ok(out)
    }

    const MSG: &str = r#"{"id": "m-1", "topic": "plant1/line3/telemetry", "attributes": {"deviceId": "s-42", "delay": 5}, "payload": {"t": 1}}"#;

    #[test]
    fn every_live_target_renders_its_fields() {
        let firehose = parse(
            json!({"type": "firehose", "deliveryStream": "iot-${topic(2)}", "delimiter": "\r\n"}),
        )
        .unwrap();
        let t = render_spec(&firehose, MSG).unwrap();
        assert_eq!(t[0].destination.to_string(), "firehose:iot-line3");
        assert_eq!(
            t[0].params,
            EntryParams::Firehose(Arc::new(FirehoseParams {
                delimiter: Some("\r\n".into())
            }))
        );

        let kinesis = parse(json!({"type": "kinesis", "stream": "iot-events", "partitionKey": "${attributes.deviceId}",
            "explicitHashKey": "7", "maxRecordBytes": 2_097_152, "ordered": true}))
        .unwrap();
        let t = render_spec(&kinesis, MSG).unwrap();
        assert!(t[0].ordered);
        assert_eq!(
            t[0].params,
            EntryParams::Kinesis(Arc::new(KinesisParams {
                partition_key: "s-42".into(),
                explicit_hash_key: Some("7".into()),
                max_record_bytes: 2_097_152,
            }))
        );

        let bus = parse(json!({"type": "eventbridge", "source": "iot.${topic(1)}", "detailType": "telemetry",
            "resources": ["arn:aws:iot:us-east-1:123456789012:thing/${attributes.deviceId}"], "detail": "payload"}))
        .unwrap();
        let t = render_spec(&bus, MSG).unwrap();
        assert_eq!(t[0].destination.to_string(), "eventbridge:default");
        let EntryParams::EventBridge(p) = &t[0].params else {
            panic!()
        };
        assert_eq!(
            (p.source.as_str(), p.resources[0].as_str(), p.detail),
            (
                "iot.plant1",
                "arn:aws:iot:us-east-1:123456789012:thing/s-42",
                DetailMode::Payload
            )
        );

        let fifo = parse(json!({"type": "sqs", "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo",
            "groupId": "${attributes.deviceId}", "attributes": {"d": {"type": "String", "value": "${id}"}}}))
        .unwrap();
        let t = render_spec(&fifo, MSG).unwrap();
        assert!(t[0].ordered, "FIFO queues are ordered");
        let EntryParams::Sqs(p) = &t[0].params else {
            panic!()
        };
        assert_eq!(p.group_id.as_deref(), Some("s-42"));
        assert_eq!(p.attributes[0].value, "m-1");
        assert_eq!(p.max_message_bytes, sqs::DEFAULT_MAX_MESSAGE_BYTES);
    }

    #[test]
    fn live_target_errors_name_the_field() {
        let field = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(
            field(json!({"type": "kinesis", "stream": "s"})),
            "partitionKey"
        );
        assert_eq!(
            field(
                json!({"type": "kinesis", "stream": "s", "partitionKey": "k", "maxRecordBytes": 10_485_761})
            ),
            "maxRecordBytes"
        );
        assert_eq!(
            field(
                json!({"type": "sqs", "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "delaySeconds": 901})
            ),
            "delaySeconds"
        );
        assert_eq!(
            field(
                json!({"type": "sqs", "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q", "maxMessageBytes": 2_000_000})
            ),
            "maxMessageBytes"
        );
        assert_eq!(
            field(
                json!({"type": "eventbridge", "source": "s", "detailType": "t", "detail": "xml"})
            ),
            "type"
        );
        assert_eq!(
            field(json!({"type": "firehose", "deliveryStream": "a b"})),
            "deliveryStream"
        );
        assert_eq!(
            field(json!({"type": "sqs", "queueUrl": "https://sqs.us-east-1.amazonaws.com/1/q"})),
            "queueUrl"
        );
        assert_eq!(
            field(json!({"type": "firehose", "deliveryStream": "${channel}"})),
            "deliveryStream",
            "${{channel}} exists only in a redirect"
        );
    }

    fn redirect(v: Value) -> Result<Redirect, SpecError> {
        Redirect::parse(&v, &ContractLimits::default())
    }

    #[test]
    fn redirects_turn_retired_targets_into_live_ones() {
        let r = redirect(json!({
            "analytics": {"type": "firehose", "deliveryStream": "iot-${channel}"},
            "events": {"type": "kinesis", "stream": "iot-events", "partitionKey": "${input}", "ordered": true}
        }))
        .unwrap();
        let l = ContractLimits::default();
        let analytics = TargetSpec::parse_in_table(
            &json!({"type": "analytics", "channel": "telemetry_${topic(2)}"}),
            false,
            &l,
            &r,
        )
        .unwrap();
        assert_eq!(analytics.type_name(), "analytics, redirected to firehose");
        let t = render_spec(&analytics, MSG).unwrap();
        assert_eq!(t[0].destination.to_string(), "firehose:iot-telemetry_line3");
        let events = TargetSpec::parse_in_table(
            &json!({"type": "events", "input": "overheat"}),
            false,
            &l,
            &r,
        )
        .unwrap();
        let t = render_spec(&events, MSG).unwrap();
        assert_eq!(t[0].destination.to_string(), "kinesis:iot-events");
        assert!(t[0].ordered);
        let EntryParams::Kinesis(p) = &t[0].params else {
            panic!()
        };
        assert_eq!(p.partition_key, "overheat");
        // Other kinds are left alone; so is a kind the redirect does not name.
        let only_events = redirect(json!({"events": {"type": "sqs", "queueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/${input}"}})).unwrap();
        let kept = TargetSpec::parse_in_table(
            &json!({"type": "analytics", "channel": "c"}),
            false,
            &l,
            &only_events,
        )
        .unwrap();
        assert_eq!(kept.type_name(), "analytics");
        let mqtt =
            TargetSpec::parse_in_table(&json!({"type": "mqtt", "topic": "a"}), false, &l, &r)
                .unwrap();
        assert_eq!(mqtt.type_name(), "mqtt");
    }

    #[test]
    fn the_original_name_renders_first_and_errors_name_it() {
        let r = redirect(
            json!({"analytics": {"type": "firehose", "deliveryStream": "iot-${channel}"}}),
        )
        .unwrap();
        let spec = TargetSpec::parse_in_table(
            &json!({"type": "analytics", "channel": "c_${attributes.missing}"}),
            false,
            &ContractLimits::default(),
            &r,
        )
        .unwrap();
        let e = render_spec(&spec, MSG).unwrap_err();
        assert_eq!(e.field, "channel");
        assert!(e.reason.contains("no attribute `missing`"), "{e:?}");
    }

    #[test]
    fn redirect_errors() {
        let field = |v: Value| redirect(v).unwrap_err().field;
        assert_eq!(
            field(json!({"sns": {"type": "firehose", "deliveryStream": "x"}})),
            "sns"
        );
        assert_eq!(
            field(json!({"analytics": {"type": "sns", "topicArn": "x"}})),
            "analytics.type"
        );
        assert_eq!(
            field(json!({"analytics": {"type": "firehose", "deliveryStream": "${input}"}})),
            "analytics.deliveryStream",
            "an analytics redirect has ${{channel}}, not ${{input}}"
        );
        assert_eq!(
            field(json!({"events": {"type": "firehose", "deliveryStream": "bad name"}})),
            "events.deliveryStream"
        );
        assert_eq!(field(json!([1])), "");
    }
}
