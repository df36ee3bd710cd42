//! `fanout`: the iot-fanout engine. Trigger functions decode their events into messages and call
//! it; it routes, validates, packs, sends and reports one outcome per message.
//!
//! The pipeline, in module order: [`message`] → [`routes`] → [`validate`] → [`batch`] →
//! [`dispatch`] (through a [`sink::Sink`]) → [`outcome`]. [`engine`] strings them together.

pub mod destination;
pub mod message;
pub mod sink;
