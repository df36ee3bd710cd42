//! Entry point of the fanout-http Lambda function: wiring only.

use fanout::app::App;
use fanout::lambda_init::or_exit;
use fanout_http::{HttpApp, HttpSettings};
use lambda_http::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanout::telemetry::init();
    let http = HttpApp {
        settings: or_exit(HttpSettings::from_env()).await,
        app: or_exit(App::from_env().await).await,
    };
    let http = &http;
    lambda_http::run(service_fn(move |req| fanout_http::handle(http, req))).await
}
