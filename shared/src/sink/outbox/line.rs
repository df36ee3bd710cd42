//! One outbox line: a call's kind, destination and the request its API receives, in the member
//! names of that API's reference. REST-JSON blobs (IoT Analytics, IoT Events) and JSON-protocol
//! blobs (Firehose, Kinesis) are base64 as on the wire; SNS entries use the PublishBatch member
//! names, EventBridge and SQS entries those of PutEvents and SendMessageBatch; IoT Core publish and
//! shadow requests show their HTTP body; Alibaba BatchPub shows its endpoint and RPC parameters
//! (`DeviceName.N`, base64 `MessageContent`), in the order its API reference lists them.

use super::json::JsonWriter;
use crate::destination::{Destination, EntryParams, PublishParams, SnsAttribute, SnsParams};
use crate::sink::{Body, Call, Entry};

/// One outbox line without its newline.
pub fn encode_line(call: &Call) -> Vec<u8> {
    let mut w = writer_for(call);
    w.begin_object();
    w.str_member("kind", call.destination.kind().as_str());
    w.str_member("destination", call.destination.name());
    w.key("request");
    w.begin_object();
    request(&mut w, call);
    w.end_object();
    w.end_object();
    w.into_bytes()
}

/// The request object alone. For IoT Analytics and IoT Events it is the body of their REST-JSON
/// `BatchPutMessage`, byte for byte what aws-sdk-iotanalytics and aws-sdk-ioteventsdata wrote
/// (members in the same order, strings escaped and blobs encoded the same way), so their sinks
/// send it.
pub(crate) fn request_body(call: &Call) -> Vec<u8> {
    let mut w = writer_for(call);
    w.begin_object();
    request(&mut w, call);
    w.end_object();
    w.into_bytes()
}

/// A writer sized for the call's payloads (base64 takes 4 bytes per 3) plus the names around
/// them, so a 100-entry call is written without growing the buffer ten times.
fn writer_for(call: &Call) -> JsonWriter {
    let payloads: usize = call.entries.iter().map(|e| e.payload.len()).sum();
    JsonWriter::with_capacity(payloads / 3 * 4 + call.entries.len() * 128 + 256)
}

/// The members of the request object.
fn request(w: &mut JsonWriter, call: &Call) {
    let entries = &call.entries;
    match &call.destination {
        Destination::Analytics { channel } => {
            w.str_member("channelName", channel);
            each(w, "messages", entries, |w, e| {
                w.str_member("messageId", &e.id);
                w.key("payload");
                w.body_base64(&e.payload);
            });
        }
        Destination::Events { input } => each(w, "messages", entries, |w, e| {
            w.str_member("messageId", &e.id);
            w.str_member("inputName", input);
            w.key("payload");
            w.body_base64(&e.payload);
            if let Some(t) = e.timestamp {
                w.key("timestamp");
                w.begin_object();
                w.key("timeInMillis");
                w.int(t);
                w.end_object();
            }
        }),
        Destination::Sns { topic_arn } => {
            w.str_member("TopicArn", topic_arn);
            each(
                w,
                "PublishBatchRequestEntries",
                entries.iter().enumerate(),
                |w, (i, e)| {
                    let p = match &e.params {
                        EntryParams::Sns(p) => p,
                        _ => const { &SnsParams::EMPTY },
                    };
                    w.key("Id");
                    w.str(itoa::Buffer::new().format(i));
                    // Entries for SNS carry UTF-8 text (JSON, or base64 of a binary payload).
                    text_member(w, "Message", &e.payload);
                    w.opt_str_member("Subject", p.subject.as_deref());
                    w.opt_str_member("MessageGroupId", p.group_id.as_deref());
                    // The outbox cannot ask the topic whether it deduplicates by content, so it
                    // records the id the SNS sink sends whenever that is not known.
                    w.opt_str_member(
                        "MessageDeduplicationId",
                        e.sns_deduplication_id(&call.destination, false),
                    );
                    if p.message_structure_json {
                        w.str_member("MessageStructure", "json");
                    }
                    attributes(w, &p.attributes);
                },
            );
        }
        Destination::Mqtt { topic } | Destination::Fleet { topic } => {
            w.str_member("topic", topic);
            let entry = entries.first();
            if let Some(EntryParams::Publish(p)) = entry.map(|e| &e.params) {
                publish_params(w, p);
            }
            body(w, entry);
        }
        Destination::Shadow { thing, shadow } => {
            w.str_member("thingName", thing);
            w.opt_str_member("shadowName", shadow.as_deref());
            body(w, entries.first());
        }
        Destination::Firehose { delivery_stream } => {
            w.str_member("DeliveryStreamName", delivery_stream);
            data_records(w, entries);
        }
        Destination::Kinesis { stream } => {
            let name = if stream.starts_with("arn:") {
                "StreamARN"
            } else {
                "StreamName"
            };
            w.str_member(name, stream);
            data_records(w, entries);
        }
        Destination::EventBridge { event_bus } => {
            let events = entries.iter().filter_map(|e| match &e.params {
                EntryParams::EventBridge(p) => Some((e, p)),
                _ => None,
            });
            each(w, "Entries", events, |w, (e, p)| {
                w.str_member("EventBusName", event_bus);
                w.str_member("Source", &p.source);
                w.str_member("DetailType", &p.detail_type);
                // The Detail is JSON text, built with the entry.
                text_member(w, "Detail", &e.payload);
                if !p.resources.is_empty() {
                    w.key("Resources");
                    w.begin_array();
                    for r in &p.resources {
                        w.str(r);
                    }
                    w.end_array();
                }
                if let Some(t) = e.timestamp {
                    w.key("Time");
                    w.int(t);
                }
            });
        }
        Destination::Sqs { queue_url } => {
            w.str_member("QueueUrl", queue_url);
            let messages = entries
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match &e.params {
                    EntryParams::Sqs(p) => Some((i, e, p)),
                    _ => None,
                });
            each(w, "Entries", messages, |w, (i, e, p)| {
                w.key("Id");
                w.str(itoa::Buffer::new().format(i));
                // Entries for SQS carry UTF-8 text (JSON, or base64 of a binary payload).
                text_member(w, "MessageBody", &e.payload);
                if let Some(delay) = p.delay_seconds {
                    w.key("DelaySeconds");
                    w.int(delay);
                }
                w.opt_str_member("MessageGroupId", p.group_id.as_deref());
                w.opt_str_member(
                    "MessageDeduplicationId",
                    e.sqs_deduplication_id(&call.destination),
                );
                attributes(w, &p.attributes);
            });
        }
        Destination::Alibaba(devices) => {
            let entry = entries.first();
            let qos = match entry.map(|e| &e.params) {
                Some(EntryParams::Alibaba(p)) => p.qos,
                _ => 0,
            };
            let message: &[u8] = entry.map_or(&[], |e| &e.payload);
            w.str_member("Endpoint", &format!("https://{}", devices.host()));
            w.str_member("Action", crate::sink::alibaba::ACTION);
            w.str_member("Version", crate::sink::alibaba::VERSION);
            w.key("Parameters");
            w.begin_object();
            for (name, value) in crate::sink::alibaba::parameters(devices, qos, message) {
                w.dynamic_key(&name);
                w.str(&value);
            }
            w.end_object();
        }
    }
}

/// `"name":[{…},…]`: one object per item, whose members `member` writes. Entries of another
/// kind's parameters cannot reach a call; where the request needs those parameters, such an
/// entry is left out rather than written half.
fn each<T>(
    w: &mut JsonWriter,
    name: &'static str,
    items: impl IntoIterator<Item = T>,
    mut member: impl FnMut(&mut JsonWriter, T),
) {
    w.key(name);
    w.begin_array();
    for item in items {
        w.begin_object();
        member(w, item);
        w.end_object();
    }
    w.end_array();
}

/// A Firehose or Kinesis record: its data in base64 (and a Kinesis record's keys).
fn data_records(w: &mut JsonWriter, entries: &[Entry]) {
    each(w, "Records", entries, |w, e| {
        w.key("Data");
        w.body_base64(&e.payload);
        if let EntryParams::Kinesis(p) = &e.params {
            w.str_member("PartitionKey", &p.partition_key);
            w.opt_str_member("ExplicitHashKey", p.explicit_hash_key.as_deref());
        }
    });
}

/// SNS and SQS message attributes; binary ones carry base64 text, as the CLI shows them.
fn attributes(w: &mut JsonWriter, attributes: &[SnsAttribute]) {
    if attributes.is_empty() {
        return;
    }
    w.key("MessageAttributes");
    w.begin_array();
    for a in attributes {
        w.begin_object();
        w.str_member("Name", &a.name);
        w.str_member("DataType", &a.data_type);
        w.str_member("Value", &a.value);
        w.end_object();
    }
    w.end_array();
}

/// IoT Core `Publish` parameters, as members of the request (MQTT 5 properties only when set).
fn publish_params(w: &mut JsonWriter, p: &PublishParams) {
    w.key("qos");
    w.int(p.qos);
    if p.retain {
        w.key("retain");
        w.bool(true);
    }
    w.opt_str_member("userProperties", p.user_properties.as_deref());
    w.opt_str_member("contentType", p.content_type.as_deref());
    w.opt_str_member("responseTopic", p.response_topic.as_deref());
    w.opt_str_member("correlationData", p.correlation_data.as_deref());
    if let Some(seconds) = p.message_expiry {
        w.key("messageExpiry");
        w.int(seconds);
    }
    w.opt_str_member(
        "payloadFormatIndicator",
        p.payload_format_indicator.map(|f| f.as_str()),
    );
}

/// An HTTP body: `body` as text when it is UTF-8, `bodyBase64` otherwise.
fn body(w: &mut JsonWriter, entry: Option<&Entry>) {
    let Some(entry) = entry else {
        return w.str_member("body", "");
    };
    if entry.payload.text().is_some() {
        w.key("body");
        w.body_str(&entry.payload);
    } else {
        w.key("bodyBase64");
        w.body_base64(&entry.payload);
    }
}

/// `"name":"text"`. Entries of text destinations hold UTF-8 (the engine builds them so);
/// anything else is recorded as empty rather than guessed at.
fn text_member(w: &mut JsonWriter, name: &'static str, body: &Body) {
    w.key(name);
    if !w.body_str(body) {
        w.str("");
    }
}
