//! Request bodies, the same for every endpoint: a JSON content type; `Content-Encoding` absent,
//! `identity` or `gzip` (decoded here); at most `FANOUT_HTTP_MAX_BYTES` both as received and as
//! decoded; UTF-8. API Gateway hands a binary body (a gzip one) over base64-encoded with
//! `isBase64Encoded`; lambda_http has already turned that back into bytes.

use std::borrow::Cow;
use std::io::Read as _;

use flate2::read::MultiGzDecoder;
use lambda_http::Request;
use lambda_http::http::header::{CONTENT_ENCODING, CONTENT_TYPE};

use crate::reply::{Refusal, quoted};

/// The content codings this function decodes, as an `Accept-Encoding` value.
const SUPPORTED_ENCODINGS: &str = "gzip, identity";

/// The body as JSON text, decoded; refusals say what to fix (400, 413 or 415).
pub(crate) fn json_text(req: &Request, max_bytes: usize) -> Result<Cow<'_, str>, Refusal> {
    check_content_type(req)?;
    let gzip = gzip_encoded(req)?;
    let received: &[u8] = req.body().as_ref();
    if received.len() > max_bytes {
        return Err(too_large(format!(
            "the body is {} bytes; this endpoint accepts at most {max_bytes} bytes (FANOUT_HTTP_MAX_BYTES)",
            received.len()
        )));
    }
    if received.is_empty() {
        return Err(empty());
    }
    let bytes = if gzip {
        Cow::Owned(gunzip(received, max_bytes)?)
    } else {
        Cow::Borrowed(received)
    };
    if bytes.is_empty() {
        return Err(empty());
    }
    let not_utf8 = || Refusal::new(400, "InvalidUtf8", "the request body is not UTF-8 text");
    match bytes {
        Cow::Borrowed(b) => std::str::from_utf8(b)
            .map(Cow::Borrowed)
            .map_err(|_| not_utf8()),
        Cow::Owned(b) => String::from_utf8(b).map(Cow::Owned).map_err(|_| not_utf8()),
    }
}

fn empty() -> Refusal {
    Refusal::new(
        400,
        "EmptyBody",
        "the request body is empty; send a JSON object",
    )
}

fn too_large(message: String) -> Refusal {
    Refusal::new(413, "PayloadTooLarge", message)
}

/// JSON bodies only: `application/json`, optionally with parameters, or any `+json` type.
fn check_content_type(req: &Request) -> Result<(), Refusal> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(Refusal::new(
            400,
            "UnsupportedContentType",
            format!(
                "Content-Type must be application/json, found {}",
                if ct.is_empty() {
                    "none".to_owned()
                } else {
                    quoted(ct)
                }
            ),
        ))
    }
}

/// Whether the body is gzip-compressed. `Content-Encoding` lists the codings applied, in order
/// (RFC 9110 §8.4); `identity` is no coding, `x-gzip` is `gzip` (§8.4.1.3). One gzip layer at
/// most: anything else answers 415 with the codings this function decodes.
fn gzip_encoded(req: &Request) -> Result<bool, Refusal> {
    let unsupported = || Refusal {
        accept_encoding: Some(SUPPORTED_ENCODINGS),
        ..Refusal::new(
            415,
            "UnsupportedContentEncoding",
            "Content-Encoding must be `identity` or `gzip` (one layer); send the body uncompressed or gzip-compressed once",
        )
    };
    let mut gzip = false;
    for value in req.headers().get_all(CONTENT_ENCODING) {
        let value = value.to_str().map_err(|_| unsupported())?;
        for coding in value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if coding.eq_ignore_ascii_case("identity") {
                continue;
            }
            let is_gzip =
                coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip");
            if !is_gzip || gzip {
                return Err(unsupported());
            }
            gzip = true;
        }
    }
    Ok(gzip)
}

/// Decompresses a gzip body, reading at most `max_bytes + 1` decoded bytes: a small body that
/// inflates to gigabytes (a decompression bomb) stops there and answers 413, using no more
/// memory than an uncompressed body at the limit would.
fn gunzip(compressed: &[u8], max_bytes: usize) -> Result<Vec<u8>, Refusal> {
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let mut decoded = Vec::new();
    // Concatenated gzip members are one stream (RFC 1952 §2.2), as `gzip -d` reads them.
    MultiGzDecoder::new(compressed)
        .take(limit)
        .read_to_end(&mut decoded)
        .map_err(|_| {
            Refusal::new(
                400,
                "InvalidGzip",
                "the body is not valid gzip data (Content-Encoding: gzip): it is truncated, corrupt or not compressed",
            )
        })?;
    if decoded.len() > max_bytes {
        return Err(too_large(format!(
            "the body decompresses to more than {max_bytes} bytes; this endpoint accepts at most {max_bytes} bytes after decoding (FANOUT_HTTP_MAX_BYTES)"
        )));
    }
    Ok(decoded)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use lambda_http::Body;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn request(encoding: Option<&str>, body: Vec<u8>) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("https://api.example.com/messages")
            .header("content-type", "application/json");
        if let Some(encoding) = encoding {
            builder = builder.header("content-encoding", encoding);
        }
        builder.body(Body::Binary(body)).unwrap()
    }

    fn read(encoding: Option<&str>, body: Vec<u8>, max: usize) -> Result<String, (u16, String)> {
        json_text(&request(encoding, body), max)
            .map(Cow::into_owned)
            .map_err(|r| (r.status, r.code.to_owned()))
    }

    #[test]
    fn gzip_bodies_are_decoded_in_every_spelling() {
        let text = r#"{"messages": []}"#;
        for encoding in ["gzip", "GZIP", "x-gzip", "identity, gzip", " gzip "] {
            assert_eq!(
                read(Some(encoding), gzip(text.as_bytes()), 100),
                Ok(text.to_owned()),
                "{encoding}"
            );
        }
        for encoding in [None, Some("identity"), Some("")] {
            assert_eq!(read(encoding, text.into(), 100), Ok(text.to_owned()));
        }
        // Two members, as `cat a.gz b.gz` makes: one stream.
        let mut two = gzip(b"{\"messages\": ");
        two.extend(gzip(b"[]}"));
        assert_eq!(read(Some("gzip"), two, 100), Ok(text.to_owned()));
    }

    #[test]
    fn other_codings_are_415_with_accept_encoding() {
        for encoding in ["br", "deflate", "gzip, gzip", "gzip, br", "compress"] {
            let refusal = json_text(&request(Some(encoding), b"{}".to_vec()), 100).unwrap_err();
            assert_eq!(
                (refusal.status, refusal.code, refusal.accept_encoding),
                (415, "UnsupportedContentEncoding", Some("gzip, identity")),
                "{encoding}"
            );
            assert!(refusal.message.contains("`identity` or `gzip`"));
        }
    }

    #[test]
    fn the_limit_applies_to_the_decoded_size() {
        let body = vec![b' '; 1000];
        assert!(
            read(
                Some("gzip"),
                gzip(&[b"{}".as_slice(), &body[..98]].concat()),
                100
            )
            .is_ok()
        );
        assert_eq!(
            read(
                Some("gzip"),
                gzip(&[b"{}".as_slice(), &body[..99]].concat()),
                100
            ),
            Err((413, "PayloadTooLarge".to_owned()))
        );
        // 64 MiB of zeros compress to about 64 KiB; reading stops at the limit.
        let bomb = gzip(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 100_000, "{}", bomb.len());
        assert_eq!(
            read(Some("gzip"), bomb, 1 << 20),
            Err((413, "PayloadTooLarge".to_owned()))
        );
        // The compressed size counts too.
        assert_eq!(
            read(None, vec![b' '; 101], 100),
            Err((413, "PayloadTooLarge".to_owned()))
        );
    }

    #[test]
    fn corrupt_gzip_is_400() {
        let good = gzip(b"{\"messages\": []}");
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff; // the length in the trailer no longer matches
        let cases = [
            b"{\"messages\": []}".to_vec(),
            good[..good.len() / 2].to_vec(),
            flipped,
            [good.as_slice(), b"trailing"].concat(),
        ];
        for body in cases {
            assert_eq!(
                read(Some("gzip"), body, 1000),
                Err((400, "InvalidGzip".to_owned()))
            );
        }
        assert_eq!(
            read(Some("gzip"), gzip(b""), 1000),
            Err((400, "EmptyBody".to_owned()))
        );
        assert_eq!(
            read(Some("gzip"), gzip(&[0xff, 0xfe]), 1000),
            Err((400, "InvalidUtf8".to_owned()))
        );
    }
}
