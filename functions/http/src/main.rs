//! Entry point of the fanout-http Lambda function: wiring only.

use fanout::app::App;
use fanout_http::{HttpApp, HttpSettings};
use lambda_http::{Error, service_fn};

// One thread: a function has at most one vCPU below 1,769 MB, and its work is one task that
// waits on the network; worker threads only added cross-thread wake-ups (BENCHMARKS.md, "CPU
// per downstream call").
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    fanout::telemetry::init();
    let http = HttpApp {
        settings: HttpSettings::from_env()?,
        app: App::from_env().await?,
    };
    let http = &http;
    lambda_http::run(service_fn(move |req| fanout_http::handle(http, req))).await
}
