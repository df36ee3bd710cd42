//! TEMP
use crate::destination::Target;
use crate::message::Message;
#[derive(Debug, Clone)] pub struct RoutingTable;
#[derive(Debug, thiserror::Error)] #[error("x")] pub struct TableError;
#[derive(Debug, thiserror::Error)] #[error("x")] pub struct RouteError;
#[derive(Debug)] pub enum Routed { Targets(Vec<Target>), Dropped, Rejected }
impl RoutingTable {
 pub fn from_json(_t: &str) -> Result<RoutingTable, TableError> { Ok(RoutingTable) }
 pub fn route(&self, _m: &Message) -> Result<Routed, RouteError> { Ok(Routed::Dropped) }
}
