//! Entry point of the fanout-http Lambda function: wiring only.

use fanout::app::App;
use fanout_http::{HttpApp, HttpSettings};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanout::telemetry::init();
    let http = HttpApp {
        settings: HttpSettings::from_env()?,
        app: App::from_env().await?,
    };
    let http = &http;
    lambda_http::run(service_fn(move |req| fanout_http::handle(http, req))).await
}
