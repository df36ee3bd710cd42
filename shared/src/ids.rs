//! Deterministic downstream ids: the same source message and target always give the same id,
//! so a redelivered record is deduplicated downstream where the service supports it.

use sha2::{Digest, Sha256};

use crate::destination::Destination;

/// IoT Events Data messageId is the tightest of the three services we send ids to:
/// 1–64 characters of `[a-zA-Z0-9_-]` (IoT Analytics allows 128, SNS deduplication ids 128).
pub const MAX_LEN: usize = 64;
const HASH_HEX: usize = 16;
/// Characters of the message id kept in front of the hash.
const PREFIX_CHARS: usize = MAX_LEN - HASH_HEX - 1;

/// `<readable prefix of the message id>-<16 hex digits of SHA-256(message id, destination)>`.
///
/// The prefix keeps ids traceable in downstream logs; the hash keeps them unique when the
/// prefix had to be shortened or had characters replaced.
pub fn downstream_id(message_id: &str, destination: &Destination) -> String {
    let mut hasher = Sha256::new();
    hasher.update(message_id.as_bytes());
    hasher.update([0u8]);
    hasher.update(destination.kind().as_str().as_bytes());
    hasher.update([0u8]);
    hasher.update(destination.name().as_bytes());
    if let Destination::Shadow {
        shadow: Some(name), ..
    } = destination
    {
        hasher.update([0u8]);
        hasher.update(name.as_bytes());
    }
    let digest = hasher.finalize();

    let kept = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut id = String::with_capacity(MAX_LEN);
    match message_id.get(..PREFIX_CHARS.min(message_id.len())) {
        // Most ids are short and already made of allowed characters: copied whole.
        Some(prefix) if prefix.chars().all(kept) => id.push_str(prefix),
        _ => id.extend(
            message_id
                .chars()
                .take(PREFIX_CHARS)
                .map(|c| if kept(c) { c } else { '_' }),
        ),
    }
    id.push('-');
    for byte in digest.iter().take(HASH_HEX / 2) {
        // Lowercase, as `{:02x}` writes it.
        for nibble in [byte >> 4, byte & 0x0f] {
            id.push(char::from(if nibble < 10 {
                b'0' + nibble
            } else {
                b'a' + nibble - 10
            }));
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str) -> Destination {
        Destination::Analytics {
            channel: name.into(),
        }
    }

    #[test]
    fn same_inputs_same_id_and_valid_everywhere() {
        let a = downstream_id("m-0001", &channel("c"));
        assert_eq!(a, downstream_id("m-0001", &channel("c")));
        assert!(a.starts_with("m-0001-"));
        assert_ne!(a, downstream_id("m-0001", &channel("d")));
        assert_ne!(a, downstream_id("m-0002", &channel("c")));

        let long = "ü/".repeat(200);
        for id in [
            a,
            downstream_id(&long, &channel("c")),
            downstream_id("", &channel("c")),
        ] {
            assert!(!id.is_empty() && id.len() <= MAX_LEN, "{id}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{id}"
            );
        }
    }

    #[test]
    fn ids_are_stable_across_releases() {
        // SHA-256("m-0001\0analytics\0c"), first 8 bytes in lowercase hex: a redelivery after an
        // upgrade must produce the same id, or downstream deduplication breaks.
        assert_eq!(
            downstream_id("m-0001", &channel("c")),
            "m-0001-dd9faef9c870e1d3"
        );
    }

    proptest::proptest! {
        /// The readable prefix: the first 47 characters, each outside `[a-zA-Z0-9_-]` replaced
        /// by `_`, whichever way the id is copied.
        #[test]
        fn prefix_is_the_id_with_other_characters_replaced(id in "[a-z_:é-]{0,60}|[a-z0-9-]{40,60}") {
            let want: String = id
                .chars()
                .take(PREFIX_CHARS)
                .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
                .collect();
            let got = downstream_id(&id, &channel("c"));
            proptest::prop_assert_eq!(got.get(..got.len() - HASH_HEX - 1), Some(want.as_str()));
        }
    }

    #[test]
    fn replaced_characters_do_not_collide() {
        assert_ne!(
            downstream_id("a/b", &channel("c")),
            downstream_id("a:b", &channel("c"))
        );
    }
}
