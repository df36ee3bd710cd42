//! A stand-in for the AWS AppConfig Agent Lambda extension's local HTTP API on 127.0.0.1, as
//! documented: `GET /applications/{application}/environments/{environment}/configurations/{configuration}`
//! answers 200 with the deployed configuration and its `Configuration-Version` header, and 404
//! with a `ResourceNotFoundException` text when nothing is deployed there. moto has no
//! AppConfig data plane, so the tests deploy versions here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

type Profile = (String, String, String);

#[derive(Debug, Default)]
struct Deployed {
    /// Per application, environment and profile: the version number and the content.
    configurations: HashMap<Profile, (u32, String)>,
    requests: usize,
}

#[derive(Debug)]
pub struct AppConfigAgent {
    pub port: u16,
    state: Arc<Mutex<Deployed>>,
    task: tokio::task::JoinHandle<()>,
}

impl AppConfigAgent {
    #[allow(clippy::expect_used)]
    pub async fn start() -> AppConfigAgent {
        let state = Arc::new(Mutex::new(Deployed::default()));
        let app = Router::new()
            .route(
                "/applications/{application}/environments/{environment}/configurations/{profile}",
                get(configuration),
            )
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        AppConfigAgent { port, state, task }
    }

    /// Deploys `content` as the profile's next version and returns its number.
    pub fn deploy(
        &self,
        application: &str,
        environment: &str,
        profile: &str,
        content: &str,
    ) -> u32 {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let key = (
            application.to_owned(),
            environment.to_owned(),
            profile.to_owned(),
        );
        let version = state.configurations.get(&key).map_or(1, |(v, _)| v + 1);
        state
            .configurations
            .insert(key, (version, content.to_owned()));
        version
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .requests
    }

    /// Stops listening: later requests find nothing on the port.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for AppConfigAgent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn configuration(
    State(state): State<Arc<Mutex<Deployed>>>,
    Path((application, environment, profile)): Path<Profile>,
) -> Response {
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    state.requests += 1;
    match state
        .configurations
        .get(&(application, environment, profile))
    {
        Some((version, content)) => (
            StatusCode::OK,
            [
                ("content-type", "application/json".to_owned()),
                ("configuration-version", version.to_string()),
            ],
            content.clone(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException: no configuration is deployed to this environment\n",
        )
            .into_response(),
    }
}
