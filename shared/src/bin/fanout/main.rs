//! `fanout`: the engine's own checks on a routing table, from a shell. `check` runs exactly the
//! cold-start checks, `test` shows how one message is routed and checked, `plan` the calls a
//! batch would make, `schema` prints the table's JSON Schema. Readable text by default,
//! `--json` for scripts.

mod check;
mod plan;
mod probe;

use std::io::Write as _;
use std::process::ExitCode;

use fanout::config::contract_limits;
use fanout::routes_source::{self, APPCONFIG_DEFAULT_PORT, LoadedTable, RoutesSource};
use fanout::validate::ContractLimits;

const USAGE: &str = "\
usage: fanout [--json] <command> [arguments]

commands:
  check TABLE                  the checks every function runs at cold start; exit 1 if the table fails them
  test TABLE MESSAGE.json      which routes match one message, its targets with their rendered names,
                               and each destination contract's verdict; exit 1 if it would not be sent
  plan TABLE MESSAGES.jsonl    the calls a batch (one envelope per line) would make; exit 1 if a
                               message would be invalid
  schema [--draft4]            the routing table's JSON Schema (--draft4: the rendition for AppConfig)

TABLE is a file, s3://bucket/key (read with the standard AWS configuration) or
appconfig://application/environment/profile (through the AppConfig agent on localhost:2772,
or AWS_APPCONFIG_EXTENSION_HTTP_PORT). FANOUT_ANALYTICS_MAX_PAYLOAD and
FANOUT_ALLOW_RESERVED_TOPICS apply as in the functions.

exit status: 0 yes, 1 no (the table, message or batch fails), 2 the command line is wrong";

/// How a command went, for the exit status.
enum Verdict {
    Pass,
    Fail,
}

/// A command line that cannot be run; printed with the usage.
struct Usage(String);

/// What every command reads: the environment's contract limits, and how to print.
pub(crate) struct Context {
    pub(crate) limits: ContractLimits,
    pub(crate) appconfig_port: u16,
    pub(crate) json: bool,
}

fn main() -> ExitCode {
    let mut json = false;
    let mut draft4 = false;
    let mut args = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json = true,
            "--draft4" => draft4 = true,
            "-h" | "--help" | "help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => args.push(arg),
        }
    }
    match run(&args, json, draft4) {
        Ok(Verdict::Pass) => ExitCode::SUCCESS,
        Ok(Verdict::Fail) => ExitCode::from(1),
        Err(Usage(problem)) => {
            eprintln!("fanout: {problem}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String], json: bool, draft4: bool) -> Result<Verdict, Usage> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let limits = contract_limits(&env).map_err(|e| Usage(e.to_string()))?;
    let appconfig_port = match env("AWS_APPCONFIG_EXTENSION_HTTP_PORT") {
        None => APPCONFIG_DEFAULT_PORT,
        Some(port) => port.trim().parse().map_err(|_| {
            Usage(format!(
                "AWS_APPCONFIG_EXTENSION_HTTP_PORT: must be a port from 1 to 65535, found `{port}`"
            ))
        })?,
    };
    let context = Context {
        limits,
        appconfig_port,
        json,
    };
    let (command, rest) = args
        .split_first()
        .ok_or_else(|| Usage("name a command".to_owned()))?;
    match (command.as_str(), rest) {
        ("check", [table]) => Ok(check::run(&context, table)),
        ("test", [table, message]) => Ok(probe::run(&context, table, message)),
        ("plan", [table, messages]) => Ok(plan::run(&context, table, messages)),
        ("schema", []) => Ok(schema(draft4)),
        ("check", _) => Err(Usage("`check` takes one TABLE".to_owned())),
        ("test", _) => Err(Usage("`test` takes a TABLE and a MESSAGE.json".to_owned())),
        ("plan", _) => Err(Usage(
            "`plan` takes a TABLE and a MESSAGES.jsonl".to_owned(),
        )),
        ("schema", _) => Err(Usage("`schema` takes no arguments".to_owned())),
        (other, _) => Err(Usage(format!("unknown command `{other}`"))),
    }
}

fn schema(draft4: bool) -> Verdict {
    if !draft4 {
        print!("{}", fanout::schema::ROUTES_SCHEMA);
        return Verdict::Pass;
    }
    match serde_json::from_str(fanout::schema::ROUTES_SCHEMA) {
        Ok(schema) => print_json(&fanout::schema::draft4(&schema)),
        Err(e) => {
            eprintln!("fanout: the built-in schema is not JSON: {e}");
            return Verdict::Fail;
        }
    }
    Verdict::Pass
}

impl Context {
    /// Reads and checks the table named on the command line, exactly as a function's cold start
    /// does; an error is the cold-start message, prefixed with the table's name.
    pub(crate) fn load(&self, table: &str) -> Result<LoadedTable, String> {
        let source = RoutesSource::from_argument(table, self.appconfig_port)
            .map_err(|rule| format!("{table}: {rule}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the I/O runtime: {e}"))?;
        runtime
            .block_on(routes_source::load_once(&source, &self.limits, None))
            .map_err(|e| format!("{table}: {e}"))
    }
}

/// Reads a file named on the command line.
pub(crate) fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

pub(crate) fn print_json(value: &impl serde::Serialize) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`fanout plan … | head`) is not an error worth a message.
    let _ = serde_json::to_writer_pretty(&mut out, value).map(|()| writeln!(out));
}

/// Prints a command's failure: a JSON object for scripts, a line on stderr for people.
pub(crate) fn fail(context: &Context, table: &str, error: &str) -> Verdict {
    if context.json {
        print_json(&serde_json::json!({"table": table, "ok": false, "error": error}));
    } else {
        eprintln!("{error}");
    }
    Verdict::Fail
}
