//! Entry point of the fanout-http Lambda function: wiring only.

use fanout::app::App;
use fanout::lambda_init::or_exit;
use fanout_http::{HttpApp, HttpSettings};
use lambda_http::{Error, lambda_runtime, service_fn};

// The pipeline allocates per message and per entry; mimalloc made it 18 % faster than the system
// allocator (BENCHMARKS.md, section 9).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: a function has at most one vCPU below 1,769 MB, and its work is one task that
// waits on the network; worker threads only added cross-thread wake-ups (BENCHMARKS.md, "CPU
// per downstream call").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    fanout::telemetry::init();
    let http = HttpApp {
        settings: or_exit(HttpSettings::from_env()).await,
        app: or_exit(App::from_env().await).await,
    };
    let http = &http;
    // Not lambda_http::run: its event conversion panics on some malformed events (see event.rs).
    lambda_runtime::run(service_fn(move |event| {
        fanout_http::handle_event(http, event)
    }))
    .await
}
