//! Entry point of the fanout-sqs Lambda function: wiring only.

use fanout::app::App;
use fanout::lambda_init::or_exit;
use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanout::telemetry::init();
    let app = or_exit(App::from_env().await).await;
    let app = &app;
    lambda_runtime::run(service_fn(move |event| fanout_sqs::handle(app, event))).await
}
