//! Query parameters: each endpoint lists the ones it reads, and a parameter it does not know, or a
//! flag spelled any other way than `true`/`1` or `false`/`0`, is refused with 400. A typo
//! (`?dryrun=true`, `?dryRun=yes`) must never be read as "not a dry run" and send the messages.

use std::collections::BTreeMap;

use lambda_http::{Request, RequestExt};

use crate::reply::{Refusal, quoted};

/// The spellings of a flag's two values; anything else (another case, `yes`, no value) is refused.
const TRUE: [&str; 2] = ["true", "1"];
const FALSE: [&str; 2] = ["false", "0"];

/// The query parameters one endpoint accepts.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// Flags (`true`/`1` or `false`/`0`, given at most once).
    pub(crate) flags: &'static [&'static str],
    /// Parameters accepted for compatibility and not read (any value, any number of times).
    pub(crate) ignored: &'static [&'static str],
}

/// The flags of one request that were set to true.
#[derive(Debug, Default)]
pub(crate) struct Flags(Vec<&'static str>);

impl Flags {
    pub(crate) fn is_set(&self, flag: &str) -> bool {
        self.0.contains(&flag)
    }
}

/// Checks every query parameter of `req` against `accepted`. Parameter names are case-sensitive,
/// as in the URL; values are compared after percent-decoding.
pub(crate) fn read(req: &Request, accepted: &Accepted) -> Result<Flags, Refusal> {
    let Some(query) = req.query_string_parameters_ref() else {
        return Ok(Flags::default());
    };
    // Sorted, so that a request with several problems always gets the same answer.
    let mut params: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in query.iter() {
        params.entry(name).or_default().push(value);
    }
    let mut set = Flags::default();
    for (name, values) in params {
        if accepted.ignored.contains(&name) {
            continue;
        }
        let Some(flag) = accepted.flags.iter().find(|f| **f == name) else {
            return Err(invalid(format!(
                "unknown query parameter {}; {}",
                quoted(name),
                describe(accepted)
            )));
        };
        let value = match values.as_slice() {
            [value] => *value,
            _ => {
                return Err(invalid(format!(
                    "query parameter `{flag}` is given {} times; give it once",
                    values.len()
                )));
            }
        };
        if TRUE.contains(&value) {
            set.0.push(flag);
        } else if !FALSE.contains(&value) {
            // The value itself is not repeated: it is whatever the caller typed.
            return Err(invalid(format!(
                "query parameter `{flag}` must be `true` or `1` (on), or `false` or `0` (off){}",
                if value.is_empty() {
                    "; it was given no value"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(set)
}

fn invalid(message: String) -> Refusal {
    Refusal::new(400, "InvalidQueryParameter", message)
}

fn describe(accepted: &Accepted) -> String {
    let names = |list: &[&str]| {
        list.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (accepted.flags.is_empty(), accepted.ignored.is_empty()) {
        (true, true) => "this endpoint takes no query parameters".to_owned(),
        (false, true) => format!("this endpoint accepts {}", names(accepted.flags)),
        (true, false) => format!(
            "this endpoint reads none, and accepts and ignores {}",
            names(accepted.ignored)
        ),
        (false, false) => format!(
            "this endpoint accepts {}, and ignores {}",
            names(accepted.flags),
            names(accepted.ignored)
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use lambda_http::request::from_str;
    use serde_json::json;

    const MESSAGES: Accepted = Accepted {
        flags: &["dryRun"],
        ignored: &[],
    };

    fn request(raw_query: &str) -> Request {
        let event = json!({
            "version": "2.0", "rawPath": "/messages", "rawQueryString": raw_query, "headers": {},
            "requestContext": {"http": {"method": "POST", "path": "/messages"}, "stage": "$default"},
            "isBase64Encoded": false
        });
        from_str(&event.to_string()).unwrap()
    }

    fn dry_run(raw_query: &str) -> Result<bool, String> {
        read(&request(raw_query), &MESSAGES)
            .map(|f| f.is_set("dryRun"))
            .map_err(|r| r.message)
    }

    #[test]
    fn flags_take_exactly_the_documented_spellings() {
        for (query, expected) in [
            ("", false),
            ("dryRun=true", true),
            ("dryRun=1", true),
            ("dryRun=false", false),
            ("dryRun=0", false),
            ("dry%52un=tru%65", true),
        ] {
            assert_eq!(dry_run(query), Ok(expected), "{query}");
        }
        for query in [
            "dryRun=maybe",
            "dryRun=yes",
            "dryRun=TRUE",
            "dryRun=True",
            "dryRun=%20true",
            "dryRun",
            "dryRun=",
        ] {
            let error = dry_run(query).unwrap_err();
            assert!(
                error.starts_with("query parameter `dryRun` must be `true` or `1`"),
                "{query}: {error}"
            );
        }
        assert!(dry_run("dryRun").unwrap_err().ends_with("given no value"));
        assert_eq!(
            dry_run("dryRun=true&dryRun=false").unwrap_err(),
            "query parameter `dryRun` is given 2 times; give it once"
        );
        // API Gateway's own map joins repeated values with commas: not a spelling of a flag either.
        assert!(dry_run("dryRun=true,false").is_err());
    }

    #[test]
    fn unknown_parameters_are_named_with_the_accepted_ones() {
        assert_eq!(
            dry_run("dryrun=true").unwrap_err(),
            "unknown query parameter `dryrun`; this endpoint accepts `dryRun`"
        );
        let long = format!("{}=1", "x".repeat(65));
        let error = dry_run(&long).unwrap_err();
        assert!(error.contains("a name of 65 bytes, not shown"), "{error}");
        assert!(!error.contains("xxxxxxxx"));
        assert!(
            dry_run("a%0Ab=1")
                .unwrap_err()
                .contains("a name of 3 bytes, not shown")
        );
        let batch_pub = Accepted {
            flags: &[],
            ignored: &["Action", "Version"],
        };
        assert!(read(&request("Action=BatchPub&Version=2018-01-20"), &batch_pub).is_ok());
        assert_eq!(
            read(&request("Actoin=BatchPub"), &batch_pub)
                .unwrap_err()
                .message,
            "unknown query parameter `Actoin`; this endpoint reads none, and accepts and ignores `Action`, `Version`"
        );
    }
}
