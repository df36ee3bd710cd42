//! `alibaba` targets: devices of a product on Alibaba Cloud IoT Platform, reached with BatchPub.
//! The device list is de-duplicated and cut into calls of at most 100 devices when a message is
//! rendered, each call a target of its own (250 devices: three calls).

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;

use super::super::template::{Extras, Slot, Template};
use super::{SpecError, no_message, render_err, spec_err};
use crate::destination::{AlibabaDevices, AlibabaParams, Destination, EntryParams};
use crate::message::Message;
use crate::validate::{self, ALIBABA_DEVICES_PER_CALL, ContractError, ContractLimits, NameSet};

/// Devices one `alibaba` target may list. Each call takes 100, and the account's 50 calls per
/// second are shared by everything that calls IoT Platform: 10,000 devices are 100 calls per
/// message, two seconds of the whole account's budget.
pub const MAX_ALIBABA_DEVICES: usize = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RawAlibaba {
    region: String,
    iot_instance_id: Option<String>,
    endpoint: Option<String>,
    product_key: String,
    devices: Vec<String>,
    topic_short_name: String,
    #[serde(default)]
    qos: u8,
    #[serde(default)]
    pub(super) ordered: bool,
}

/// An `alibaba` target with its templates parsed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct AlibabaSpec {
    region: Template,
    iot_instance_id: Option<Template>,
    /// A host name, never a template: it decides where the signed request goes.
    endpoint: Option<String>,
    product_key: Template,
    devices: Vec<Template>,
    topic_short_name: Template,
    qos: u8,
}

/// The table's name for a field of BatchPub named in a contract error.
fn table_field(api_field: &str) -> &str {
    match api_field {
        "ProductKey" => "productKey",
        "DeviceName" => "devices",
        "TopicShortName" => "topicShortName",
        "IotInstanceId" => "iotInstanceId",
        "Qos" => "qos",
        other => other,
    }
}

fn located(field: &str, e: ContractError) -> SpecError {
    spec_err(field, format!("{}: {}", e.field, e.rule))
}

/// A contract error located at the table field that holds BatchPub's field.
fn at_its_field(e: ContractError) -> SpecError {
    let field = table_field(&e.field).to_owned();
    located(&field, e)
}

impl AlibabaSpec {
    pub(super) fn parse(raw: RawAlibaba) -> Result<AlibabaSpec, SpecError> {
        let t = |field: &str, text: &str, slot: Slot| {
            Template::parse(text, &[], slot).map_err(|e| spec_err(field, e))
        };
        let count = raw.devices.len();
        if count == 0 || count > MAX_ALIBABA_DEVICES {
            return Err(spec_err(
                "devices",
                format!(
                    "lists {count} devices; an alibaba target takes 1 to {MAX_ALIBABA_DEVICES} ({ALIBABA_DEVICES_PER_CALL} per BatchPub call)"
                ),
            ));
        }
        if raw.qos > 1 {
            return Err(spec_err(
                "qos",
                format!("must be 0 or 1 (BatchPub's Qos), is {}", raw.qos),
            ));
        }
        let mut seen = HashSet::with_capacity(count);
        if let Some(i) = raw.devices.iter().position(|d| !seen.insert(d.as_str())) {
            return Err(spec_err(
                &format!("devices[{i}]"),
                "repeats an earlier device: BatchPub's device names must be unique",
            ));
        }
        Ok(AlibabaSpec {
            region: t("region", &raw.region, Slot::Name(NameSet::Region))?,
            iot_instance_id: raw
                .iot_instance_id
                .map(|id| t("iotInstanceId", &id, Slot::Name(NameSet::InstanceId)))
                .transpose()?,
            endpoint: raw.endpoint,
            product_key: t(
                "productKey",
                &raw.product_key,
                Slot::Name(NameSet::ProductKey),
            )?,
            devices: raw
                .devices
                .iter()
                .enumerate()
                .map(|(i, d)| t(&format!("devices[{i}]"), d, Slot::Name(NameSet::DeviceName)))
                .collect::<Result<_, _>>()?,
            topic_short_name: t("topicShortName", &raw.topic_short_name, Slot::Topic)?,
            qos: raw.qos,
        })
    }

    /// Whether rendering reads the message.
    pub(super) fn reads_message(&self) -> bool {
        self.region.reads_message()
            || self
                .iot_instance_id
                .as_ref()
                .is_some_and(Template::reads_message)
            || self.product_key.reads_message()
            || self.topic_short_name.reads_message()
            || self.devices.iter().any(Template::reads_message)
    }

    /// Holds every literal to the rules each message's rendered values meet; a target with no
    /// template is rendered and checked whole, call by call.
    pub(super) fn check_literals(&self, limits: &ContractLimits) -> Result<(), SpecError> {
        const HERE: &str = "the routing table";
        validate::check_alibaba_literals(
            HERE,
            self.region.as_literal(),
            self.iot_instance_id.as_ref().and_then(Template::as_literal),
            self.endpoint.as_deref(),
        )
        .map_err(at_its_field)?;
        if let Some(key) = self.product_key.as_literal() {
            validate::check_product_key(HERE, key).map_err(|e| located("productKey", e))?;
        }
        for (i, device) in self.devices.iter().enumerate() {
            if let Some(name) = device.as_literal() {
                validate::check_device_name(HERE, name)
                    .map_err(|e| located(&format!("devices[{i}]"), e))?;
            }
        }
        if !self.reads_message() {
            let mut calls = Vec::new();
            self.render(&no_message(), &mut |d, _| calls.push(d))?;
            for call in &calls {
                validate::check_destination(call, limits).map_err(at_its_field)?;
            }
        }
        Ok(())
    }

    /// Renders the target for one message: one BatchPub call per 100 distinct devices, in the
    /// order the table lists them.
    pub(super) fn render(
        &self,
        msg: &Message,
        push: &mut dyn FnMut(Destination, EntryParams),
    ) -> Result<(), SpecError> {
        let none = Extras::default();
        let render =
            |field: &str, t: &Template| t.render(msg, &none).map_err(|e| render_err(field, e));
        let region = render("region", &self.region)?;
        let iot_instance_id = self
            .iot_instance_id
            .as_ref()
            .map(|t| render("iotInstanceId", t))
            .transpose()?;
        let product_key = render("productKey", &self.product_key)?;
        let topic_short_name = render("topicShortName", &self.topic_short_name)?;
        let mut seen = HashSet::with_capacity(self.devices.len());
        let mut devices = Vec::with_capacity(self.devices.len());
        for (i, template) in self.devices.iter().enumerate() {
            let device = render(&format!("devices[{i}]"), template)?;
            // A value from the message may name a device the table lists too: it is sent once.
            if !seen.contains(&device) {
                seen.insert(device.clone());
                devices.push(device);
            }
        }
        for chunk in devices.chunks(ALIBABA_DEVICES_PER_CALL) {
            push(
                Destination::Alibaba(Arc::new(AlibabaDevices {
                    region: region.clone(),
                    iot_instance_id: iot_instance_id.clone(),
                    endpoint: self.endpoint.clone(),
                    product_key: product_key.clone(),
                    topic_short_name: topic_short_name.clone(),
                    devices: chunk.to_vec(),
                })),
                EntryParams::Alibaba(AlibabaParams { qos: self.qos }),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{Value, json};

    use super::super::TargetSpec;
    use super::*;
    use crate::destination::Target;

    fn parse(v: Value) -> Result<TargetSpec, SpecError> {
        TargetSpec::parse(&v, false, &ContractLimits::default())
    }

    fn render(spec: &TargetSpec, msg: &str) -> Result<Vec<Target>, SpecError> {
        let msg = Message::decode(msg, None).unwrap();
        let mut out = Vec::new();
        spec.render(&msg, &Arc::from("r"), &mut out)?;
        Ok(out)
    }

    fn devices(t: &Target) -> &AlibabaDevices {
        match &t.destination {
            Destination::Alibaba(d) => d,
            other => panic!("{other}"),
        }
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("dev-{i:03}")).collect()
    }

    #[test]
    fn two_hundred_fifty_devices_are_three_calls() {
        let spec = parse(
            json!({"type": "alibaba", "region": "cn-shanghai", "productKey": "a1BwAGV",
            "devices": names(250), "topicShortName": "get", "qos": 1}),
        )
        .unwrap();
        let targets = render(&spec, r#"{"id": "m", "payload": 1}"#).unwrap();
        let sizes: Vec<usize> = targets.iter().map(|t| devices(t).devices.len()).collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(devices(&targets[0]).devices[0], "dev-001");
        assert_eq!(devices(&targets[2]).devices[49], "dev-250");
        assert_eq!(
            targets[0].params,
            EntryParams::Alibaba(AlibabaParams { qos: 1 })
        );
        assert_eq!(
            targets[0].destination.to_string(),
            "alibaba:cn-shanghai/a1BwAGV/get"
        );
        assert_eq!(devices(&targets[0]).host(), "iot.cn-shanghai.aliyuncs.com");
    }

    #[test]
    fn templates_fill_their_own_slots_and_duplicates_are_sent_once() {
        let spec = parse(json!({"type": "alibaba", "region": "${attributes.region}", "iotInstanceId": "iot-${attributes.inst}",
            "endpoint": "iot-06z00ax1o4qq0ts.iot.cn-shanghai.aliyuncs.com",
            "productKey": "${attributes.pk}", "devices": ["dev-1", "${attributes.dev}"], "topicShortName": "cmd/${topic(2)}"}))
        .unwrap();
        let t = render(&spec, r#"{"id": "m", "topic": "a/reboot", "attributes": {"region": "ap-southeast-1", "inst": "06z00ax1o4qq0ts", "pk": "a1B", "dev": "dev-1"}, "payload": 1}"#).unwrap();
        assert_eq!(t.len(), 1);
        let d = devices(&t[0]);
        assert_eq!(d.devices, ["dev-1"]);
        assert_eq!(
            (
                d.region.as_str(),
                d.iot_instance_id.as_deref(),
                d.product_key.as_str(),
                d.topic_short_name.as_str()
            ),
            (
                "ap-southeast-1",
                Some("iot-06z00ax1o4qq0ts"),
                "a1B",
                "cmd/reboot"
            )
        );
        assert_eq!(d.host(), "iot-06z00ax1o4qq0ts.iot.cn-shanghai.aliyuncs.com");
        // A value cannot leave the part of the name it fills.
        for (attributes, field) in [
            (
                r#"{"region": "cn.evil.com", "inst": "x", "pk": "a1B", "dev": "dev-2"}"#,
                "region",
            ),
            (
                r#"{"region": "cn", "inst": "x/y", "pk": "a1B", "dev": "dev-2"}"#,
                "iotInstanceId",
            ),
            (
                r#"{"region": "cn", "inst": "x", "pk": "a1B", "dev": "dev/2"}"#,
                "devices[1]",
            ),
        ] {
            let e = render(
                &spec,
                &format!(
                    r#"{{"id": "m", "topic": "a/b", "attributes": {attributes}, "payload": 1}}"#
                ),
            )
            .unwrap_err();
            assert_eq!(e.field, field, "{e:?}");
        }
        let e = render(&spec, r#"{"id": "m", "topic": "a/$SYS", "attributes": {"region": "cn", "inst": "x", "pk": "a1B", "dev": "dev-2"}, "payload": 1}"#).unwrap_err();
        assert_eq!(e.field, "topicShortName");
    }

    #[test]
    fn table_errors_name_the_field() {
        let base = || json!({"type": "alibaba", "region": "cn-shanghai", "productKey": "a1BwAGV", "devices": ["dev-1"], "topicShortName": "get"});
        let with = |key: &str, value: Value| {
            let mut v = base();
            v[key] = value;
            parse(v).unwrap_err()
        };
        let cases = [
            (with("devices", json!([])), "devices", "0 devices"),
            (
                with("devices", json!(names(10_001))),
                "devices",
                "10001 devices",
            ),
            (
                with("devices", json!(["dev-1", "dev-2", "dev-1"])),
                "devices[2]",
                "unique",
            ),
            (with("devices", json!(["dev"])), "devices[0]", "4 to 32"),
            (with("qos", json!(2)), "qos", "0 or 1"),
            (
                with("productKey", json!("a1B-x")),
                "productKey",
                "character 4",
            ),
            (
                with("region", json!("cn_shanghai")),
                "region",
                "character 3",
            ),
            (
                with("iotInstanceId", json!("iot cn")),
                "iotInstanceId",
                "character 4",
            ),
            (
                with("endpoint", json!("iot.example.com")),
                "endpoint",
                "aliyuncs.com",
            ),
            (
                with("endpoint", json!("${attributes.host}")),
                "endpoint",
                "DNS host name",
            ),
            (
                with("topicShortName", json!("a/b/c/d/e")),
                "topicShortName",
                "limit of 7",
            ),
            (
                with("topicShortName", json!("get/#")),
                "topicShortName",
                "wildcard",
            ),
            (
                with("messageContent", json!("x")),
                "messageContent",
                "unknown field",
            ),
        ];
        for (e, field, rule) in cases {
            assert_eq!(e.field, field, "{e:?}");
            assert!(e.reason.contains(rule), "{e:?}");
        }
        assert!(parse(base()).is_ok());
    }

    #[test]
    fn targets_are_labelled_by_their_place_in_the_table() {
        let specs = super::super::super::parse_targets(
            "r",
            &[json!({"type": "alibaba", "region": "cn-shanghai", "productKey": "a1BwAGV", "devices": ["dev-1"], "topicShortName": "get"})],
            false,
            &ContractLimits::default(),
            &super::super::Redirect::default(),
        )
        .unwrap();
        let t = render(&specs[0], r#"{"id": "m", "payload": 1}"#).unwrap();
        assert_eq!(t[0].label(), "route \"r\" target 1 (alibaba)");
    }
}
