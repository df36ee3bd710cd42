//! TEMP
use std::borrow::Cow;
use crate::destination::Target;
use crate::message::{Message, Payload};
#[derive(Debug, Clone, Default)] pub struct ContractLimits { pub analytics_max_payload: usize, pub allow_reserved_topics: bool }
#[derive(Debug, thiserror::Error)] #[error("x")] pub struct ContractError;
pub fn check(_m: &Message, _t: &Target, _l: &ContractLimits) -> Result<(), ContractError> { Ok(()) }
pub fn sns_body(p: &Payload) -> Cow<'_, [u8]> { Cow::Borrowed(p.bytes()) }
