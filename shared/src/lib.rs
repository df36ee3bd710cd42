//! `fanout`: the iot-fanout engine. Trigger functions decode their events into messages and call
//! it; it routes, validates, packs, sends and reports one outcome per message.
//!
//! The pipeline, in module order: [`message`] → [`routes`] → [`validate`] → [`batch`] →
//! [`dispatch`] (through a [`sink::Sink`]) → [`outcome`]. [`engine`] strings them together;
//! [`app`] builds it once at cold start from [`config`], with the table [`routes_source`] reads
//! (and re-reads) and [`schema`] describes.

pub mod app;
pub mod batch;
pub mod config;
pub mod destination;
pub mod dispatch;
pub mod engine;
pub mod error_records;
pub mod explicit;
pub mod ids;
pub mod jobs;
mod json_string;
pub mod lambda_init;
pub mod message;
pub mod metrics;
pub mod outcome;
pub mod routes;
pub mod routes_source;
pub mod schema;
pub mod sink;
pub mod telemetry;
pub mod validate;
