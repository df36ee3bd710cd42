//! MQTT topic filters (`+` one level, `#` the rest) matched against a message's `topic`.

/// A checked topic filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFilter {
    levels: Vec<Level>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Level {
    Exact(String),
    /// `+`: exactly one level.
    One,
    /// `#`: this level and every one after it, or none (`a/#` matches `a`).
    Rest,
}

impl TopicFilter {
    /// Parses a filter with the MQTT 3.1.1 rules (section 4.7): `+` and `#` fill a whole level,
    /// `#` only as the last one.
    pub fn parse(filter: &str) -> Result<TopicFilter, String> {
        if filter.is_empty() {
            return Err("a topic filter must not be empty".to_owned());
        }
        let parts: Vec<&str> = filter.split('/').collect();
        let last = parts.len() - 1;
        let mut levels = Vec::with_capacity(parts.len());
        for (i, part) in parts.into_iter().enumerate() {
            levels.push(match part {
                "+" => Level::One,
                "#" if i == last => Level::Rest,
                "#" => return Err(format!("`{filter}`: `#` is only allowed as the last level")),
                exact if exact.contains(['+', '#']) => {
                    return Err(format!(
                        "`{filter}`: `+` and `#` must fill a whole level (`a/+/b`, `a/#`)"
                    ));
                }
                exact => Level::Exact(exact.to_owned()),
            });
        }
        Ok(TopicFilter { levels })
    }

    pub fn matches(&self, topic: &str) -> bool {
        // MQTT 3.1.1 section 4.7.2: wildcards at the first level do not match topics starting with `$`.
        if topic.starts_with('$') && matches!(self.levels.first(), Some(Level::One | Level::Rest)) {
            return false;
        }
        let mut topic_levels = levels(topic);
        for level in &self.levels {
            match level {
                Level::Rest => return true,
                Level::One => {
                    if topic_levels.next().is_none() {
                        return false;
                    }
                }
                Level::Exact(want) => {
                    if topic_levels.next() != Some(want.as_str()) {
                        return false;
                    }
                }
            }
        }
        topic_levels.next().is_none()
    }
}

/// A topic's levels. Levels are short, and a byte-by-byte search for `/` finds each faster than
/// `str::split('/')`, which starts a `memchr` per level (BENCHMARKS.md, section 9).
pub(crate) fn levels(topic: &str) -> impl Iterator<Item = &str> {
    topic.split(['/'])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(filter: &str, topic: &str) -> bool {
        TopicFilter::parse(filter).unwrap().matches(topic)
    }

    #[test]
    fn mqtt_spec_examples() {
        assert!(m("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(m("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
        assert!(m(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(m("sport/#", "sport"));
        assert!(m("#", "anything/at/all"));
        assert!(m("sport/tennis/+", "sport/tennis/player1"));
        assert!(!m("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(m("sport/+", "sport/"));
        assert!(!m("sport/+", "sport"));
        assert!(m("+/+", "/finance"));
        assert!(m("/+", "/finance"));
        assert!(!m("+", "/finance"));
        assert!(!m("#", "$SYS/monitor"));
        assert!(!m("+/monitor", "$SYS/monitor"));
        assert!(m("$SYS/#", "$SYS/monitor"));
        assert!(m("a/b", "a/b"));
        assert!(!m("a/b", "a/b/c"));
        assert!(!m("a/b/c", "a/b"));
    }

    #[test]
    fn bad_filters() {
        assert!(TopicFilter::parse("").is_err());
        assert!(
            TopicFilter::parse("a/#/b")
                .unwrap_err()
                .contains("last level")
        );
        assert!(
            TopicFilter::parse("a/b+")
                .unwrap_err()
                .contains("whole level")
        );
        assert!(TopicFilter::parse("a#").is_err());
    }
}
