//! An app on the local outbox for the functions' tests: `events/routes.json` as the routing
//! table, and the calls it records read back from a temporary folder.

use std::path::{Path, PathBuf};

use fanout::app::App;
use fanout::config::Config;
use serde_json::Value;

const ROUTES: &str = include_str!("../../../events/routes.json");

/// The app, and the folder its outbox writes to (removed when this is dropped).
pub struct LocalApp {
    pub app: App,
    pub outbox: PathBuf,
    pub dir: tempfile::TempDir,
}

pub async fn local_app() -> LocalApp {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let config = Config::from_lookup(|k| match k {
        "FANOUT_ROUTES" => Some(ROUTES.to_owned()),
        "FANOUT_OUTBOX_DIR" => Some(outbox.display().to_string()),
        _ => None,
    })
    .unwrap();
    LocalApp {
        app: App::from_config(config).await.unwrap(),
        outbox,
        dir,
    }
}

/// The outbox's lines: `{"kind", "destination", "request"}` per call made.
pub fn recorded_calls(outbox: &Path) -> Vec<Value> {
    std::fs::read_to_string(outbox.join(fanout::sink::outbox::FILE_NAME))
        .map(|t| {
            t.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        })
        .unwrap_or_default()
}
