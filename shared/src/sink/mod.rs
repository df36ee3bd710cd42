//! The `Sink` port: one small trait every destination implements, and the calls it receives.

pub mod alibaba;
pub mod analytics;
pub mod aws;
mod body;
pub mod eventbridge;
pub mod events;
pub mod firehose;
mod https_client;
pub mod kinesis;
pub mod outbox;
pub mod publish;
mod results;
pub mod shadow;
pub(crate) mod signed_http;
pub mod sns;
pub mod sqs;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Serialize;

use crate::destination::{Destination, EntryParams, Kind};

pub use body::Body;

/// One downstream call: a destination and the entries packed for it, within its limits.
#[derive(Debug, Clone)]
pub struct Call {
    pub destination: Destination,
    pub entries: Vec<Entry>,
}

/// One message's part of a call.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Index of the source message in the invocation.
    pub message: usize,
    /// Index of the target among the message's targets, so results find their slot directly
    /// (a fleet message has one target per device: a search per result cost O(devices²)).
    pub target: usize,
    /// Deterministic downstream id (IoT Analytics/Events messageId, SNS and SQS FIFO
    /// deduplication ids).
    pub id: String,
    /// Bytes sent as the message body.
    pub payload: Body,
    pub timestamp: Option<i64>,
    pub params: EntryParams,
    /// Bytes this entry counts toward its destination's per-call byte limit.
    pub size: usize,
}

impl Entry {
    /// What orders the entry within an ordered lane: the SNS or SQS message group, or the Kinesis
    /// partition key (records of one key keep their order in the stream's shard).
    pub fn group(&self) -> Option<&str> {
        match &self.params {
            EntryParams::Sns(p) => p.group_id.as_deref(),
            EntryParams::Sqs(p) => p.group_id.as_deref(),
            EntryParams::Kinesis(p) => Some(&p.partition_key),
            _ => None,
        }
    }

    /// The SQS MessageDeduplicationId: the deterministic entry id on FIFO queues. Sent even when
    /// the queue deduplicates by content: an explicit id takes precedence, and it survives a
    /// redelivered record whose body is the same.
    pub fn sqs_deduplication_id(&self, destination: &Destination) -> Option<&str> {
        (matches!(self.params, EntryParams::Sqs(_)) && destination.is_fifo()).then_some(&self.id)
    }

    /// A byte cap on the entry's call below its kind's own: an SQS queue's MaximumMessageSize
    /// bounds a whole SendMessageBatch, not only one message (its `maxMessageBytes`).
    pub fn call_byte_cap(&self) -> Option<usize> {
        match &self.params {
            EntryParams::Sqs(p) => Some(p.max_message_bytes),
            _ => None,
        }
    }

    /// Whether the entry asks to leave deduplication to its FIFO topic's content-based
    /// deduplication (the target's `contentBasedDeduplication`).
    pub fn wants_content_deduplication(&self) -> bool {
        matches!(&self.params, EntryParams::Sns(p) if p.content_based_deduplication)
    }

    /// The SNS MessageDeduplicationId: the deterministic entry id on every FIFO topic. It is left
    /// out only when the target asks for content-based deduplication *and* the topic is known
    /// to have it on (`topic_dedups_by_content`, read from the topic itself): a topic without it
    /// refuses an entry with no id, so a wrong flag in the table must not fail whole batches.
    pub fn sns_deduplication_id(
        &self,
        destination: &Destination,
        topic_dedups_by_content: bool,
    ) -> Option<&str> {
        if !destination.is_fifo() || (topic_dedups_by_content && self.wants_content_deduplication())
        {
            return None;
        }
        Some(&self.id)
    }
}

/// What a destination answered to a call that reached it.
/// Entries not listed in `failed` were accepted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallReport {
    pub failed: Vec<EntryFailure>,
}

/// One entry the destination refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryFailure {
    /// Index into `Call::entries`.
    pub index: usize,
    pub code: String,
    pub reason: String,
    pub retryable: bool,
}

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorClass {
    /// Throttled (HTTP 429, ThrottlingException): retry the whole call after backing off.
    Throttled,
    /// Transient (5xx, timeouts, connection errors): retry the whole call.
    Transient,
    /// The request can never succeed as sent (validation, access, missing resource).
    Permanent,
}

impl ErrorClass {
    pub fn retryable(self) -> bool {
        !matches!(self, ErrorClass::Permanent)
    }
}

/// A call that failed as a whole.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CallError {
    pub class: ErrorClass,
    /// The service's error code, when it sent one.
    pub code: String,
    /// What a user can act on: which action, which resource, which rule.
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl CallError {
    pub fn new(class: ErrorClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        CallError {
            class,
            code: code.into(),
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// A destination. Implementations send one call and report per-entry results; the dispatcher
/// owns concurrency, retries and deadlines.
pub trait Sink: Send + Sync + fmt::Debug {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>>;
}

/// The sink for each destination kind.
#[derive(Debug, Clone)]
pub struct Sinks {
    pub analytics: Arc<dyn Sink>,
    pub events: Arc<dyn Sink>,
    pub sns: Arc<dyn Sink>,
    /// MQTT topics and device fleets: both are IoT Core publishes.
    pub publish: Arc<dyn Sink>,
    pub shadow: Arc<dyn Sink>,
    pub firehose: Arc<dyn Sink>,
    pub kinesis: Arc<dyn Sink>,
    pub eventbridge: Arc<dyn Sink>,
    pub sqs: Arc<dyn Sink>,
    /// Alibaba Cloud IoT Platform BatchPub.
    pub alibaba: Arc<dyn Sink>,
}

impl Sinks {
    /// One sink for every kind (the local outbox, or a test fake).
    pub fn all(sink: Arc<dyn Sink>) -> Self {
        Sinks {
            analytics: sink.clone(),
            events: sink.clone(),
            sns: sink.clone(),
            publish: sink.clone(),
            shadow: sink.clone(),
            firehose: sink.clone(),
            kinesis: sink.clone(),
            eventbridge: sink.clone(),
            sqs: sink.clone(),
            alibaba: sink,
        }
    }

    pub fn for_kind(&self, kind: Kind) -> &dyn Sink {
        match kind {
            Kind::Analytics => self.analytics.as_ref(),
            Kind::Events => self.events.as_ref(),
            Kind::Sns => self.sns.as_ref(),
            Kind::Mqtt | Kind::Fleet => self.publish.as_ref(),
            Kind::Shadow => self.shadow.as_ref(),
            Kind::Firehose => self.firehose.as_ref(),
            Kind::Kinesis => self.kinesis.as_ref(),
            Kind::EventBridge => self.eventbridge.as_ref(),
            Kind::Sqs => self.sqs.as_ref(),
            Kind::Alibaba => self.alibaba.as_ref(),
        }
    }
}
