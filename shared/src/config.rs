//! Typed configuration, read once from the environment at cold start; every error names its variable.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::dispatch::RetryPolicy;
use crate::engine::EngineConfig;
use crate::routes_source::{APPCONFIG_DEFAULT_PORT, RoutesConfig, RoutesSource};
use crate::validate::ContractLimits;

/// Which sinks the functions send to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkChoice {
    /// The local outbox: records calls as JSON lines, needs no AWS.
    Local,
    /// The AWS SDK clients.
    Aws,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub sink: SinkChoice,
    pub outbox_dir: PathBuf,
    /// Where the routing table comes from; it is read when the app is built.
    pub routes: RoutesConfig,
    pub engine: EngineConfig,
    /// The `alibaba` destination's AccessKey source and endpoint override.
    pub alibaba: crate::sink::alibaba::Settings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var}: {rule}")]
    Invalid { var: &'static str, rule: String },
    #[error(
        "set FANOUT_ROUTES (the routing table as JSON), FANOUT_ROUTES_FILE (a path to it) or FANOUT_ROUTES_URL (s3://bucket/key or appconfig://application/environment/profile)"
    )]
    NoRoutes,
    #[error("set only one of FANOUT_ROUTES, FANOUT_ROUTES_FILE and FANOUT_ROUTES_URL")]
    BothRoutes,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let sink = match get("FANOUT_SINK").as_deref().map(str::trim) {
            None | Some("local") => SinkChoice::Local,
            Some("aws") => SinkChoice::Aws,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "FANOUT_SINK",
                    rule: format!("must be `local` or `aws`, found `{other}`"),
                });
            }
        };
        let outbox_dir =
            get("FANOUT_OUTBOX_DIR").map_or_else(|| PathBuf::from("outbox"), PathBuf::from);

        let defaults = EngineConfig::default();
        let limits = contract_limits(&get)?;
        let retry = RetryPolicy {
            max_attempts: parse(
                &get,
                "FANOUT_MAX_ATTEMPTS",
                defaults.retry.max_attempts,
                1..=20,
            )?,
            base_delay: Duration::from_millis(parse(
                &get,
                "FANOUT_BACKOFF_BASE_MS",
                millis(defaults.retry.base_delay),
                1..=60_000,
            )?),
            max_delay: Duration::from_millis(parse(
                &get,
                "FANOUT_BACKOFF_MAX_MS",
                millis(defaults.retry.max_delay),
                1..=300_000,
            )?),
        };
        let fleet_rate: f64 = parse(&get, "FANOUT_FLEET_RATE", 0.0, 0.0..=1_000_000.0)?;
        let engine = EngineConfig {
            limits,
            retry,
            concurrency: parse(&get, "FANOUT_CONCURRENCY", defaults.concurrency, 1..=1024)?,
            safety_margin: Duration::from_millis(parse(
                &get,
                "FANOUT_DEADLINE_MARGIN_MS",
                millis(defaults.safety_margin),
                0..=60_000,
            )?),
            fleet_rate: (fleet_rate > 0.0).then_some(fleet_rate),
            alibaba_rate: parse(
                &get,
                "FANOUT_ALIBABA_RATE",
                defaults.alibaba_rate,
                0.1..=50.0,
            )?,
            metrics_function: metrics_function(&get)?,
            function_name: get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "local".to_owned()),
            default_errors: None,
        };
        let engine = EngineConfig {
            default_errors: default_errors(&get, &engine.limits)?,
            ..engine
        };
        let source = match (
            get("FANOUT_ROUTES"),
            get("FANOUT_ROUTES_FILE"),
            get("FANOUT_ROUTES_URL"),
        ) {
            (Some(json), None, None) => RoutesSource::Inline(json),
            (None, Some(path), None) => RoutesSource::File(PathBuf::from(path)),
            (None, None, Some(url)) => {
                let port = parse(
                    &get,
                    "AWS_APPCONFIG_EXTENSION_HTTP_PORT",
                    APPCONFIG_DEFAULT_PORT,
                    1..=u16::MAX,
                )?;
                RoutesSource::from_url(&url, port).map_err(|rule| ConfigError::Invalid {
                    var: "FANOUT_ROUTES_URL",
                    rule,
                })?
            }
            (None, None, None) => return Err(ConfigError::NoRoutes),
            _ => return Err(ConfigError::BothRoutes),
        };
        let routes = RoutesConfig {
            source,
            ttl: Duration::from_secs(parse(&get, "FANOUT_ROUTES_TTL", 60, 0..=86_400)?),
        };

        Ok(Config {
            sink,
            outbox_dir,
            routes,
            engine,
            alibaba: crate::sink::alibaba::Settings::from_lookup(&get)?,
        })
    }
}

/// `FANOUT_ERRORS_QUEUE_URL`: the error queue a deployment created, the error destination of
/// tables that name none.
fn default_errors(
    get: &impl Fn(&str) -> Option<String>,
    limits: &crate::validate::ContractLimits,
) -> Result<Option<crate::destination::Target>, ConfigError> {
    const VAR: &str = "FANOUT_ERRORS_QUEUE_URL";
    get(VAR)
        .map(|url| {
            let spec = serde_json::json!({"type": "sqs", "queueUrl": url.trim()});
            crate::routes::error_destination(VAR, &spec, limits).map_err(|e| ConfigError::Invalid {
                var: VAR,
                rule: e.reason,
            })
        })
        .transpose()
}

/// The caps the destination contracts apply (`FANOUT_ANALYTICS_MAX_PAYLOAD`,
/// `FANOUT_ALLOW_RESERVED_TOPICS`): the functions and the `fanout` tool check tables with them.
pub fn contract_limits(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<ContractLimits, ConfigError> {
    let defaults = ContractLimits::default();
    Ok(ContractLimits {
        analytics_max_payload: parse(
            get,
            "FANOUT_ANALYTICS_MAX_PAYLOAD",
            defaults.analytics_max_payload,
            1..=16 * 1024 * 1024,
        )?,
        allow_reserved_topics: parse(
            get,
            "FANOUT_ALLOW_RESERVED_TOPICS",
            defaults.allow_reserved_topics,
            false..=true,
        )?,
    })
}

/// EMF metrics are on by default in Lambda (where CloudWatch reads them from the log stream)
/// and off elsewhere; `FANOUT_METRICS` (`emf` or `off`) overrides.
fn metrics_function(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    let function = get("AWS_LAMBDA_FUNCTION_NAME");
    match get("FANOUT_METRICS").as_deref().map(str::trim) {
        None => Ok(function),
        Some("off") => Ok(None),
        Some("emf") => Ok(Some(function.unwrap_or_else(|| "local".to_owned()))),
        Some(other) => Err(ConfigError::Invalid {
            var: "FANOUT_METRICS",
            rule: format!("must be `emf` or `off`, found `{other}`"),
        }),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn parse<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + std::fmt::Display,
{
    let Some(text) = get(var) else {
        return Ok(default);
    };
    let value: T = text.trim().parse().map_err(|_| ConfigError::Invalid {
        var,
        rule: format!(
            "must be a value from {} to {}, found `{text}`",
            range.start(),
            range.end()
        ),
    })?;
    if !range.contains(&value) {
        return Err(ConfigError::Invalid {
            var,
            rule: format!(
                "must be from {} to {}, found {value}",
                range.start(),
                range.end()
            ),
        });
    }
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const TABLE: &str = r#"{"routes": []}"#;

    #[test]
    fn defaults_are_the_local_outbox() {
        let c = config(&[("FANOUT_ROUTES", TABLE)]).unwrap();
        assert_eq!(c.sink, SinkChoice::Local);
        assert_eq!(c.outbox_dir, PathBuf::from("outbox"));
        assert_eq!(c.engine.retry, RetryPolicy::default());
        assert_eq!(c.engine.fleet_rate, None);
        assert_eq!(
            c.routes,
            RoutesConfig {
                source: RoutesSource::Inline(TABLE.to_owned()),
                ttl: Duration::from_secs(60)
            }
        );
    }

    #[test]
    fn routing_tables_come_from_s3_or_appconfig() {
        let c = config(&[
            ("FANOUT_ROUTES_URL", "s3://tables/prod/routes.json"),
            ("FANOUT_ROUTES_TTL", "0"),
        ])
        .unwrap();
        assert_eq!(
            c.routes,
            RoutesConfig {
                source: RoutesSource::S3 {
                    bucket: "tables".into(),
                    key: "prod/routes.json".into()
                },
                ttl: Duration::ZERO
            }
        );
        let c = config(&[
            ("FANOUT_ROUTES_URL", "appconfig://iot-fanout/prod/routes"),
            ("AWS_APPCONFIG_EXTENSION_HTTP_PORT", "2773"),
        ])
        .unwrap();
        assert!(matches!(
            c.routes.source,
            RoutesSource::AppConfig { port: 2773, .. }
        ));
    }

    #[test]
    fn reads_every_variable() {
        let c = config(&[
            ("FANOUT_ROUTES", TABLE),
            ("FANOUT_SINK", "aws"),
            ("FANOUT_OUTBOX_DIR", "/tmp/x"),
            ("FANOUT_MAX_ATTEMPTS", "6"),
            ("FANOUT_BACKOFF_BASE_MS", "10"),
            ("FANOUT_BACKOFF_MAX_MS", "100"),
            ("FANOUT_CONCURRENCY", "4"),
            ("FANOUT_DEADLINE_MARGIN_MS", "250"),
            ("FANOUT_FLEET_RATE", "50"),
            ("FANOUT_ALIBABA_RATE", "2.5"),
            ("FANOUT_ANALYTICS_MAX_PAYLOAD", "1000"),
            ("FANOUT_ALLOW_RESERVED_TOPICS", "true"),
        ])
        .unwrap();
        assert_eq!(c.sink, SinkChoice::Aws);
        assert_eq!(c.outbox_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.engine.retry.max_attempts, 6);
        assert_eq!(c.engine.retry.base_delay, Duration::from_millis(10));
        assert_eq!(c.engine.retry.max_delay, Duration::from_millis(100));
        assert_eq!(c.engine.concurrency, 4);
        assert_eq!(c.engine.safety_margin, Duration::from_millis(250));
        assert_eq!(c.engine.fleet_rate, Some(50.0));
        assert_eq!(c.engine.alibaba_rate, 2.5);
        assert_eq!(c.engine.limits.analytics_max_payload, 1000);
        assert!(c.engine.limits.allow_reserved_topics);
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "set FANOUT_ROUTES"),
            (
                &[("FANOUT_ROUTES", TABLE), ("FANOUT_ROUTES_FILE", "x")],
                "only one of",
            ),
            (
                &[("FANOUT_ROUTES", TABLE), ("FANOUT_SINK", "s3")],
                "FANOUT_SINK: must be `local` or `aws`, found `s3`",
            ),
            (
                &[("FANOUT_ROUTES", TABLE), ("FANOUT_MAX_ATTEMPTS", "0")],
                "FANOUT_MAX_ATTEMPTS: must be from 1 to 20, found 0",
            ),
            (
                &[("FANOUT_ROUTES", TABLE), ("FANOUT_CONCURRENCY", "many")],
                "FANOUT_CONCURRENCY: must be a value from 1 to 1024, found `many`",
            ),
            (
                &[
                    ("FANOUT_ROUTES", TABLE),
                    ("FANOUT_ROUTES_URL", "s3://b17/k"),
                ],
                "only one of",
            ),
            (
                &[("FANOUT_ROUTES_URL", "https://example.com/routes.json")],
                "FANOUT_ROUTES_URL: `https://example.com/routes.json`: must be s3://bucket/key or appconfig://",
            ),
            (
                &[("FANOUT_ROUTES", TABLE), ("FANOUT_ROUTES_TTL", "-1")],
                "FANOUT_ROUTES_TTL: must be a value from 0 to 86400",
            ),
            (
                &[("FANOUT_ROUTES", TABLE), ("FANOUT_ALIBABA_RATE", "60")],
                "FANOUT_ALIBABA_RATE: must be from 0.1 to 50, found 60",
            ),
            (
                &[("FANOUT_ROUTES", TABLE), ("FANOUT_METRICS", "prometheus")],
                "FANOUT_METRICS: must be `emf` or `off`",
            ),
            (
                &[
                    ("FANOUT_ROUTES", TABLE),
                    ("FANOUT_ERRORS_QUEUE_URL", "errors"),
                ],
                "FANOUT_ERRORS_QUEUE_URL: QueueUrl: must be",
            ),
        ];
        for (vars, expected) in cases {
            let err = config(vars).unwrap_err().to_string();
            assert!(err.contains(expected), "got `{err}`, wanted `{expected}`");
        }
    }

    #[test]
    fn the_deployments_error_queue_is_the_default_error_destination() {
        let url = "https://sqs.us-east-1.amazonaws.com/123456789012/fanout-errors";
        let c = config(&[("FANOUT_ROUTES", TABLE), ("FANOUT_ERRORS_QUEUE_URL", url)]).unwrap();
        let target = c.engine.default_errors.unwrap();
        assert_eq!(target.destination.to_string(), format!("sqs:{url}"));
        assert_eq!(
            config(&[("FANOUT_ROUTES", TABLE)])
                .unwrap()
                .engine
                .default_errors,
            None
        );
    }

    #[test]
    fn metrics_are_on_in_lambda_unless_turned_off() {
        let on = config(&[
            ("FANOUT_ROUTES", TABLE),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn-1"),
        ])
        .unwrap();
        assert_eq!(on.engine.metrics_function.as_deref(), Some("fn-1"));
        let off = config(&[
            ("FANOUT_ROUTES", TABLE),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn-1"),
            ("FANOUT_METRICS", "off"),
        ])
        .unwrap();
        assert_eq!(off.engine.metrics_function, None);
        let local = config(&[("FANOUT_ROUTES", TABLE)]).unwrap();
        assert_eq!(local.engine.metrics_function, None);
        let forced = config(&[("FANOUT_ROUTES", TABLE), ("FANOUT_METRICS", "emf")]).unwrap();
        assert_eq!(forced.engine.metrics_function.as_deref(), Some("local"));
    }
}
