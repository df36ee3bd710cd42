//! Which routes can match a message, found by its topic's first level instead of trying every
//! route: a route whose topic filters all start with a plain level (`site7/+/telemetry`) can
//! only match topics starting with that level. Routes without a topic filter, or with one
//! starting with `+` or `#`, are tried for every message. Each candidate still checks its whole
//! `match`; the index only skips routes that cannot match, and keeps table order. Routes that
//! share the same topic filters (many content rules on one topic) share one topic check per
//! message.

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub(super) struct TopicIndex {
    /// Routes (positions in the table, ascending) by the first level of their topic filters.
    by_first_level: HashMap<Box<str>, Vec<usize>>,
    /// Routes to try whatever the topic (ascending).
    everywhere: Vec<usize>,
    /// For each route whose topic filters another route also has: its slot in the per-message
    /// record of topic checks ([`TopicIndex::checks`]).
    shared: Vec<Option<usize>>,
    slots: usize,
}

impl TopicIndex {
    /// `filters` holds each route's topic filters, in table order (already checked).
    pub(super) fn new<'a>(filters: impl IntoIterator<Item = &'a [String]>) -> TopicIndex {
        let mut index = TopicIndex::default();
        let mut by_filters: HashMap<&[String], Vec<usize>> = HashMap::new();
        for (route, filters) in filters.into_iter().enumerate() {
            index.shared.push(None);
            if !filters.is_empty() {
                by_filters.entry(filters).or_default().push(route);
            }
            let levels: Option<Vec<&str>> = filters.iter().map(|f| first_level(f)).collect();
            match levels {
                Some(levels) if !levels.is_empty() => {
                    for level in levels {
                        match index.by_first_level.get_mut(level) {
                            Some(routes) if routes.last() == Some(&route) => {}
                            Some(routes) => routes.push(route),
                            None => {
                                index.by_first_level.insert(level.into(), vec![route]);
                            }
                        }
                    }
                }
                _ => index.everywhere.push(route),
            }
        }
        for routes in by_filters.into_values().filter(|routes| routes.len() > 1) {
            for route in routes {
                if let Some(slot) = index.shared.get_mut(route) {
                    *slot = Some(index.slots);
                }
            }
            index.slots += 1;
        }
        index
    }

    /// A fresh record of the topic checks made for one message, one place per shared filter set
    /// (empty, and unallocated, when no two routes share their filters).
    pub(super) fn checks(&self) -> Vec<Option<bool>> {
        vec![None; self.slots]
    }

    /// The route's topic check: recorded in `checks` when its filters are shared, so they are
    /// checked once per message.
    pub(super) fn topic_matches(
        &self,
        route: usize,
        checks: &mut [Option<bool>],
        check: impl FnOnce() -> bool,
    ) -> bool {
        match self
            .shared
            .get(route)
            .copied()
            .flatten()
            .and_then(|slot| checks.get_mut(slot))
        {
            Some(recorded) => *recorded.get_or_insert_with(check),
            None => check(),
        }
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
    super::topic::levels(topic).next().unwrap_or(topic)
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

    #[test]
    fn routes_with_the_same_filters_share_one_check() {
        let filters: Vec<Vec<String>> = [vec!["a/+"], vec!["a/+"], vec!["b"], vec![], vec!["a/+"]]
            .into_iter()
            .map(|fs| fs.into_iter().map(String::from).collect())
            .collect();
        let index = TopicIndex::new(filters.iter().map(Vec::as_slice));
        let mut checks = index.checks();
        assert_eq!(checks.len(), 1);
        let mut made = 0;
        for route in [0, 1, 4, 2, 2] {
            assert!(index.topic_matches(route, &mut checks, || {
                made += 1;
                true
            }));
        }
        assert_eq!(
            made, 3,
            "one check for routes 0, 1 and 4, one for each visit of route 2"
        );
    }
}
