//! Where the routing table comes from: inline (`FANOUT_ROUTES`), a file (`FANOUT_ROUTES_FILE`),
//! an S3 object or AWS AppConfig (`FANOUT_ROUTES_URL`), and the version each load carries. A
//! table is read and fully checked at cold start; S3 and AppConfig tables are re-read on a TTL
//! by [`LiveTable`].

mod appconfig;
mod live;
mod s3;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use sha2::{Digest, Sha256};

use crate::routes::{RoutingTable, TableError};
use crate::validate::ContractLimits;

pub use appconfig::DEFAULT_PORT as APPCONFIG_DEFAULT_PORT;
pub use live::{LiveTable, Reload};

/// The most bytes read for one table. A table of 10,000 routes is about 1.3 MB and a job to
/// 100,000 devices 1.6 MB (BENCHMARKS.md); parsing needs several times the text in memory, so a
/// far larger object is refused before it is read rather than risk the function's memory.
pub const MAX_TABLE_BYTES: usize = 16 * 1024 * 1024;

/// Reading a remote table gives up after this long. Lambda allows a function's init 10 s
/// (<https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html>), so a
/// source that does not answer fails the init with its own message, not Lambda's timeout.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the table is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutesSource {
    /// The table itself (`FANOUT_ROUTES`).
    Inline(String),
    /// A path (`FANOUT_ROUTES_FILE`).
    File(PathBuf),
    /// `s3://bucket/key`.
    S3 { bucket: String, key: String },
    /// `appconfig://application/environment/profile`, read from the AWS AppConfig Agent Lambda
    /// extension on `localhost:port`.
    AppConfig {
        application: String,
        environment: String,
        profile: String,
        port: u16,
    },
}

/// The source and how often a function looks for a new version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutesConfig {
    pub source: RoutesSource,
    /// Re-read a remote source at most this often; zero reads it once, at cold start.
    pub ttl: Duration,
}

/// A routing table as loaded, with the version that names it in reports, logs and metrics.
#[derive(Debug)]
pub struct LoadedTable {
    pub table: RoutingTable,
    /// The S3 object's ETag, the AppConfig configuration version, or `sha256:` and 16 hex digits
    /// of the text (inline and file tables). `None` for a table built in code.
    pub version: Option<Arc<str>>,
}

/// Why a table could not be loaded. The caller names the variable or file it came from.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {from}: {reason}")]
    Read {
        from: String,
        reason: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("bad routing table{at}: {error}")]
    Table {
        /// Where a remote table came from and its version (` at s3://b/k version …`); empty
        /// for inline and file tables, whose variable already says it.
        at: String,
        #[source]
        error: TableError,
    },
}

/// What a read found.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// The version asked about is still current (S3 answered 304 Not Modified, or AppConfig
    /// serves the same configuration version).
    Unchanged,
    New {
        text: String,
        version: String,
    },
}

impl RoutesSource {
    /// Parses `FANOUT_ROUTES_URL`: `s3://bucket/key` or `appconfig://application/environment/profile`
    /// (names or ids); the error is the rule the value breaks.
    pub fn from_url(url: &str, appconfig_port: u16) -> Result<RoutesSource, String> {
        let url = url.trim();
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
            if !s3::is_bucket_name(bucket) {
                return Err(format!(
                    "`{url}`: the bucket must be 3 to 63 characters of a-z 0-9 . - (s3://bucket/key)"
                ));
            }
            if key.is_empty() {
                return Err(format!("`{url}`: name the object: s3://bucket/key"));
            }
            return Ok(RoutesSource::S3 {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            });
        }
        if let Some(rest) = url.strip_prefix("appconfig://") {
            let parts: Vec<&str> = rest.split('/').collect();
            let [application, environment, profile] = parts.as_slice() else {
                return Err(format!(
                    "`{url}`: expected appconfig://application/environment/profile"
                ));
            };
            let ok = |part: &str| {
                !part.is_empty() && part.len() <= 128 && !part.chars().any(char::is_control)
            };
            if ![application, environment, profile].iter().all(|p| ok(p)) {
                return Err(format!(
                    "`{url}`: application, environment and profile must each be 1 to 128 characters (names or ids)"
                ));
            }
            return Ok(RoutesSource::AppConfig {
                application: (*application).to_owned(),
                environment: (*environment).to_owned(),
                profile: (*profile).to_owned(),
                port: appconfig_port,
            });
        }
        Err(format!(
            "`{url}`: must be s3://bucket/key or appconfig://application/environment/profile"
        ))
    }

    /// A path, or a URL as in `FANOUT_ROUTES_URL` (what `fanout check` and friends accept).
    pub fn from_argument(argument: &str, appconfig_port: u16) -> Result<RoutesSource, String> {
        if argument.contains("://") {
            RoutesSource::from_url(argument, appconfig_port)
        } else {
            Ok(RoutesSource::File(PathBuf::from(argument)))
        }
    }

    /// The variable a function reads this source from.
    pub fn variable(&self) -> &'static str {
        match self {
            RoutesSource::Inline(_) => "FANOUT_ROUTES",
            RoutesSource::File(_) => "FANOUT_ROUTES_FILE",
            RoutesSource::S3 { .. } | RoutesSource::AppConfig { .. } => "FANOUT_ROUTES_URL",
        }
    }

    /// Whether reading it needs the AWS SDK configuration (region, credentials).
    pub fn needs_aws(&self) -> bool {
        matches!(self, RoutesSource::S3 { .. })
    }

    /// Whether a new version can appear while a function runs: the deployment package and the
    /// environment cannot change under it.
    pub fn is_remote(&self) -> bool {
        matches!(
            self,
            RoutesSource::S3 { .. } | RoutesSource::AppConfig { .. }
        )
    }
}

impl fmt::Display for RoutesSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoutesSource::Inline(_) => f.write_str("FANOUT_ROUTES"),
            RoutesSource::File(path) => write!(f, "{}", path.display()),
            RoutesSource::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            RoutesSource::AppConfig {
                application,
                environment,
                profile,
                ..
            } => write!(f, "appconfig://{application}/{environment}/{profile}"),
        }
    }
}

/// Reads one source: the text and its version, or that the version asked about is current.
#[derive(Debug)]
pub(crate) enum Fetcher {
    Inline(String),
    File(PathBuf),
    /// Boxed: the signed client is far larger than the other sources.
    S3(Box<s3::S3Object>),
    AppConfig(appconfig::Agent),
}

impl Fetcher {
    /// `sdk` is needed for S3 only; without it the standard AWS configuration is loaded.
    pub(crate) async fn new(source: &RoutesSource, sdk: Option<&SdkConfig>) -> Fetcher {
        match source {
            RoutesSource::Inline(text) => Fetcher::Inline(text.clone()),
            RoutesSource::File(path) => Fetcher::File(path.clone()),
            RoutesSource::S3 { bucket, key } => Fetcher::S3(Box::new(match sdk {
                Some(sdk) => s3::S3Object::new(sdk, bucket, key),
                None => s3::S3Object::new(&crate::sink::aws::load_sdk_config().await, bucket, key),
            })),
            RoutesSource::AppConfig {
                application,
                environment,
                profile,
                port,
            } => Fetcher::AppConfig(appconfig::Agent::new(
                *port,
                application,
                environment,
                profile,
            )),
        }
    }

    /// Reads the table unless `seen` is still its current version.
    pub(crate) async fn fetch(&self, seen: Option<&str>) -> Result<Fetched, LoadError> {
        match self {
            Fetcher::Inline(text) => Ok(Fetched::New {
                version: content_version(text),
                text: text.clone(),
            }),
            Fetcher::File(path) => {
                let read = |e: std::io::Error| LoadError::Read {
                    from: path.display().to_string(),
                    reason: e.to_string(),
                    source: Some(Box::new(e)),
                };
                let size = std::fs::metadata(path).map_err(read)?.len();
                if size > MAX_TABLE_BYTES as u64 {
                    return Err(too_large(&path.display().to_string(), size));
                }
                let text = std::fs::read_to_string(path).map_err(read)?;
                Ok(Fetched::New {
                    version: content_version(&text),
                    text,
                })
            }
            Fetcher::S3(object) => object.fetch(seen).await,
            Fetcher::AppConfig(agent) => agent.fetch(seen).await,
        }
    }
}

/// Reads and checks a table once: what every function does at cold start, and what `fanout
/// check` does.
pub async fn load_once(
    source: &RoutesSource,
    limits: &ContractLimits,
    sdk: Option<&SdkConfig>,
) -> Result<LoadedTable, LoadError> {
    first_load(source, &Fetcher::new(source, sdk).await, limits).await
}

/// The first read of a source: the text, parsed and fully checked.
pub(crate) async fn first_load(
    source: &RoutesSource,
    fetcher: &Fetcher,
    limits: &ContractLimits,
) -> Result<LoadedTable, LoadError> {
    let (text, version) = match fetcher.fetch(None).await? {
        Fetched::New { text, version } => (text, version),
        // Only a read that names a version can find it unchanged.
        Fetched::Unchanged => {
            return Err(LoadError::Read {
                from: source.to_string(),
                reason: "the source answered \"not modified\" to a first read".to_owned(),
                source: None,
            });
        }
    };
    let table = RoutingTable::from_json(&text, limits).map_err(|error| LoadError::Table {
        at: remote_at(source, &version),
        error,
    })?;
    Ok(LoadedTable {
        table,
        version: Some(Arc::from(version)),
    })
}

/// ` at s3://b/k version v` for a remote source; empty otherwise.
fn remote_at(source: &RoutesSource, version: &str) -> String {
    if source.is_remote() {
        format!(" at {source} version {version}")
    } else {
        String::new()
    }
}

/// `sha256:` and the first 16 hex digits of the text's SHA-256: enough to tell two tables apart
/// in a log line.
pub fn content_version(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

pub(crate) fn too_large(from: &str, bytes: u64) -> LoadError {
    LoadError::Read {
        from: from.to_owned(),
        reason: format!(
            "it is {bytes} bytes; a routing table may be at most {MAX_TABLE_BYTES} bytes (16 MiB)"
        ),
        source: None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_s3_objects_and_appconfig_profiles() {
        assert_eq!(
            RoutesSource::from_url("s3://my-bucket/tables/routes.json", 2772),
            Ok(RoutesSource::S3 {
                bucket: "my-bucket".into(),
                key: "tables/routes.json".into()
            })
        );
        assert_eq!(
            RoutesSource::from_url("appconfig://iot-fanout/prod/routing-table", 2773),
            Ok(RoutesSource::AppConfig {
                application: "iot-fanout".into(),
                environment: "prod".into(),
                profile: "routing-table".into(),
                port: 2773
            })
        );
        for (bad, rule) in [
            ("s3://my-bucket", "name the object"),
            ("s3://my-bucket/", "name the object"),
            ("s3://My_Bucket/k", "the bucket must be"),
            ("s3://ab/k", "the bucket must be"),
            ("appconfig://app/env", "expected appconfig://"),
            ("appconfig://app//profile", "1 to 128 characters"),
            ("appconfig://a/b/c/d", "expected appconfig://"),
            ("https://example.com/routes.json", "must be s3://"),
        ] {
            let err = RoutesSource::from_url(bad, 2772).unwrap_err();
            assert!(err.contains(rule), "{bad}: {err}");
        }
        assert_eq!(
            RoutesSource::from_argument("events/routes.json", 2772),
            Ok(RoutesSource::File("events/routes.json".into()))
        );
        assert_eq!(
            RoutesSource::from_url("appconfig://a/b/c", 2772)
                .unwrap()
                .to_string(),
            "appconfig://a/b/c"
        );
    }

    #[test]
    fn versions_of_inline_and_file_tables_are_content_hashes() {
        let a = content_version(r#"{"routes": []}"#);
        assert!(a.starts_with("sha256:") && a.len() == 7 + 16, "{a}");
        assert_eq!(a, content_version(r#"{"routes": []}"#));
        assert_ne!(a, content_version(r#"{"routes": [] }"#));
    }

    #[tokio::test]
    async fn files_and_inline_tables_load_with_their_checks() {
        let limits = ContractLimits::default();
        let inline = RoutesSource::Inline(r#"{"routes": []}"#.into());
        let loaded = load_once(&inline, &limits, None).await.unwrap();
        assert_eq!(
            loaded.version.as_deref(),
            Some(content_version(r#"{"routes": []}"#).as_str())
        );
        let missing = RoutesSource::File("/nonexistent/routes.json".into());
        let err = load_once(&missing, &limits, None).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read /nonexistent/routes.json: "),
            "{err}"
        );
        let bad = RoutesSource::Inline("{".into());
        let err = load_once(&bad, &limits, None).await.unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad routing table: routing table: EOF"),
            "{err}"
        );
    }
}
