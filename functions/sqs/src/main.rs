//! Entry point of the fanout-sqs Lambda function: wiring only.

use fanout::app::App;
use fanout::lambda_init::or_exit;
use lambda_runtime::{Error, service_fn};

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
    let app = or_exit(App::from_env().await).await;
    let app = &app;
    lambda_runtime::run(service_fn(move |event| fanout_sqs::handle(app, event))).await
}
