//! The local stand-in of Alibaba Cloud IoT Platform (`tests/fixtures/alibaba_iot_server.py`),
//! one process per test: it checks each BatchPub's signature with Alibaba's own Python SDK code,
//! answers as configured, and records every request it saw.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The AccessKey the stand-in expects unless a test says otherwise.
pub const KEY_ID: &str = "LTAI5tTestKeyId0001";
pub const KEY_SECRET: &str = "TestSecret0000000000000000000001";

/// A running stand-in; killed when dropped.
pub struct StandIn {
    child: Child,
    /// Its base URL, for `FANOUT_ALIBABA_ENDPOINT`.
    pub url: String,
    records: PathBuf,
    _dir: tempfile::TempDir,
}

/// The Python with Alibaba's SDK packages: `FANOUT_ALIBABA_PYTHON` (`make test` sets it), else
/// the virtual environment `make tools-alibaba` makes at the workspace root.
fn python() -> PathBuf {
    if let Ok(path) = std::env::var("FANOUT_ALIBABA_PYTHON")
        && !path.is_empty()
    {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/alibaba/bin/python");
    assert!(
        venv.exists(),
        "the Alibaba stand-in needs Alibaba's Python SDK: run `make tools-alibaba` (or set FANOUT_ALIBABA_PYTHON)"
    );
    venv
}

impl StandIn {
    /// Starts one with `config` (see the script's docstring); the AccessKey defaults to
    /// [`KEY_ID`] / [`KEY_SECRET`].
    pub fn start(mut config: Value) -> StandIn {
        if let Some(fields) = config.as_object_mut()
            && !fields.contains_key("access_key_id")
        {
            fields.insert("access_key_id".into(), KEY_ID.into());
            fields.insert("access_key_secret".into(), KEY_SECRET.into());
        }
        let dir = tempfile::tempdir().unwrap();
        let records = dir.path().join("records.jsonl");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/alibaba_iot_server.py"
        );
        let mut child = Command::new(python())
            .arg(script)
            .arg(config.to_string())
            .arg(&records)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the Alibaba stand-in's Python");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .expect("the stand-in's port (is Alibaba's SDK installed? `make tools-alibaba`)");
        StandIn {
            child,
            url: format!("http://127.0.0.1:{port}"),
            records,
            _dir: dir,
        }
    }

    /// Every request so far, in arrival order.
    pub fn records(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(&self.records).unwrap_or_default();
        let mut records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        records.sort_by(|a, b| a["time"].as_f64().partial_cmp(&b["time"].as_f64()).unwrap());
        records
    }

    /// The requests with this outcome.
    pub fn with_outcome(&self, outcome: &str) -> Vec<Value> {
        self.records()
            .into_iter()
            .filter(|r| r["outcome"] == outcome)
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
