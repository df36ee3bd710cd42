//! Alibaba Cloud's V3 request signature, `ACS3-HMAC-SHA256`, the one the current official SDKs
//! sign RPC-style calls such as IoT Platform's BatchPub with (darabonba-openapi `doRequest`;
//! "Request syntax and signature method V3", Alibaba Cloud SDK reference):
//!
//! ```text
//! CanonicalRequest = METHOD \n "/" \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(SHA256(CanonicalRequest))
//! Authorization    = "ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<…>,Signature=<hex(HMAC-SHA256(secret, StringToSign))>"
//! ```

use hmac::{Hmac, KeyInit as _, Mac as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest as _, Sha256};

use super::credentials::AccessKey;

pub(super) const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Everything but the unreserved characters of RFC 3986 is percent-encoded, as the V3 method
/// asks of query names and values (UTF-8, `%XX` in upper case, space as `%20`, `~` kept).
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query name or value for the canonical query string (and the URL, which
/// carries the same text).
pub(super) fn encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODE).to_string()
}

/// `name=value` pairs sorted by name and joined with `&`, names and values encoded.
pub(super) fn canonical_query(parameters: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = parameters
        .iter()
        .map(|(name, value)| (encode(name), encode(value)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Lowercase hex of SHA-256: `x-acs-content-sha256` and the hashed canonical request.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        for nibble in [byte >> 4, byte & 0x0f] {
            out.extend(char::from_digit(u32::from(nibble), 16));
        }
    }
    out
}

/// The `Authorization` header for a request whose signed headers are `headers` (lowercase
/// names, each once; sorted here), whose canonical query string is `query` and whose body
/// hashes to `payload_sha256`.
pub(super) fn authorization(
    method: &str,
    query: &str,
    headers: &[(&str, &str)],
    payload_sha256: &str,
    key: &AccessKey,
) -> Result<String, hmac::digest::InvalidLength> {
    let mut headers = headers.to_vec();
    headers.sort_by_key(|&(name, _)| name);
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{}\n", value.trim()))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|&(name, _)| name)
        .collect::<Vec<_>>()
        .join(";");
    let canonical_request =
        format!("{method}\n/\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_sha256}");
    let string_to_sign = format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()));
    let mut mac = Hmac::<Sha256>::new_from_slice(key.secret().as_bytes())?;
    mac.update(string_to_sign.as_bytes());
    let signature = hex(&mac.finalize().into_bytes());
    Ok(format!(
        "{ALGORITHM} Credential={},SignedHeaders={signed_headers},Signature={signature}",
        key.id()
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_as_rfc_3986_asks() {
        assert_eq!(encode("aGVsbG8gd29ybGQ="), "aGVsbG8gd29ybGQ%3D");
        assert_eq!(encode("a+b/c d~e_f.g-h"), "a%2Bb%2Fc%20d~e_f.g-h");
        assert_eq!(encode("é"), "%C3%A9");
        let q = canonical_query(&[
            ("TopicShortName".into(), "get".into()),
            ("DeviceName.10".into(), "d10".into()),
            ("DeviceName.2".into(), "d2".into()),
            ("DeviceName.1".into(), "d1".into()),
        ]);
        // Sorted by byte value, as the SDKs sort: `DeviceName.10` before `DeviceName.2`.
        assert_eq!(
            q,
            "DeviceName.1=d1&DeviceName.10=d10&DeviceName.2=d2&TopicShortName=get"
        );
    }

    #[test]
    fn the_empty_body_hashes_to_sha256_of_nothing() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn authorization_names_the_key_and_the_sorted_signed_headers() {
        let key = AccessKey::new("AKIDEXAMPLE".into(), "secret".into(), None);
        let auth = authorization(
            "POST",
            "ProductKey=a1B",
            &[
                ("x-acs-date", "2026-01-02T03:04:05Z"),
                ("host", "iot.cn-shanghai.aliyuncs.com"),
            ],
            &sha256_hex(b""),
            &key,
        )
        .unwrap();
        let (head, signature) = auth.split_once(",Signature=").unwrap();
        assert_eq!(
            head,
            "ACS3-HMAC-SHA256 Credential=AKIDEXAMPLE,SignedHeaders=host;x-acs-date"
        );
        assert_eq!(signature.len(), 64);
        assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));
        // Any change to what is signed changes the signature.
        let other = authorization(
            "POST",
            "ProductKey=a1C",
            &[
                ("x-acs-date", "2026-01-02T03:04:05Z"),
                ("host", "iot.cn-shanghai.aliyuncs.com"),
            ],
            &sha256_hex(b""),
            &key,
        )
        .unwrap();
        assert_ne!(auth, other);
    }
}
