//! An entry's body: the bytes a call sends for it, shared by every entry of a message that sends
//! them as they are, with the two forms request bodies write them in (a JSON string, base64) made
//! once for all of those entries.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// The body bytes of one or more entries. Cloning shares them.
#[derive(Clone)]
pub struct Body(Arc<Shared>);

struct Shared {
    content: Content,
    /// The text as a JSON string literal, quotes included.
    json_string: OnceLock<Vec<u8>>,
    /// The bytes in standard base64, without quotes.
    base64: OnceLock<Vec<u8>>,
}

enum Content {
    /// Known to be UTF-8 (a JSON payload, base64 text): read as text without a second check.
    Text(Arc<str>),
    Bytes(Arc<[u8]>),
    /// Made for one entry (a Firehose record, an EventBridge Detail).
    Owned(Vec<u8>),
}

impl Body {
    fn new(content: Content) -> Self {
        Body(Arc::new(Shared {
            content,
            json_string: OnceLock::new(),
            base64: OnceLock::new(),
        }))
    }

    /// The body as UTF-8 text, when it is.
    pub fn text(&self) -> Option<&str> {
        match &self.0.content {
            Content::Text(text) => Some(text),
            Content::Bytes(bytes) => std::str::from_utf8(bytes).ok(),
            Content::Owned(bytes) => std::str::from_utf8(bytes).ok(),
        }
    }

    /// Whether other entries hold this body too: a form of it made for one of them is kept for
    /// the others. A body only one entry holds is written straight into its request instead,
    /// since keeping a copy would cost an allocation and a copy for nothing.
    pub(crate) fn is_shared(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }

    /// The JSON string form, made by `make` the first time.
    pub(crate) fn json_string(&self, make: impl FnOnce() -> Vec<u8>) -> &[u8] {
        self.0.json_string.get_or_init(make)
    }

    /// The base64 form, made by `make` the first time.
    pub(crate) fn base64(&self, make: impl FnOnce() -> Vec<u8>) -> &[u8] {
        self.0.base64.get_or_init(make)
    }
}

impl Deref for Body {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0.content {
            Content::Text(text) => text.as_bytes(),
            Content::Bytes(bytes) => bytes,
            Content::Owned(bytes) => bytes,
        }
    }
}

/// For request bodies that borrow the bytes without a copy (`Bytes::from_owner`).
impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

/// Bodies are message payloads: a log line names their size, never their bytes.
impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} bytes)", self.len())
    }
}

impl From<Arc<str>> for Body {
    fn from(text: Arc<str>) -> Self {
        Body::new(Content::Text(text))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::new(Content::Owned(text.into_bytes()))
    }
}

impl From<Arc<[u8]>> for Body {
    fn from(bytes: Arc<[u8]>) -> Self {
        Body::new(Content::Bytes(bytes))
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::new(Content::Owned(bytes))
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Self {
        Body::from(Arc::<[u8]>::from(bytes))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_as_text_and_bytes_are_checked() {
        assert_eq!(
            Body::from(String::from("{\"a\":1}")).text(),
            Some("{\"a\":1}")
        );
        assert_eq!(Body::from(&b"plain"[..]).text(), Some("plain"));
        assert_eq!(Body::from(vec![0xff, 0x00]).text(), None);
        assert_eq!(&*Body::from(vec![0xff, 0x00]), &[0xff, 0x00]);
    }

    #[test]
    fn forms_are_made_once_and_shared_by_clones() {
        let body = Body::from(String::from("x"));
        assert!(!body.is_shared());
        let other = body.clone();
        assert!(body.is_shared());
        let mut made = 0;
        for b in [&body, &other, &body] {
            assert_eq!(
                b.base64(|| {
                    made += 1;
                    b"eA==".to_vec()
                }),
                b"eA=="
            );
        }
        assert_eq!(made, 1);
    }

    #[test]
    fn debug_names_the_size_not_the_bytes() {
        assert_eq!(
            format!("{:?}", Body::from(String::from("secret"))),
            "Body(6 bytes)"
        );
    }
}
