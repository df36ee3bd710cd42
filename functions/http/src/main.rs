//! Entry point of the fanout-http Lambda function: wiring only.

use fanout::app::App;
use fanout::lambda_init::or_exit;
use fanout_http::{HttpApp, HttpSettings};
use lambda_http::{Error, lambda_runtime, service_fn};

#[tokio::main]
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
