//! `wildcard` values: `*` matches any run of characters (none included), `\*` is a literal `*`
//! and `\\` a literal `\`; any other escape, a trailing `\` and `**` are refused, as EventBridge
//! refuses them ("Wildcard matching" in
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html>).
//!
//! Matching is linear in the value: the literal parts between the stars are found left to right.

use std::collections::HashSet;

/// A checked wildcard: the literal parts between its stars (one more part than stars).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Wildcard {
    parts: Vec<String>,
}

/// How many places in a wildcard one value may be at once, at most. EventBridge refuses
/// patterns it finds too complex without publishing its measure; its documented example of one,
/// `*:*:*:*:*:event-bus/*`, reaches 13 places, and the patterns it accepts in its examples
/// (`/Users/*/dir/dir/dir/dir/dir/doc.txt`, 8) stay below 12.
const MAX_PLACES: usize = 12;
/// Distinct sets of places explored before a wildcard counts as too complex; keeps the check
/// bounded for the longest values a 4,096-character pattern can hold.
const MAX_STATES: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Char(char),
    Star,
}

impl Wildcard {
    pub(super) fn parse(text: &str) -> Result<Wildcard, String> {
        let mut items = Vec::with_capacity(text.len());
        let mut chars = text.chars().enumerate().peekable();
        while let Some((at, c)) = chars.next() {
            let position = at + 1;
            match c {
                '*' if matches!(chars.peek(), Some((_, '*'))) => {
                    return Err(format!(
                        "`wildcard`: consecutive `*` at character {position} (one `*` already matches any run of characters)"
                    ));
                }
                '*' => items.push(Item::Star),
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => items.push(Item::Char(escaped)),
                    _ => {
                        return Err(format!(
                            "`wildcard`: the `\\` at character {position} must be followed by `*` or `\\` (the only escapes)"
                        ));
                    }
                },
                c => items.push(Item::Char(c)),
            }
        }
        if places(&items).is_none_or(|places| places > MAX_PLACES) {
            return Err(
                "`wildcard`: the pattern is too complex; use fewer `*`, or fewer repeated character sequences after a `*` (EventBridge refuses such patterns)"
                    .to_owned(),
            );
        }
        let mut parts = vec![String::new()];
        for item in items {
            match (item, parts.last_mut()) {
                (Item::Char(c), Some(part)) => part.push(c),
                _ => parts.push(String::new()),
            }
        }
        Ok(Wildcard { parts })
    }

    pub(super) fn matches(&self, value: &str) -> bool {
        let [first, middle @ .., last] = self.parts.as_slice() else {
            return self.parts.first().is_some_and(|only| only == value);
        };
        if value.len() < first.len() + last.len()
            || !value.starts_with(first.as_str())
            || !value.ends_with(last.as_str())
        {
            return false;
        }
        let Some(mut rest) = value.get(first.len()..value.len() - last.len()) else {
            return false;
        };
        for part in middle {
            match rest
                .find(part.as_str())
                .and_then(|at| rest.get(at + part.len()..))
            {
                Some(after) => rest = after,
                None => return false,
            }
        }
        true
    }
}

/// The most places (positions in `items`, the end included) one input can occupy at once, by
/// exploring the sets of places the input's characters lead to; the first count above
/// [`MAX_PLACES`] is enough, and `None` past [`MAX_STATES`] sets.
fn places(items: &[Item]) -> Option<usize> {
    let close = |set: &mut Vec<usize>| {
        let mut i = 0;
        while let Some(&place) = set.get(i) {
            if items.get(place) == Some(&Item::Star) && !set.contains(&(place + 1)) {
                set.push(place + 1);
            }
            i += 1;
        }
        set.sort_unstable();
    };
    // Characters that move a place forward, and one that moves none (any other character).
    let mut alphabet: Vec<Option<char>> = items
        .iter()
        .filter_map(|item| match item {
            Item::Char(c) => Some(Some(*c)),
            Item::Star => None,
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    alphabet.push(None);
    let mut start = vec![0];
    close(&mut start);
    let mut most = start.len();
    let mut seen = HashSet::from([start.clone()]);
    let mut todo = vec![start];
    while let Some(set) = todo.pop() {
        for input in &alphabet {
            let mut next: Vec<usize> = Vec::new();
            for &place in &set {
                let moved = match items.get(place) {
                    Some(Item::Star) => Some(place),
                    Some(Item::Char(c)) if Some(*c) == *input => Some(place + 1),
                    _ => None,
                };
                if let Some(moved) = moved.filter(|moved| !next.contains(moved)) {
                    next.push(moved);
                }
            }
            close(&mut next);
            if !next.is_empty() && !seen.contains(&next) {
                most = most.max(next.len());
                if most > MAX_PLACES {
                    // Already too many: no need to look further.
                    return Some(most);
                }
                if seen.len() >= MAX_STATES {
                    return None;
                }
                seen.insert(next.clone());
                todo.push(next);
            }
        }
    }
    Some(most)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn m(wildcard: &str, value: &str) -> bool {
        Wildcard::parse(wildcard).unwrap().matches(value)
    }

    #[test]
    fn stars_match_any_run() {
        assert!(m("Simple*Service", "SimpleQueueService"));
        assert!(m("Simple*Service", "SimpleService"));
        assert!(!m("Simple*Service", "SimpleServic"));
        assert!(m("*.png", ".png"));
        assert!(m("dir/*.png", "dir/a/b.png"));
        assert!(!m("dir/*.png", "other/dir/a.png"));
        assert!(m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "x"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"), "the parts do not overlap");
        assert!(m("*/bin/*.jar", "/usr/local/bin/x.jar"));
        assert!(m("/Users/*/doc.txt", "/Users/u/dir/dir/doc.txt"));
        assert!(!m("/Users/*/doc.txt", "/Users/u/dir/notmatchingdoc.txt2"));
        assert!(m("*ü*", "grün"));
    }

    #[test]
    fn escapes() {
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
        assert!(m(r"a\\*", r"a\xyz"));
        assert!(m(r"\**", "*anything"));
        for bad in [r"a\b", "a\\", "a**b", "**"] {
            assert!(Wildcard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn complexity() {
        let places = |w: &str| {
            let items: Vec<Item> = w
                .chars()
                .map(|c| if c == '*' { Item::Star } else { Item::Char(c) })
                .collect();
            places(&items).unwrap()
        };
        assert_eq!(places("*:*:*:*:*:event-bus/*"), 13);
        assert_eq!(places("/Users/*/dir/dir/dir/dir/dir/doc.txt"), 8);
        assert_eq!(places("arn:aws:events:us-east-1:*:event-bus/*"), 5);
        assert!(Wildcard::parse("*:*:*:*:*:event-bus/*").is_err());
        assert!(Wildcard::parse("arn:aws:events:us-east-1:*:event-bus/*").is_ok());
        assert!(Wildcard::parse("/Users/*/dir/dir/dir/dir/dir/doc.txt").is_ok());
        let long = format!("*a{}", "b".repeat(3000));
        assert!(Wildcard::parse(&long).is_ok(), "one star, long literal");
        let repeated = format!("*{}", "ab".repeat(1500));
        assert!(
            Wildcard::parse(&repeated).is_err(),
            "a sequence repeated after a star"
        );
    }
}
