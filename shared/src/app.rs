//! Cold-start wiring shared by every function: configuration, sinks and engine, built once.

use std::sync::Arc;

use crate::config::{Config, ConfigError, SinkChoice};
use crate::engine::Engine;
use crate::sink::Sinks;
use crate::sink::outbox::Outbox;

/// Everything a handler borrows: built once per cold start.
#[derive(Debug)]
pub struct App {
    pub engine: Engine,
    pub sinks: Sinks,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("cannot open the local outbox in {dir}: {source}")]
    Outbox {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("alibaba destination: {0}")]
    Alibaba(#[from] crate::sink::alibaba::InitError),
}

impl App {
    /// Reads the environment, parses and checks the routing table, and builds the sinks.
    pub async fn from_env() -> Result<App, InitError> {
        App::from_config(Config::from_env()?).await
    }

    pub async fn from_config(config: Config) -> Result<App, InitError> {
        let sinks = match config.sink {
            SinkChoice::Local => {
                let outbox =
                    Outbox::open(&config.outbox_dir).map_err(|source| InitError::Outbox {
                        dir: config.outbox_dir.display().to_string(),
                        source,
                    })?;
                tracing::info!(path = %outbox.path().display(), "sending to the local outbox");
                Sinks::all(Arc::new(outbox))
            }
            SinkChoice::Aws => {
                let sdk = crate::sink::aws::load_sdk_config().await;
                let mut sinks = crate::sink::aws::aws_sinks(&sdk);
                let needed = config.routes.has_alibaba_targets();
                if let Some(alibaba) =
                    crate::sink::alibaba::sink(&config.alibaba, &sdk, needed).await?
                {
                    sinks.alibaba = alibaba;
                }
                sinks
            }
        };
        Ok(App {
            engine: Engine::new(config.routes, config.engine),
            sinks,
        })
    }
}
