//! Which routes can match a message, found by its topic's first level instead of trying every
//! route: a route whose topic filters all start with a plain level (`site7/+/telemetry`) can
//! only match topics starting with that level. Routes without a topic filter, or with one
//! starting with `+` or `#`, are tried for every message. Each candidate still checks its whole
//! `match`; the index only skips routes that cannot match, and keeps table order.

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub(super) struct TopicIndex {
    /// Routes (positions in the table, ascending) by the first level of their topic filters.
    by_first_level: HashMap<Box<str>, Vec<usize>>,
    /// Routes to try whatever the topic (ascending).
    everywhere: Vec<usize>,
}

impl TopicIndex {
    /// `filters` holds each route's topic filters, in table order (already checked).
    pub(super) fn new<'a>(filters: impl IntoIterator<Item = &'a [String]>) -> TopicIndex {
        let mut index = TopicIndex::default();
        for (route, filters) in filters.into_iter().enumerate() {
            let levels: Option<Vec<&str>> = filters.iter().map(|f| first_level(f)).collect();
            match levels {
                Some(levels) if !levels.is_empty() => {
                    for level in levels {
                        let routes = index.by_first_level.entry(level.into()).or_default();
                        if routes.last() != Some(&route) {
                            routes.push(route);
                        }
                    }
                }
                _ => index.everywhere.push(route),
            }
        }
        index
    }

    /// The routes that can match a message with this topic, in table order.
    pub(super) fn candidates(&self, topic: Option<&str>) -> Candidates<'_> {
        let by_level = topic
            .and_then(|topic| self.by_first_level.get(first_topic_level(topic)))
            .map_or(&[][..], Vec::as_slice);
        Candidates {
            everywhere: &self.everywhere,
            by_level,
        }
    }
}

/// A filter's first level when it is plain text (`+` and `#` match any first level).
fn first_level(filter: &str) -> Option<&str> {
    let level = first_topic_level(filter);
    (level != "+" && level != "#").then_some(level)
}

fn first_topic_level(topic: &str) -> &str {
    topic.split('/').next().unwrap_or(topic)
}

/// Two ascending lists of route positions merged into one, in table order.
#[derive(Debug)]
pub(super) struct Candidates<'a> {
    everywhere: &'a [usize],
    by_level: &'a [usize],
}

impl Iterator for Candidates<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let take_everywhere = match (self.everywhere.first(), self.by_level.first()) {
            (Some(a), Some(b)) => a < b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let list = if take_everywhere {
            &mut self.everywhere
        } else {
            &mut self.by_level
        };
        let (first, rest) = list.split_first()?;
        *list = rest;
        Some(*first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_keep_table_order_and_skip_other_first_levels() {
        let filters: Vec<Vec<String>> = [
            vec!["a/+/x"],
            vec![],
            vec!["b/#", "a/y"],
            vec!["+/z"],
            vec!["a", "a/#"],
            vec!["#"],
            vec!["c/d", "/lead"],
        ]
        .into_iter()
        .map(|fs| fs.into_iter().map(String::from).collect())
        .collect();
        let index = TopicIndex::new(filters.iter().map(Vec::as_slice));
        let of = |topic: Option<&str>| index.candidates(topic).collect::<Vec<_>>();
        assert_eq!(of(Some("a/1/x")), [0, 1, 2, 3, 4, 5]);
        assert_eq!(of(Some("b")), [1, 2, 3, 5]);
        assert_eq!(of(Some("zzz/q")), [1, 3, 5]);
        assert_eq!(of(Some("/lead")), [1, 3, 5, 6]);
        assert_eq!(of(None), [1, 3, 5]);
    }
}
