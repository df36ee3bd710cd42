//! Cold-start wiring shared by every function: configuration, routing table, sinks and engine,
//! built once.

use std::sync::Arc;

use crate::config::{Config, ConfigError, SinkChoice};
use crate::engine::Engine;
use crate::routes_source::{LiveTable, LoadError};
use crate::sink::Sinks;
use crate::sink::aws::load_sdk_config;
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
    /// The routing table could not be read, or failed its checks.
    #[error("configuration: {var}: {source}")]
    Routes {
        var: &'static str,
        #[source]
        source: LoadError,
    },
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
        let sdk = match (config.sink, config.routes.source.needs_aws()) {
            (SinkChoice::Local, false) => None,
            _ => Some(load_sdk_config().await),
        };
        let routes = LiveTable::load(
            &config.routes,
            &config.engine.limits,
            config.engine.metrics_function.clone(),
            sdk.as_ref(),
        )
        .await
        .map_err(|source| InitError::Routes {
            var: config.routes.source.variable(),
            source,
        })?;
        let sinks = match (config.sink, sdk) {
            (SinkChoice::Local, _) => {
                let outbox =
                    Outbox::open(&config.outbox_dir).map_err(|source| InitError::Outbox {
                        dir: config.outbox_dir.display().to_string(),
                        source,
                    })?;
                tracing::info!(path = %outbox.path().display(), "sending to the local outbox");
                Sinks::all(Arc::new(outbox))
            }
            (SinkChoice::Aws, sdk) => {
                let sdk = match sdk {
                    Some(sdk) => sdk,
                    None => load_sdk_config().await,
                };
                let mut sinks = crate::sink::aws::aws_sinks(&sdk);
                // A table re-read later may add alibaba targets; with no AccessKey configured they
                // fail with that reason, so a key is only required when the first table needs it.
                let needed = routes.peek().table.has_alibaba_targets();
                if let Some(alibaba) =
                    crate::sink::alibaba::sink(&config.alibaba, &sdk, needed).await?
                {
                    sinks.alibaba = alibaba;
                }
                sinks
            }
        };
        Ok(App {
            engine: Engine::with_routes(Arc::new(routes), config.engine),
            sinks,
        })
    }
}
