//! Amazon Resource Names as the live destinations take them (Kinesis stream and EventBridge bus
//! ARNs): `arn:<partition>:<service>:<region>:<12-digit account>:<type>/<name>`.

use super::ContractError;
use crate::destination::Destination;

/// Partitions (aws, aws-cn, aws-us-gov, aws-iso-b, …) and regions are lowercase words and dashes.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The resource name of an ARN of `service` whose resource is `<kind>/<name>`, or why the ARN has
/// another shape. The name itself is the caller's to check.
pub(super) fn resource_name<'a>(
    dest: &Destination,
    field: &str,
    arn: &'a str,
    service: &str,
    kind: &str,
) -> Result<&'a str, ContractError> {
    let bad = |why: String| {
        ContractError::new(
            dest,
            field,
            format!(
                "an ARN must be arn:<partition>:{service}:<region>:<12-digit account id>:{kind}/<name>: {why}"
            ),
        )
    };
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(svc), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad(
            "it does not start with `arn:` and have six `:`-separated parts".to_owned(),
        ));
    };
    if !is_word(partition) {
        return Err(bad(
            "the partition (such as `aws`) must be lowercase letters, digits and `-`".to_owned(),
        ));
    }
    if svc != service {
        return Err(bad(format!("the service must be `{service}`")));
    }
    if !is_word(region) {
        return Err(bad(
            "the region (such as `eu-west-1`) must be lowercase letters, digits and `-`".to_owned(),
        ));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the account id must be 12 digits".to_owned()));
    }
    resource
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('/'))
        .ok_or_else(|| bad(format!("the resource must start with `{kind}/`")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        fn name(arn: &str) -> Result<&str, ContractError> {
            let d = Destination::Kinesis { stream: "s".into() };
            resource_name(&d, "StreamARN", arn, "kinesis", "stream")
        }
        assert_eq!(
            name("arn:aws:kinesis:eu-west-1:123456789012:stream/iot").unwrap(),
            "iot"
        );
        assert_eq!(
            name("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/a:b").unwrap(),
            "a:b"
        );
        for bad in [
            "arn:aws:kinesis:eu-west-1:123456789012",
            "arn:aws:sqs:eu-west-1:123456789012:stream/iot",
            "arn:AWS:kinesis:eu-west-1:123456789012:stream/iot",
            "arn:aws:kinesis::123456789012:stream/iot",
            "arn:aws:kinesis:eu-west-1:12345678901:stream/iot",
            "arn:aws:kinesis:eu-west-1:123456789012:table/iot",
            "urn:aws:kinesis:eu-west-1:123456789012:stream/iot",
        ] {
            let e = name(bad).unwrap_err();
            assert_eq!(e.field, "StreamARN", "{bad}");
            assert!(e.rule.starts_with("an ARN must be"), "{bad}: {e}");
        }
    }
}
