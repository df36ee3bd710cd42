//! Templates: the first line is a template, the rest the message it is rendered for.
#![no_main]

use fanout::message::Message;
use fanout::routes::{Extras, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (template, message) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(template) = Template::parse(template, &["productKey", "deviceName", "topicShortName"]) else { return };
    let fallback = r#"{"id": "m", "topic": "a/b", "attributes": {"k": "v"}, "payload": {"a": [1, 2]}}"#;
    let msg = Message::decode(message, Some("m")).or_else(|_| Message::decode(fallback, None));
    if let Ok(msg) = msg {
        let extras = Extras { product_key: Some("pk"), device_name: Some("dev"), ..Extras::default() };
        let _ = template.render(&msg, &extras);
    }
});
