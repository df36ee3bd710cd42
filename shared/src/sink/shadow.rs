//! Device shadow sink: `UpdateThingShadow`, one thing per call, classic or named shadow.
//! 409 Conflict (version mismatch) and 413 (document over 8 KiB) are final; 429 is retried.

use aws_sdk_iotdataplane::Client;
use aws_sdk_iotdataplane::primitives::Blob;
use futures::future::BoxFuture;

use super::aws::{Target, call_error, send_each, wrong_destination};
use super::{Call, CallError, CallReport, Entry, Sink};
use crate::destination::Destination;

#[derive(Debug, Clone)]
pub struct ShadowSink {
    client: Client,
}

impl ShadowSink {
    pub fn new(client: Client) -> Self {
        ShadowSink { client }
    }

    async fn update(
        &self,
        thing: &str,
        shadow: Option<&str>,
        entry: &Entry,
    ) -> Result<(), CallError> {
        self.client
            .update_thing_shadow()
            .thing_name(thing)
            .set_shadow_name(shadow.map(str::to_owned))
            .payload(Blob::new(entry.payload.to_vec()))
            .send()
            .await
            .map_err(|e| {
                call_error(
                    e,
                    Target {
                        action: "iot:UpdateThingShadow",
                        what: if shadow.is_some() {
                            "thing (named shadow)"
                        } else {
                            "thing"
                        },
                        name: thing,
                    },
                )
            })?;
        Ok(())
    }
}

impl Sink for ShadowSink {
    fn send<'a>(&'a self, call: &'a Call) -> BoxFuture<'a, Result<CallReport, CallError>> {
        Box::pin(async move {
            let Destination::Shadow { thing, shadow } = &call.destination else {
                return Err(wrong_destination("device shadow", call));
            };
            send_each(call, |entry| self.update(thing, shadow.as_deref(), entry)).await
        })
    }
}
