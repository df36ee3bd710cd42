//! Local outbox sink.
