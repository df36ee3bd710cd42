//! Explicit targets: a caller names destinations itself, only from a configured allow-list.

use serde_json::value::RawValue;

use crate::destination::{Destination, Kind, Target};
use crate::message::Message;
use crate::routes::{Routed, RoutingTable};
use crate::validate::ContractLimits;

/// Targets a caller named carry this route name in outcomes and logs.
pub const EXPLICIT_ROUTE: &str = "explicit";

/// Destinations a caller may name: `kind:name`, where a name ending in `*` is a prefix.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<(Kind, String, bool)>,
}

impl AllowList {
    /// Parses a JSON array such as `["sns:arn:aws:sns:us-east-1:123456789012:alerts", "mqtt:devices/*"]`.
    pub fn parse(json: &str) -> Result<AllowList, String> {
        let items: Vec<String> = serde_json::from_str(json)
            .map_err(|e| format!("must be a JSON array of \"kind:name\" strings: {e}"))?;
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let (kind, name) = item
                .split_once(':')
                .ok_or_else(|| format!("`{item}` must be \"kind:name\""))?;
            let kind = Kind::ALL
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| {
                    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                    format!(
                        "`{item}`: unknown kind `{kind}` (one of {})",
                        kinds.join(", ")
                    )
                })?;
            let (name, prefix) = match name.strip_suffix('*') {
                Some(p) => (p, true),
                None => (name, false),
            };
            if name.is_empty() && !prefix {
                return Err(format!("`{item}`: empty name"));
            }
            entries.push((kind, name.to_owned(), prefix));
        }
        Ok(AllowList { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn allows(&self, destination: &Destination) -> bool {
        let kind = destination.kind();
        let name = match destination {
            Destination::Shadow {
                thing,
                shadow: Some(s),
            } => format!("{thing}/{s}"),
            Destination::Alibaba(devices) => devices.path(),
            other => other.name().to_owned(),
        };
        self.entries.iter().any(|(k, pattern, prefix)| {
            *k == kind
                && if *prefix {
                    name.starts_with(pattern.as_str())
                } else {
                    name == *pattern
                }
        })
    }

    /// Renders a message's own `targets` (the routing table's target syntax) and checks each
    /// against the list. The error says which target is refused and why.
    pub fn explicit_targets(
        &self,
        targets: &RawValue,
        msg: &Message,
        limits: &ContractLimits,
    ) -> Result<Vec<Target>, String> {
        if self.is_empty() {
            return Err(
                "explicit targets are not enabled on this endpoint (FANOUT_HTTP_ALLOWED_TARGETS is empty)"
                    .to_owned(),
            );
        }
        let specs: Vec<serde_json::Value> = serde_json::from_str(targets.get())
            .map_err(|_| "must be an array of targets".to_owned())?;
        let table =
            RoutingTable::single(EXPLICIT_ROUTE, &specs, limits).map_err(|e| e.to_string())?;
        let targets = match table.route(msg).map_err(|e| e.to_string())? {
            Routed::Targets(t) => t,
            Routed::Dropped | Routed::Rejected => Vec::new(),
        };
        if let Some(refused) = targets.iter().find(|t| !self.allows(&t.destination)) {
            return Err(format!(
                "{} is not on this endpoint's allow-list",
                refused.destination
            ));
        }
        Ok(targets)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_prefix_entries() {
        let list = AllowList::parse(r#"["mqtt:devices/*", "sns:arn:aws:sns:us-east-1:123456789012:a", "shadow:pump-1/config"]"#).unwrap();
        assert!(list.allows(&Destination::Mqtt {
            topic: "devices/x".into()
        }));
        assert!(!list.allows(&Destination::Mqtt {
            topic: "other/x".into()
        }));
        assert!(
            !list.allows(&Destination::Fleet {
                topic: "devices/x".into()
            }),
            "kind must match"
        );
        assert!(list.allows(&Destination::Sns {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:a".into()
        }));
        assert!(!list.allows(&Destination::Sns {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:ab".into()
        }));
        assert!(list.allows(&Destination::Shadow {
            thing: "pump-1".into(),
            shadow: Some("config".into())
        }));
        assert!(!list.allows(&Destination::Shadow {
            thing: "pump-1".into(),
            shadow: None
        }));
    }

    #[test]
    fn alibaba_devices_are_named_by_region_product_and_topic() {
        let list = AllowList::parse(r#"["alibaba:cn-shanghai/a1BwAGV/*"]"#).unwrap();
        let devices = |region: &str, product_key: &str| {
            Destination::Alibaba(std::sync::Arc::new(crate::destination::AlibabaDevices {
                region: region.into(),
                product_key: product_key.into(),
                ..crate::validate::testing::alibaba(&["dev-1"])
            }))
        };
        assert!(list.allows(&devices("cn-shanghai", "a1BwAGV")));
        assert!(!list.allows(&devices("cn-shanghai", "a1Other")));
        assert!(!list.allows(&devices("ap-southeast-1", "a1BwAGV")));
    }

    #[test]
    fn parse_errors_name_the_entry() {
        assert!(AllowList::parse("{}").unwrap_err().contains("JSON array"));
        assert!(
            AllowList::parse(r#"["s3:bucket"]"#)
                .unwrap_err()
                .contains("unknown kind `s3`")
        );
        assert!(
            AllowList::parse(r#"["nocolon"]"#)
                .unwrap_err()
                .contains("must be \"kind:name\"")
        );
    }

    #[test]
    fn explicit_targets_need_the_list() {
        let msg = Message::decode(r#"{"id": "a", "payload": 1}"#, None).unwrap();
        let raw: Box<RawValue> =
            serde_json::from_str(r#"[{"type": "mqtt", "topic": "devices/a"}]"#).unwrap();
        let err = AllowList::default()
            .explicit_targets(&raw, &msg, &ContractLimits::default())
            .unwrap_err();
        assert!(err.contains("not enabled"));
        let list = AllowList::parse(r#"["mqtt:devices/*"]"#).unwrap();
        let targets = list
            .explicit_targets(&raw, &msg, &ContractLimits::default())
            .unwrap();
        assert_eq!(targets.len(), 1);
        let raw: Box<RawValue> =
            serde_json::from_str(r#"[{"type": "mqtt", "topic": "admin/a"}]"#).unwrap();
        assert!(
            list.explicit_targets(&raw, &msg, &ContractLimits::default())
                .unwrap_err()
                .contains("mqtt:admin/a is not on")
        );
    }
}
