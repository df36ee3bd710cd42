//! Broadcast jobs: named messages with their own targets, kept in the routing table and run by
//! the schedule function. Checked at cold start; a fleet larger than one BatchPub call is chunked.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::engine::Inbound;
use crate::message::Message;
use crate::routes::{MAX_FLEET_DEVICES, Redirect, Routed, RoutingTable, TableError};
use crate::validate::ContractLimits;

/// A job's messages are built at cold start and copied per run, so a job stays small.
pub const MAX_JOB_MESSAGES: usize = 100;

#[derive(Debug, Clone)]
pub struct Job {
    name: Arc<str>,
    messages: Vec<Message>,
    targets: RoutingTable,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    messages: Vec<Value>,
    targets: Vec<Value>,
}

impl Job {
    /// Parses one job under its table's `redirect`; errors name the job (or its position) and
    /// the field.
    pub fn parse(
        value: &Value,
        position: usize,
        limits: &ContractLimits,
        redirect: &Redirect,
    ) -> Result<Job, TableError> {
        let label = match value.get("name").and_then(Value::as_str) {
            Some(name) => format!("job \"{name}\""),
            None => format!("job {position}"),
        };
        let err = |field: &str, reason: String| TableError {
            location: if field.is_empty() {
                label.clone()
            } else {
                format!("{label} field \"{field}\"")
            },
            reason,
        };
        // Inline jobs come from callers: the error keeps field names, not values.
        let raw = RawJob::deserialize(value)
            .map_err(|e| err("", crate::routes::without_values(&e.to_string())))?;
        if !crate::routes::is_plain_name(&raw.name) {
            return Err(err("name", crate::routes::PLAIN_NAME_RULE.to_owned()));
        }
        if raw.messages.is_empty() || raw.messages.len() > MAX_JOB_MESSAGES {
            return Err(err(
                "messages",
                format!(
                    "lists {} messages; a job sends 1 to {MAX_JOB_MESSAGES}",
                    raw.messages.len()
                ),
            ));
        }
        let messages = raw
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let default_id = format!("{}-{}", raw.name, i + 1);
                Message::decode(&m.to_string(), Some(&default_id))
                    .map_err(|e| err(&format!("messages[{i}]"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let chunked: Vec<Value> = raw.targets.iter().flat_map(chunk_fleet).collect();
        let targets = RoutingTable::single_redirected(&raw.name, &chunked, limits, redirect)
            .map_err(|e| TableError {
                location: format!("{label} {}", e.location),
                reason: e.reason,
            })?;
        // Render what reads the messages now, so a template the job's own messages cannot fill
        // fails the cold start instead of every run. (What the table fixes alone was checked as
        // it loaded; rendering a large fleet again here made every function's cold start pay.)
        for (i, msg) in messages.iter().enumerate() {
            targets
                .check_renders(msg)
                .map_err(|e| err(&format!("messages[{i}]"), e.to_string()))?;
        }
        Ok(Job {
            name: Arc::from(raw.name),
            messages,
            targets,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn has_alibaba_targets(&self) -> bool {
        self.targets.has_alibaba_targets()
    }

    pub fn message_count(&self) -> usize {
        self.messages.len()
    }

    /// The messages of one run. `run` (the schedule's event or execution id) goes into every
    /// message id, so a retried run reuses its downstream ids and a new run gets new ones.
    pub fn inbound(&self, run: &str) -> Vec<Inbound> {
        self.messages
            .iter()
            .map(|template| {
                let msg = Message {
                    // `:` rather than `/`: an id may fill a topic level (`${id}`), and a value
                    // that fills one may not add levels.
                    id: format!("{}:{run}", template.id),
                    ..template.clone()
                };
                let targets = match self.targets.route(&msg) {
                    Ok(Routed::Targets(t)) => Ok(t),
                    Ok(Routed::Dropped | Routed::Rejected) => Ok(Vec::new()),
                    Err(e) => Err(e),
                };
                match targets {
                    Ok(targets) => Inbound {
                        targets: Some(targets),
                        ..Inbound::routed(format!("{}:{}", self.name, template.id), Ok(msg))
                    },
                    // Only `${id}` differs from the render checked at cold start; report, never panic.
                    Err(e) => Inbound::routed(
                        format!("{}:{}", self.name, template.id),
                        Err(crate::message::MessageError::Field {
                            field: "targets",
                            rule: e.to_string(),
                        }),
                    ),
                }
            })
            .collect()
    }
}

/// A fleet target with more devices than one BatchPub call takes becomes several targets of at
/// most 100 devices each.
fn chunk_fleet(target: &Value) -> Vec<Value> {
    let devices = match (
        target.get("type").and_then(Value::as_str),
        target.get("devices"),
    ) {
        (Some("fleet"), Some(Value::Array(devices))) if devices.len() > MAX_FLEET_DEVICES => {
            devices
        }
        _ => return vec![target.clone()],
    };
    // The rest of the target is copied once per chunk, without its device list: copying the
    // whole target per chunk made a 100,000-device job cost seconds at every cold start.
    let mut rest = target.clone();
    if let Some(obj) = rest.as_object_mut() {
        obj.remove("devices");
    }
    devices
        .chunks(MAX_FLEET_DEVICES)
        .map(|chunk| {
            let mut part = rest.clone();
            if let Some(obj) = part.as_object_mut() {
                obj.insert("devices".to_owned(), Value::Array(chunk.to_vec()));
            }
            part
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::destination::Destination;

    fn parse(v: Value) -> Result<Job, TableError> {
        Job::parse(&v, 1, &ContractLimits::default(), &Redirect::default())
    }

    #[test]
    fn fleets_are_chunked_and_ids_carry_the_run() {
        let devices: Vec<String> = (0..250).map(|i| format!("dev-{i}")).collect();
        let job = parse(json!({"name": "nightly", "messages": [{"payload": {"cmd": "reboot"}}, {"id": "second", "payload": 2}],
            "targets": [{"type": "fleet", "productKey": "pk", "devices": devices, "topicShortName": "cmd"},
                        {"type": "mqtt", "topic": "audit/${id}"}]}))
        .unwrap();
        let inbound = job.inbound("run-7");
        let targets: usize = inbound
            .iter()
            .map(|i| i.targets.as_ref().map_or(0, Vec::len))
            .sum();
        assert_eq!((job.message_count(), targets), (2, 502));
        assert_eq!(inbound[0].source_id, "nightly:nightly-1");
        let msg = inbound[0].message.as_ref().unwrap();
        assert_eq!(msg.id, "nightly-1:run-7");
        let targets = inbound[1].targets.as_ref().unwrap();
        assert_eq!(targets.len(), 251);
        assert_eq!(
            targets[249].destination,
            Destination::Fleet {
                topic: "/pk/dev-249/user/cmd".into()
            }
        );
        assert_eq!(
            targets[250].destination,
            Destination::Mqtt {
                topic: "audit/second:run-7".into()
            }
        );
    }

    #[test]
    fn bad_jobs_fail_with_the_job_and_field() {
        let e = |v: Value| parse(v).unwrap_err().to_string();
        assert!(
            e(json!({"name": "j", "messages": [], "targets": []}))
                .starts_with("job \"j\" field \"messages\"")
        );
        assert!(e(json!({"name": "j", "messages": [{"payload": 1, "payloadBase64": "AA=="}], "targets": [{"type": "mqtt", "topic": "a"}]}))
            .starts_with("job \"j\" field \"messages[0]\": exactly one of"));
        assert!(e(json!({"name": "j", "messages": [{"payload": 1}], "targets": [{"type": "mqtt", "topic": "a/${attributes.x}"}]}))
            .contains("no attribute `x`"));
        assert!(e(json!({"name": "j", "messages": [{"payload": 1}], "targets": [{"type": "mqtt", "topic": "a", "qos": 3}]}))
            .starts_with("job \"j\" route \"j\" target 1 (mqtt) field \"qos\""));
        assert!(
            e(json!({"name": "j k", "messages": [{"payload": 1}], "targets": []}))
                .starts_with("job \"j k\" field \"name\"")
        );
        assert!(e(json!({"messages": []})).starts_with("job 1: missing field `name`"));
    }
}
