//! Settings of the HTTP function, read once at cold start; every error names its variable.

use fanout::explicit::AllowList;

/// API Gateway and Lambda cap a synchronous request at 6 MB including the event envelope;
/// 5 MiB of body leaves room for the rest.
pub(crate) const DEFAULT_MAX_BYTES: usize = 5 * 1024 * 1024;
/// API Gateway HTTP APIs stop waiting after 30 s; 500 messages of 4 targets each send well within it.
pub(crate) const DEFAULT_MAX_MESSAGES: usize = 500;

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_messages: usize,
    pub max_bytes: usize,
    /// Destinations a message may name itself; empty: explicit targets are refused.
    pub allowed_targets: AllowList,
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {rule}")]
pub struct SettingsError {
    pub var: &'static str,
    pub rule: String,
}

impl fanout::lambda_init::LambdaError for SettingsError {
    fn error_type(&self) -> &'static str {
        "Fanout.ConfigError"
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_messages: DEFAULT_MAX_MESSAGES,
            max_bytes: DEFAULT_MAX_BYTES,
            allowed_targets: AllowList::default(),
        }
    }
}

impl HttpSettings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let number =
            |var: &'static str, default: usize, max: usize| -> Result<usize, SettingsError> {
                match get(var).filter(|v| !v.trim().is_empty()) {
                    None => Ok(default),
                    Some(v) => v
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=max).contains(n))
                        .ok_or_else(|| SettingsError {
                            var,
                            rule: format!("must be a whole number from 1 to {max}, found `{v}`"),
                        }),
                }
            };
        let allowed_targets =
            match get("FANOUT_HTTP_ALLOWED_TARGETS").filter(|v| !v.trim().is_empty()) {
                None => AllowList::default(),
                Some(json) => AllowList::parse(&json).map_err(|rule| SettingsError {
                    var: "FANOUT_HTTP_ALLOWED_TARGETS",
                    rule,
                })?,
            };
        Ok(HttpSettings {
            max_messages: number("FANOUT_HTTP_MAX_MESSAGES", DEFAULT_MAX_MESSAGES, 100_000)?,
            max_bytes: number("FANOUT_HTTP_MAX_BYTES", DEFAULT_MAX_BYTES, 6 * 1024 * 1024)?,
            allowed_targets,
        })
    }
}
