//! The bytes a JSON string cannot hold raw (RFC 8259, section 7: `"`, `\` and the control
//! characters below U+0020), found eight at a time or with `memchr`. The decoder's fast scan
//! stops at them to find where a string ends; the outbox writer stops at them to escape them.

/// Bit 7 of each byte of a word: one bit per byte lane of a SWAR test.
const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// Flags (bit 7 of its lane) the bytes of `word` that need escaping in a JSON string: `"`, `\`
/// or a control character below U+0020 (RFC 8259, section 7). Lanes are bytes in memory order
/// (`word` is read little-endian). The lowest flagged lane is always a byte that needs escaping:
/// a subtraction only borrows into the lanes above a lane that matched, so lanes above the first
/// match may be flagged wrongly, never lanes below it.
fn escape_lanes(word: u64) -> u64 {
    let zero_lanes = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    below_space_lanes(word)
        | zero_lanes(word ^ (ONES * u64::from(b'"')))
        | zero_lanes(word ^ (ONES * u64::from(b'\\')))
}

/// Whether one byte needs escaping (the rule [`escape_lanes`] tests eight at a time).
pub(crate) fn needs_escape_byte(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Flags the lanes of `word` below U+0020 (the lowest flagged lane exactly, as in
/// [`escape_lanes`]; none when no lane is below it).
fn below_space_lanes(word: u64) -> u64 {
    word.wrapping_sub(ONES * 0x20) & !word & HIGH
}

/// Whether `bytes` hold a control character below U+0020, tested eight at a time.
fn has_control(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let below_space = (&mut words)
        .map(|w| u64::from_le_bytes(<[u8; 8]>::try_from(w).unwrap_or_default()))
        .fold(0, |lanes, word| lanes | below_space_lanes(word));
    below_space != 0 || words.remainder().iter().any(|&b| b < 0x20)
}

/// The position of the first byte from `from` on that needs escaping. Most runs are short (a key,
/// a number's neighbours): two words tested in place find their end. Past them, `memchr`'s vector
/// search finds the next `"` or `\` and the run before it is checked for control characters,
/// which took a third of the eight-at-a-time test's time on long strings.
#[inline]
pub(crate) fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    for at in [from, from + 8] {
        let Some(word) = bytes
            .get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        else {
            return next_escape_in_tail(bytes, at);
        };
        let lanes = escape_lanes(u64::from_le_bytes(word));
        if lanes != 0 {
            return Some(at + (lanes.trailing_zeros() / 8) as usize);
        }
    }
    next_escape_far(bytes, from + 16)
}

/// [`next_escape`] in the last few bytes, fewer than a word.
fn next_escape_in_tail(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    rest.iter()
        .position(|&b| needs_escape_byte(b))
        .map(|at| from + at)
}

/// [`next_escape`] past the first two words.
#[inline(never)]
fn next_escape_far(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let quote = memchr::memchr2(b'"', b'\\', rest).map_or(bytes.len(), |at| from + at);
    if has_control(bytes.get(from..quote)?) {
        next_escape_by_words(bytes, from)
    } else {
        (quote < bytes.len()).then_some(quote)
    }
}

/// [`next_escape`] eight bytes at a time.
fn next_escape_by_words(bytes: &[u8], mut from: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let lanes = <[u8; 8]>::try_from(chunk).map_or(0, |w| escape_lanes(u64::from_le_bytes(w)));
        if lanes != 0 {
            return Some(from + (lanes.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    next_escape_in_tail(bytes, from)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn control_characters_are_found_in_any_lane(
            bytes in proptest::collection::vec(
                prop_oneof![20 => 0x20u8..=0xff, 1 => 0u8..0x20, 1 => Just(b'"'), 1 => Just(b'\\')],
                0..120,
            ),
            from in 0usize..130,
        ) {
            prop_assert_eq!(has_control(&bytes), bytes.iter().any(|&b| b < 0x20));
            let first = bytes
                .iter()
                .skip(from)
                .position(|&b| needs_escape_byte(b))
                .map(|at| from + at);
            prop_assert_eq!(next_escape(&bytes, from), first);
        }
    }
}
