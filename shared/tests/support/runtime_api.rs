//! A stand-in for the Lambda Runtime API on 127.0.0.1, for the functions' tests: it starts a
//! function binary the way Lambda does (`AWS_LAMBDA_RUNTIME_API`), hands it queued events, and
//! records what the function posts back: its init error, or each invocation's response or error.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

/// One POST the function made.
#[derive(Debug, Clone)]
pub struct Post {
    /// `init/error`, `invocation/<id>/response` or `invocation/<id>/error`.
    pub path: String,
    /// `Lambda-Runtime-Function-Error-Type`, when sent.
    pub error_type: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct Runtime {
    events: VecDeque<Value>,
    served: usize,
    posts: Vec<Post>,
}

type Shared = Arc<Mutex<Runtime>>;

/// What one run of a binary did.
#[derive(Debug)]
pub struct Run {
    /// `None` when the function was still waiting for events and was stopped.
    pub exit: Option<ExitStatus>,
    pub posts: Vec<Post>,
    /// stdout and stderr together.
    pub output: String,
}

impl Run {
    pub fn init_error(&self) -> Option<&Post> {
        self.posts.iter().find(|p| p.path == "init/error")
    }

    pub fn invocation_errors(&self) -> Vec<&Post> {
        self.posts
            .iter()
            .filter(|p| p.path.starts_with("invocation/") && p.path.ends_with("/error"))
            .collect()
    }
}

/// How `AWS_LAMBDA_RUNTIME_API` names the stub.
#[derive(Debug, Clone, Copy)]
pub enum Api {
    /// `127.0.0.1:<port>`, as Lambda sets it.
    HostPort,
    /// `http://127.0.0.1:<port>/.rt/<function>`, as `cargo lambda watch` sets it.
    UrlWithPath,
}

const BASE_PATH: &str = "/.rt/fanout-test";

/// Runs `binary` with `env` (and the variables Lambda sets) against a stub that serves `events`,
/// until it exits or has answered every event; then stops it.
pub async fn run(binary: &str, env: &[(&str, &str)], events: Vec<Value>) -> Run {
    run_with(binary, env, events, Api::HostPort).await
}

pub async fn run_with(binary: &str, env: &[(&str, &str)], events: Vec<Value>, api: Api) -> Run {
    let expected = events.len();
    let shared: Shared = Arc::new(Mutex::new(Runtime {
        events: events.into(),
        ..Runtime::default()
    }));
    let routes = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .route(
            "/2018-06-01/runtime/invocation/{id}/{outcome}",
            post(invocation),
        )
        .with_state(shared.clone());
    let app = match api {
        Api::HostPort => routes,
        Api::UrlWithPath => Router::new().nest(BASE_PATH, routes),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host_port = listener.local_addr().unwrap().to_string();
    let address = match api {
        Api::HostPort => host_port,
        Api::UrlWithPath => format!("http://{host_port}{BASE_PATH}"),
    };
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "fanout-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    let exit = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        let answered = shared
            .lock()
            .unwrap()
            .posts
            .iter()
            .filter(|p| p.path.starts_with("invocation/"))
            .count();
        if expected > 0 && answered >= expected {
            child.start_kill().unwrap();
            break None;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{binary} neither exited nor answered {expected} events within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let output = child.wait_with_output().await.unwrap();
    server.abort();
    let posts = shared.lock().unwrap().posts.clone();
    Run {
        exit,
        posts,
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

async fn next(State(shared): State<Shared>) -> Response {
    let event = {
        let mut runtime = shared.lock().unwrap();
        runtime.events.pop_front().map(|e| {
            runtime.served += 1;
            (runtime.served, e)
        })
    };
    let Some((n, event)) = event else {
        // No more events: keep the function waiting, as Lambda does between invocations.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000;
    (
        [
            ("lambda-runtime-aws-request-id", format!("req-{n}")),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:fanout-test".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ],
        event.to_string(),
    )
        .into_response()
}

fn record(shared: &Shared, path: String, headers: &HeaderMap, body: &Bytes) -> StatusCode {
    let error_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = serde_json::from_slice(body).unwrap_or(Value::Null);
    shared.lock().unwrap().posts.push(Post {
        path,
        error_type,
        body,
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    record(&shared, "init/error".to_owned(), &headers, &body)
}

async fn invocation(
    State(shared): State<Shared>,
    Path((id, outcome)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    record(
        &shared,
        format!("invocation/{id}/{outcome}"),
        &headers,
        &body,
    )
}

/// Starts `binary` with `env`, which must fail its cold start, and checks what Lambda would see:
/// the init error posted with `error_type` (header and body) and a message starting with
/// `message`, the same readable text in the logs (never Rust's `Debug` form), and exit status 1.
pub async fn assert_init_error(
    binary: &str,
    env: &[(&str, &str)],
    error_type: &str,
    message: &str,
) {
    for api in [Api::HostPort, Api::UrlWithPath] {
        assert_init_error_at(binary, env, error_type, message, api).await;
    }
}

async fn assert_init_error_at(
    binary: &str,
    env: &[(&str, &str)],
    error_type: &str,
    message: &str,
    api: Api,
) {
    let run = run_with(binary, env, Vec::new(), api).await;
    let exit = run.exit.expect("the function exits after a failed init");
    assert_eq!(exit.code(), Some(1), "{}", run.output);
    let post = run.init_error().unwrap_or_else(|| {
        panic!(
            "no init error was posted to {api:?}; output:\n{}",
            run.output
        )
    });
    assert_eq!(post.error_type.as_deref(), Some(error_type));
    assert_eq!(post.body["errorType"], error_type);
    let posted = post.body["errorMessage"].as_str().unwrap_or_default();
    assert!(posted.starts_with(message), "posted `{posted}`");
    // In Lambda the log lines are JSON, so the text appears with JSON escapes.
    let logged = serde_json::to_string(message).unwrap();
    assert!(
        run.output.contains(logged.trim_matches('"')),
        "the log shows the reason: {}",
        run.output
    );
    for debug in ["Config(", "Table {", "Invalid {", "SettingsError {"] {
        assert!(!run.output.contains(debug), "Debug form in {}", run.output);
    }
}
