//! Routing-table parsing, then routing a fixed message through whatever table parsed.
#![no_main]

use fanout::message::Message;
use fanout::routes::RoutingTable;
use fanout::validate::ContractLimits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(table) = RoutingTable::from_json(text, &ContractLimits::default()) else { return };
    let msg = r#"{"id": "m", "topic": "a/b/c", "attributes": {"deviceId": "d", "n": 3}, "payload": {"x": [1, {"y": "z"}]}}"#;
    if let Ok(msg) = Message::decode(msg, None) {
        let _ = table.route(&msg);
    }
});
