//! Envelope decoding: any bytes, with and without a default id, never panic.
#![no_main]

use fanout::message::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Message::decode(text, None);
        let _ = Message::decode(text, Some("record-1"));
    }
});
