//! The HTTP function on arbitrary bodies, paths and query strings (sinks accept everything, so
//! the whole decode → route → validate → pack → report path runs without I/O).
#![no_main]

use std::sync::{Arc, OnceLock};

use fanout::app::App;
use fanout::engine::{Engine, EngineConfig};
use fanout::routes::RoutingTable;
use fanout::sink::{Call, CallError, CallReport, Sink, Sinks};
use fanout::validate::ContractLimits;
use fanout_http::{HttpApp, HttpSettings};
use futures::future::BoxFuture;
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Accept;

impl Sink for Accept {
    fn send<'a>(&'a self, _call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async { Ok(CallReport::default()) })
    }
}

fn app() -> &'static HttpApp {
    static APP: OnceLock<HttpApp> = OnceLock::new();
    APP.get_or_init(|| {
        let table = RoutingTable::from_json(include_str!("../../../events/routes.json"), &ContractLimits::default())
            .unwrap_or_else(|e| panic!("sample routing table: {e}"));
        let settings = HttpSettings::from_lookup(|k| {
            (k == "FANOUT_HTTP_ALLOWED_TARGETS").then(|| r#"["mqtt:devices/*"]"#.to_owned())
        })
        .unwrap_or_else(|e| panic!("settings: {e}"));
        HttpApp {
            app: App { engine: Engine::new(table, EngineConfig::default()), sinks: Sinks::all(Arc::new(Accept)) },
            settings,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let (selector, body) = data.split_first().map_or((0, &[][..]), |(s, rest)| (*s, rest));
    let path = match selector % 4 {
        0 => "/messages",
        1 => "/batch-pub",
        2 => "/prod/messages",
        _ => "/other",
    };
    let query = if selector & 0x10 != 0 { "dryRun=true" } else { "" };
    let mut req = lambda_http::http::Request::builder()
        .method(if selector & 0x20 != 0 { "GET" } else { "POST" })
        .uri(format!("https://example.com{path}?{query}"))
        .header("content-type", if selector & 0x40 != 0 { "text/plain" } else { "application/json" });
    if selector & 0x80 != 0 {
        req = req.header("content-length", "5");
    }
    let Ok(req) = req.body(lambda_http::Body::Binary(body.to_vec())) else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build();
    let Ok(rt) = rt else { return };
    let _ = rt.block_on(fanout_http::handle(app(), req));
});
