//! Alibaba Cloud IoT Platform `BatchPub`: the region and instance that pick the endpoint, the
//! product and its devices, the custom topic, QoS and the message, held to the fleet rules of
//! `publish.rs` (ProductKey, DeviceName, topic levels) and to BatchPub's own limits.

use std::fmt;

use super::publish::{check_device_name, check_product_key, check_topic};
use super::{ContractError, ContractLimits, NameSet, ascii_name, name_rule};
use crate::destination::{AlibabaDevices, AlibabaParams, Destination};
use crate::message::Payload;

/// "You can specify up to 100 device names in a single call" (BatchPub, API reference).
pub const MAX_DEVICES_PER_CALL: usize = 100;
/// "The maximum size of a message is 256 KB" (BatchPub, MessageContent), counted on the message
/// before its base64 encoding: IoT Platform decodes it and publishes the bytes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// A region id becomes one label of the API host name (`iot.<region>.aliyuncs.com`), and a DNS
/// label holds at most 63 characters (RFC 1035, 2.3.4).
const MAX_REGION_CHARS: usize = 63;
/// Instance ids are issued by the platform (`iot-cn-0pp1n8t****`, `iot-06z00ax1o4qq0ts`);
/// none is near this long, so a longer one is a typo or a hostile value.
const MAX_INSTANCE_ID_CHARS: usize = 64;
/// An endpoint the table names is a host under Alibaba Cloud's API domain: the signed request
/// and its credentials never go anywhere else.
const API_DOMAIN: &str = ".aliyuncs.com";
/// A DNS name holds at most 253 characters (RFC 1035, 2.3.4, without the final dot).
const MAX_HOST_CHARS: usize = 253;

/// Checks one message to one BatchPub call: the call's names, then QoS and the message.
pub(super) fn check(
    dest: &Destination,
    payload: &Payload,
    params: AlibabaParams,
) -> Result<(), ContractError> {
    if params.qos > 1 {
        return Err(ContractError::new(
            dest,
            "Qos",
            format!("must be 0 or 1, is {}", params.qos),
        ));
    }
    if payload.is_empty() {
        return Err(ContractError::new(
            dest,
            "MessageContent",
            "is empty: BatchPub needs a message to publish",
        ));
    }
    if payload.len() > MAX_MESSAGE_BYTES {
        return Err(ContractError::new(
            dest,
            "MessageContent",
            format!(
                "is {} bytes, over BatchPub's limit of {MAX_MESSAGE_BYTES} bytes (256 KB) for one message",
                payload.len()
            ),
        ));
    }
    Ok(())
}

/// Everything about the call but the message: where it goes and to which devices.
pub(super) fn check_devices(
    dest: &dyn fmt::Display,
    devices: &AlibabaDevices,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
    check_literals(
        dest,
        Some(&devices.region),
        devices.iot_instance_id.as_deref(),
        devices.endpoint.as_deref(),
    )?;
    check_product_key(dest, &devices.product_key)?;
    let count = devices.devices.len();
    if !(1..=MAX_DEVICES_PER_CALL).contains(&count) {
        return Err(ContractError::new(
            dest,
            "DeviceName",
            format!("lists {count} devices; one BatchPub call takes 1 to {MAX_DEVICES_PER_CALL}"),
        ));
    }
    for (i, device) in devices.devices.iter().enumerate() {
        check_device_name(dest, device)?;
        if devices.devices.iter().take(i).any(|d| d == device) {
            return Err(ContractError::new(
                dest,
                "DeviceName",
                format!(
                    "device {} is listed twice; BatchPub's device names must be unique",
                    i + 1
                ),
            ));
        }
    }
    check_topic_short_name(dest, devices, limits)
}

/// The region, instance id and endpoint host, which the routing table may fix.
pub(super) fn check_literals(
    dest: &dyn fmt::Display,
    region: Option<&str>,
    iot_instance_id: Option<&str>,
    endpoint: Option<&str>,
) -> Result<(), ContractError> {
    if let Some(region) = region {
        ascii_name(region, MAX_REGION_CHARS, |b| NameSet::Region.allows(b)).map_err(|f| {
            ContractError::new(
                dest,
                "region",
                name_rule(f, MAX_REGION_CHARS, NameSet::Region.describe()),
            )
        })?;
        if region.starts_with('-') || region.ends_with('-') {
            return Err(ContractError::new(
                dest,
                "region",
                "must not start or end with `-`: it is a label of the API host name",
            ));
        }
    }
    if let Some(instance) = iot_instance_id {
        ascii_name(instance, MAX_INSTANCE_ID_CHARS, |b| {
            NameSet::InstanceId.allows(b)
        })
        .map_err(|f| {
            ContractError::new(
                dest,
                "IotInstanceId",
                name_rule(f, MAX_INSTANCE_ID_CHARS, NameSet::InstanceId.describe()),
            )
        })?;
    }
    if let Some(host) = endpoint {
        check_endpoint(dest, host)?;
    }
    Ok(())
}

/// An instance's own API endpoint: a host name under `aliyuncs.com`, without scheme or path.
fn check_endpoint(dest: &dyn fmt::Display, host: &str) -> Result<(), ContractError> {
    let bad = |rule: &str| {
        Err(ContractError::new(
            dest,
            "endpoint",
            format!(
                "{rule}: name the host of the instance's cloud API endpoint, such as iot.cn-shanghai.aliyuncs.com"
            ),
        ))
    };
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_REGION_CHARS
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    });
    if !labels_ok || host.len() > MAX_HOST_CHARS {
        return bad("must be a lowercase DNS host name");
    }
    if !host.ends_with(API_DOMAIN) {
        return bad("must be under aliyuncs.com, Alibaba Cloud's API domain");
    }
    Ok(())
}

/// The topic each device receives is `/${productKey}/${deviceName}/user/${TopicShortName}`
/// (BatchPub, TopicShortName): it follows the fleet's topic rules, checked with the call's
/// longest device name, and the short name fills whole levels of it.
fn check_topic_short_name(
    dest: &dyn fmt::Display,
    devices: &AlibabaDevices,
    limits: &ContractLimits,
) -> Result<(), ContractError> {
    let short = &devices.topic_short_name;
    if short.is_empty() || short.starts_with('/') || short.ends_with('/') || short.contains("//") {
        return Err(ContractError::new(
            dest,
            "TopicShortName",
            "must be one or more non-empty topic levels (`get`, `cmd/reboot`), with no leading, trailing or doubled `/`",
        ));
    }
    let longest = devices
        .devices
        .iter()
        .max_by_key(|d| d.len())
        .map_or("", String::as_str);
    let topic = format!("/{}/{longest}/user/{short}", devices.product_key);
    check_topic(dest, "TopicShortName", &topic, limits)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use super::super::testing::*;
    use super::super::{ContractLimits, check, check_destination};
    use super::*;
    use crate::destination::EntryParams;
    use crate::message::Message;

    fn fleet(devices: &[&str]) -> AlibabaDevices {
        alibaba(devices)
    }

    fn run(devices: AlibabaDevices, m: &Message, qos: u8) -> Result<(), ContractError> {
        check(
            m,
            &target(
                Destination::Alibaba(Arc::new(devices)),
                EntryParams::Alibaba(AlibabaParams { qos }),
            ),
            &ContractLimits::default(),
        )
    }

    #[test]
    fn a_batchpub_call_within_the_limits_passes() {
        assert_eq!(run(fleet(&["dev-1", "dev-2"]), &msg("1"), 1), Ok(()));
        let hundred: Vec<String> = (0..100).map(|i| format!("dev-{i:03}")).collect();
        let names: Vec<&str> = hundred.iter().map(String::as_str).collect();
        assert_eq!(
            run(fleet(&names), &raw_binary(MAX_MESSAGE_BYTES), 0),
            Ok(())
        );
        let with_instance = AlibabaDevices {
            iot_instance_id: Some("iot-cn-0pp1n8t".into()),
            endpoint: Some("iot-cn-0pp1n8t.iot.cn-shanghai.aliyuncs.com".into()),
            ..fleet(&["dev-1"])
        };
        assert_eq!(run(with_instance, &msg("1"), 0), Ok(()));
    }

    #[test]
    fn message_limits_are_batchpubs_own() {
        let e = run(fleet(&["dev-1"]), &raw_binary(MAX_MESSAGE_BYTES + 1), 0).unwrap_err();
        assert_eq!(e.field, "MessageContent");
        assert!(e.rule.contains("256 KB"), "{e}");
        // More than IoT Core's 128 KiB is fine here.
        assert_eq!(run(fleet(&["dev-1"]), &raw_sized(200 * 1024), 0), Ok(()));
        let e = run(fleet(&["dev-1"]), &binary(0), 0).unwrap_err();
        assert_eq!(e.field, "MessageContent");
        assert!(e.rule.contains("empty"), "{e}");
        assert_eq!(
            run(fleet(&["dev-1"]), &msg("1"), 2).unwrap_err().field,
            "Qos"
        );
    }

    #[test]
    fn devices_follow_the_fleet_rules_and_batchpubs_count() {
        let many: Vec<String> = (0..101).map(|i| format!("dev-{i:03}")).collect();
        let names: Vec<&str> = many.iter().map(String::as_str).collect();
        let cases: [(AlibabaDevices, &str, &str); 8] = [
            (fleet(&names), "DeviceName", "101 devices"),
            (fleet(&[]), "DeviceName", "0 devices"),
            (fleet(&["dev"]), "DeviceName", "4 to 32"),
            (fleet(&["dev/1"]), "DeviceName", "character 4"),
            (fleet(&["dev-1", "dev-1"]), "DeviceName", "twice"),
            (
                AlibabaDevices {
                    product_key: "a1B-x".into(),
                    ..fleet(&["dev-1"])
                },
                "ProductKey",
                "character 4",
            ),
            (
                AlibabaDevices {
                    topic_short_name: "a/b/c/d/e".into(),
                    ..fleet(&["dev-1"])
                },
                "TopicShortName",
                "over the AWS IoT limit of 7",
            ),
            (
                AlibabaDevices {
                    topic_short_name: "cmd/+".into(),
                    ..fleet(&["dev-1"])
                },
                "TopicShortName",
                "wildcards",
            ),
        ];
        for (devices, field, rule) in cases {
            let e = run(devices, &msg("1"), 0).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.rule.contains(rule), "{e}");
        }
        for short in ["", "/get", "get/", "a//b"] {
            let devices = AlibabaDevices {
                topic_short_name: short.into(),
                ..fleet(&["dev-1"])
            };
            assert_eq!(
                run(devices, &msg("1"), 0).unwrap_err().field,
                "TopicShortName",
                "{short:?}"
            );
        }
    }

    #[test]
    fn region_instance_and_endpoint_cannot_steer_the_host() {
        let l = ContractLimits::default();
        let with = |region: &str, instance: Option<&str>, endpoint: Option<&str>| {
            let d = AlibabaDevices {
                region: region.into(),
                iot_instance_id: instance.map(str::to_owned),
                endpoint: endpoint.map(str::to_owned),
                ..fleet(&["dev-1"])
            };
            check_destination(&Destination::Alibaba(Arc::new(d)), &l)
        };
        assert_eq!(
            with("ap-southeast-1", Some("iot-06z00ax1o4qq0ts"), None),
            Ok(())
        );
        for (region, field) in [
            ("cn-shanghai.evil.com", "region"),
            ("CN-SHANGHAI", "region"),
            ("-cn", "region"),
            ("", "region"),
        ] {
            assert_eq!(
                with(region, None, None).unwrap_err().field,
                field,
                "{region}"
            );
        }
        assert_eq!(
            with("cn-shanghai", Some("iot/x"), None).unwrap_err().field,
            "IotInstanceId"
        );
        for host in [
            "evil.example.com",
            "aliyuncs.com.evil.com",
            "https://iot.cn-shanghai.aliyuncs.com",
            "iot.cn-shanghai.aliyuncs.com/x",
            "iot..aliyuncs.com",
            "IOT.cn-shanghai.aliyuncs.com",
        ] {
            assert_eq!(
                with("cn-shanghai", None, Some(host)).unwrap_err().field,
                "endpoint",
                "{host}"
            );
        }
    }
}
