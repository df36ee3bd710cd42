//! Content patterns: the first line is a pattern, the rest an object it is matched against.
#![no_main]

use fanout::routes::Pattern;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pattern, object) = text.split_once('\n').unwrap_or((text, "{}"));
    let Ok(pattern) = serde_json::from_str::<Value>(pattern) else { return };
    let Ok(pattern) = Pattern::parse(&pattern, "payload") else { return };
    let object: Option<Value> = serde_json::from_str(object).ok();
    let _ = pattern.matches(object.as_ref().and_then(Value::as_object));
});
