#!/usr/bin/env python3
"""template.yaml and the workspace must agree; `make test` runs this.

- every crate under functions/ has an AWS::Serverless::Function built by cargo lambda
  (BuildMethod rust-cargolambda, Binary = the package name, CodeUri = the workspace root);
- every function logs to a log group the template declares with a retention
  (LoggingConfig.LogGroup: !Ref of an AWS::Logs::LogGroup with RetentionInDays): the group Lambda
  would create by itself keeps logs forever;
- every FANOUT_* variable the Rust code reads (string literals "FANOUT_..." in shared/src and
  functions/*/src) is set by the template (Globals or the function's Environment) or listed in
  DEFAULTED_BY_CODE with the reason it may stay unset; and every FANOUT_* variable the
  template sets, and every entry of DEFAULTED_BY_CODE, is still read by the code;
- no IAM statement grants a data action (SNS/IoT publish, shadow updates, IoT Analytics and IoT
  Events BatchPutMessage, Firehose and Kinesis puts, EventBridge PutEvents, any sqs: action,
  reading the routing table from S3 or AppConfig, and secretsmanager:GetSecretValue, which reads
  the Alibaba Cloud AccessKey) on Resource "*", neither in template.yaml as written nor in what
  the SAM transform makes of it (SAM attaches AWS managed policies for some event sources, e.g.
  AWSLambdaSQSQueueExecutionRole with sqs:ReceiveMessage on "*");
- every AppConfig JSON Schema validator is the draft 4 rendition of the routing table's schema,
  shared/schema/routes.schema.json (what `fanout schema --draft4` prints), and fits AppConfig's
  32,768 characters.

Usage: template_check.py [--root DIR] [--self-test]

`--self-test` first breaks copies of the template and of the workspace (in a temporary
directory: a new crate, a new variable in the Rust code) and fails unless each breakage is
caught, then checks the real workspace.
"""

import copy
import fnmatch
import json
import logging
import os
import pathlib
import re
import shutil
import sys
import tempfile
import tomllib

from cfnlint.decode import decode_str

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Variables the code reads that the template may leave unset, and why.
DEFAULTED_BY_CODE = {
    "FANOUT_ROUTES_FILE": "the template passes the table inline (FANOUT_ROUTES) or its URL (FANOUT_ROUTES_URL); exactly one may be set",
    "FANOUT_OUTBOX_DIR": "only the local outbox reads it; the template sets FANOUT_SINK=aws",
    "FANOUT_MAX_ATTEMPTS": "engine default (4 attempts)",
    "FANOUT_BACKOFF_BASE_MS": "engine default (50 ms)",
    "FANOUT_BACKOFF_MAX_MS": "engine default (2 s)",
    "FANOUT_DEADLINE_MARGIN_MS": "engine default (500 ms)",
    "FANOUT_ANALYTICS_MAX_PAYLOAD": "engine default (128 KiB)",
    "FANOUT_ALLOW_RESERVED_TOPICS": "off by default ($ topics refused)",
    "FANOUT_METRICS": "on in Lambda by default (EMF)",
    "FANOUT_HTTP_MAX_MESSAGES": "HTTP default (500)",
    "FANOUT_HTTP_MAX_BYTES": "HTTP default (5 MiB)",
    "FANOUT_ALIBABA_ENDPOINT": "tests only: sends BatchPub to a local stand-in of Alibaba's endpoint",
}

# The data actions the functions need; an action pattern that covers one of them ("sns:*",
# "iot:Pub*", "*") counts as that action.
DATA_ACTIONS = [
    "sns:Publish",
    "iot:Publish",
    "iot:UpdateThingShadow",
    "iotanalytics:BatchPutMessage",
    "iotevents:BatchPutMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
    "sqs:SendMessage",
    "firehose:PutRecord",
    "firehose:PutRecordBatch",
    "kinesis:PutRecord",
    "kinesis:PutRecords",
    "events:PutEvents",
    "s3:GetObject",
    "appconfig:StartConfigurationSession",
    "appconfig:GetLatestConfiguration",
    # Not a data action, but what it reads is a credential: only the one named secret.
    "secretsmanager:GetSecretValue",
]

# AWS managed policies that grant one of DATA_ACTIONS on Resource "*".
WILDCARD_MANAGED_POLICIES = {
    "AWSLambdaSQSQueueExecutionRole": "sqs:ReceiveMessage/DeleteMessage/GetQueueAttributes on *",
    "AmazonSQSFullAccess": "sqs:* on *",
    "AmazonSNSFullAccess": "sns:* on *",
    "AWSIoTDataAccess": "iot:Publish, iot:UpdateThingShadow on *",
    "AWSIoTFullAccess": "iot:* on *",
    "AWSIoTAnalyticsFullAccess": "iotanalytics:* on *",
    "AWSIoTEventsFullAccess": "iotevents:* on *",
    "AmazonKinesisFullAccess": "kinesis:* on *",
    "AmazonKinesisFirehoseFullAccess": "firehose:* on *",
    "AmazonEventBridgeFullAccess": "events:* on *",
    "SecretsManagerReadWrite": "secretsmanager:* on *",
    "AWSLambdaRole": "lambda:InvokeFunction on * (not a data action, but never needed here)",
}


SCHEMA = pathlib.Path("shared") / "schema" / "routes.schema.json"
# AWS::AppConfig::ConfigurationProfile Validators.Content: at most 32,768 characters.
VALIDATOR_MAX_CHARS = 32768
DRAFT_4 = "http://json-schema.org/draft-04/schema#"


def load_template(text):
    template, matches = decode_str(text)
    if matches:
        raise SystemExit(f"template.yaml does not parse: {matches}")
    return template


# --- the workspace ------------------------------------------------------------------------


def crates(root):
    """Package name of every function crate."""
    found = {}
    for manifest in sorted((root / "functions").glob("*/Cargo.toml")):
        package = tomllib.loads(manifest.read_text())["package"]["name"]
        found[package] = manifest.parent
    return found


def rust_sources(root):
    return sorted((root / "shared" / "src").rglob("*.rs")) + sorted((root / "functions").glob("*/src/**/*.rs"))


def variables_read_by_code(root):
    names = set()
    for source in rust_sources(root):
        names.update(re.findall(r'"(FANOUT_[A-Z0-9_]+)"', source.read_text()))
    return names


# --- the template ---------------------------------------------------------------------------


def functions(template):
    return {
        name: res
        for name, res in template.get("Resources", {}).items()
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function"
    }


def log_group_problems(template):
    found = []
    resources = template.get("Resources", {})
    for name, res in functions(template).items():
        target = res.get("Properties", {}).get("LoggingConfig", {}).get("LogGroup")
        group = resources.get(target.get("Ref")) if isinstance(target, dict) else None
        if not isinstance(group, dict) or group.get("Type") != "AWS::Logs::LogGroup":
            found.append(f"{name}: LoggingConfig.LogGroup must be !Ref of a log group declared in the template")
        elif "RetentionInDays" not in group.get("Properties", {}):
            found.append(f"{target['Ref']}: the log group of {name} needs RetentionInDays")
    return found


def variables_set(template):
    names = set(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    for res in functions(template).values():
        names.update(res.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    return names


def statements(node):
    """Every dict that looks like an IAM statement, anywhere in the template."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def strings(node):
    """Every string leaf, including both branches of an Fn::If."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def data_actions_in(statement):
    if "NotAction" in statement:
        excluded = list(strings(statement["NotAction"]))
        return [a for a in DATA_ACTIONS if not any(fnmatch.fnmatchcase(a.lower(), p.lower()) for p in excluded)]
    patterns = list(strings(statement.get("Action", [])))
    return [a for a in DATA_ACTIONS if any(fnmatch.fnmatchcase(a.lower(), p.lower()) for p in patterns)]


def wide_statements(template, where):
    found = []
    for statement in statements(template):
        if statement.get("Effect") != "Allow":
            continue
        data = data_actions_in(statement)
        wide = "NotResource" in statement or "*" in strings(statement.get("Resource", []))
        if data and wide:
            found.append(f"{where}: IAM statement grants {', '.join(data)} on Resource \"*\"")
    return found


def managed_policy_problems(template, where):
    found = []
    for name, res in template.get("Resources", {}).items():
        if not isinstance(res, dict):
            continue
        props = res.get("Properties", {}) or {}
        attached = list(strings(props.get("ManagedPolicyArns", [])))
        # SAM function Policies may name managed policies by name or ARN.
        policies = props.get("Policies", [])
        attached += [p for p in (policies if isinstance(policies, list) else [policies]) if isinstance(p, str)]
        for arn in attached:
            policy = arn.rsplit("/", 1)[-1]
            if policy in WILDCARD_MANAGED_POLICIES:
                found.append(f"{where}: {name} gets the managed policy {policy} ({WILDCARD_MANAGED_POLICIES[policy]})")
    return found


def expand_language_extensions(template):
    """Fn::ForEach expanded the way cfn-lint does it (placeholder values), or dropped if that fails.

    Dropping is safe for this check: the ForEach bodies are also checked as written."""
    try:
        from cfnlint.template import Template
        from cfnlint.template.transforms._language_extensions import language_extension

        matches, expanded = language_extension(Template("template.yaml", copy.deepcopy(template), ["us-east-1"]))
        if not matches:
            return expanded
    except Exception:  # a private cfn-lint API: fall back below
        pass
    expanded = copy.deepcopy(template)
    resources = expanded.get("Resources", {})
    for key in [k for k in resources if k.startswith("Fn::ForEach::")]:
        del resources[key]
    return expanded


def sam_transform(template):
    """What CloudFormation deploys after the SAM transform, or None without samtranslator."""
    try:
        from samtranslator.model.exceptions import InvalidDocumentException
        from samtranslator.translator.transform import transform
    except ImportError:
        return None
    logging.getLogger().setLevel(logging.ERROR)  # samtranslator's metrics warnings

    class Policies:  # the managed policy names SAM may attach, without asking IAM
        def load(self):
            names = ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", *WILDCARD_MANAGED_POLICIES]
            return {n: f"arn:aws:iam::aws:policy/service-role/{n}" for n in names}

    expanded = expand_language_extensions(template)
    expanded["Transform"] = "AWS::Serverless-2016-10-31"
    for res in functions(expanded).values():  # SAM wants an S3 location; the build supplies one
        res.setdefault("Properties", {})["CodeUri"] = "s3://bucket/key"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    document = json.loads(json.dumps(expanded, default=str))
    try:
        return transform(document, {}, Policies())
    except InvalidDocumentException as error:
        raise SystemExit(f"template.yaml: the SAM transform fails: {[str(e) for e in error.causes]}") from None


def draft4(schema):
    """The schema as AppConfig takes it (inline validators are draft 4): declared draft 4, with
    $defs under draft 4's name. The same rendition as `fanout schema --draft4`."""

    def renamed(value):
        if isinstance(value, dict):
            return {
                k: "#/definitions/" + v[len("#/$defs/"):] if k == "$ref" and isinstance(v, str) and v.startswith("#/$defs/") else renamed(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [renamed(v) for v in value]
        return value

    out = renamed(schema)
    out["$schema"] = DRAFT_4
    if "$defs" in out:
        out["definitions"] = out.pop("$defs")
    return out


def validator_problems(template, root):
    expected = draft4(json.loads((root / SCHEMA).read_text()))
    found = []
    for name, res in template.get("Resources", {}).items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::AppConfig::ConfigurationProfile":
            continue
        for validator in res.get("Properties", {}).get("Validators", []):
            if validator.get("Type") != "JSON_SCHEMA":
                continue
            content = validator.get("Content", "")
            if len(content) > VALIDATOR_MAX_CHARS:
                found.append(f"{name}: the JSON Schema validator is {len(content)} characters; AppConfig takes {VALIDATOR_MAX_CHARS}")
            try:
                inline = json.loads(content)
            except (TypeError, ValueError) as error:
                found.append(f"{name}: the JSON Schema validator is not JSON: {error}")
                continue
            if inline != expected:
                found.append(f"{name}: the JSON Schema validator is not the draft 4 rendition of {SCHEMA} (paste `fanout schema --draft4`)")
    return found


def problems(template, root):
    found = []
    by_binary = {}
    for name, res in functions(template).items():
        meta = res.get("Metadata", {})
        binary = meta.get("BuildProperties", {}).get("Binary")
        if meta.get("BuildMethod") != "rust-cargolambda":
            found.append(f"{name}: Metadata.BuildMethod must be rust-cargolambda")
        code_uri = res.get("Properties", {}).get("CodeUri", template.get("Globals", {}).get("Function", {}).get("CodeUri"))
        if code_uri not in (".", "./"):
            found.append(f"{name}: CodeUri must be the workspace root (.), found {code_uri!r}")
        by_binary[binary] = name
    packages = crates(root)
    for package in packages:
        if package not in by_binary:
            found.append(f"functions/: crate {package} has no function in template.yaml (BuildProperties.Binary: {package})")
    for binary, name in by_binary.items():
        if binary not in packages:
            found.append(f"{name}: Binary {binary} is not a crate under functions/")

    found += log_group_problems(template)

    read = variables_read_by_code(root)
    set_here = {v for v in variables_set(template) if v.startswith("FANOUT_")}
    for var in sorted(read - set_here - set(DEFAULTED_BY_CODE)):
        found.append(f"{var}: read by the code, but neither set in template.yaml nor listed in DEFAULTED_BY_CODE")
    for var in sorted(set_here - read):
        found.append(f"{var}: set in template.yaml, but no Rust source reads it (misspelt or removed?)")
    for var in sorted(set(DEFAULTED_BY_CODE) - read):
        found.append(f"{var}: listed in DEFAULTED_BY_CODE, but no Rust source reads it any more")

    found += validator_problems(template, root)
    found += wide_statements(template, "template.yaml")
    found += managed_policy_problems(template, "template.yaml")
    deployed = sam_transform(template)
    if deployed is not None:
        found += wide_statements(deployed, "after the SAM transform")
        found += managed_policy_problems(deployed, "after the SAM transform")
    return found


# --- self-test ------------------------------------------------------------------------------


def copy_workspace(root, into):
    """The files the check reads: template, function manifests, Rust sources."""
    shutil.copy(root / "template.yaml", into / "template.yaml")
    for path in [*(root / "functions").glob("*/Cargo.toml"), *rust_sources(root), root / SCHEMA]:
        target = into / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)


def self_test(template, root):
    """Each breakage must be caught, and the unbroken copy must pass."""
    caught, escaped = [], []

    def expect(what, found):
        (caught if found else escaped).append(what)

    def with_template(what, mutate):
        t = copy.deepcopy(template)
        mutate(t)
        expect(what, problems(t, root))

    first = next(iter(functions(template)))
    with_template("a crate without its function", lambda t: t["Resources"][first]["Metadata"]["BuildProperties"].update(Binary="fanout-missing"))
    with_template("a function not built by cargo lambda", lambda t: t["Resources"][first]["Metadata"].update(BuildMethod="makefile"))
    with_template("CodeUri not at the workspace root", lambda t: t["Resources"][first]["Properties"].update(CodeUri="functions/sqs"))
    with_template("a function logging to Lambda's own log group", lambda t: t["Resources"][first]["Properties"].pop("LoggingConfig"))
    with_template(
        "a function log group without retention",
        lambda t: t["Resources"][t["Resources"][first]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"].pop("RetentionInDays"),
    )
    with_template("FANOUT_SINK unset", lambda t: t["Globals"]["Function"]["Environment"]["Variables"].pop("FANOUT_SINK"))
    with_template(
        "a misspelt variable (FANOUT_CONCURENCY)",
        lambda t: t["Globals"]["Function"]["Environment"]["Variables"].update(FANOUT_CONCURENCY="16"),
    )

    def add_policy(statement):
        return lambda t: t["Resources"].update(
            Wide={"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "wide", "Roles": ["r"], "PolicyDocument": {"Statement": [statement]}}}
        )

    with_template("sns:Publish on *", add_policy({"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}))
    with_template("s3:GetObject on *", add_policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))

    def loosen_validator(t):
        validator = t["Resources"]["RoutesProfile"]["Properties"]["Validators"][0]
        schema = json.loads(validator["Content"])
        schema["definitions"]["analytics"]["additionalProperties"] = True
        validator["Content"] = json.dumps(schema)

    with_template("an AppConfig validator that drifted from the schema", loosen_validator)
    with_template("iot:* on *", add_policy({"Effect": "Allow", "Action": ["iot:*"], "Resource": ["*"]}))
    with_template(
        "iotevents:BatchPutMessage on * in one branch of an Fn::If",
        add_policy({"Effect": "Allow", "Action": "iotevents:BatchPutMessage", "Resource": {"Fn::If": ["HasInputs", "arn:x", "*"]}}),
    )
    with_template("kinesis:PutRecords on *", add_policy({"Effect": "Allow", "Action": "kinesis:Put*", "Resource": "*"}))
    with_template("events:PutEvents on *", add_policy({"Effect": "Allow", "Action": ["events:PutEvents"], "Resource": ["*"]}))
    with_template("secretsmanager:GetSecretValue on *", add_policy({"Effect": "Allow", "Action": "secretsmanager:Get*", "Resource": "*"}))
    with_template(
        "a SAM policy template on *",
        lambda t: t["Resources"]["HttpFunction"]["Properties"].update(Policies=[{"SNSPublishMessagePolicy": {"TopicName": "*"}}]),
    )
    if sam_transform(template) is not None:
        with_template(
            "the SQS function on a SAM-made role (AWSLambdaSQSQueueExecutionRole)",
            lambda t: (t["Resources"]["SqsFunction"]["Properties"].pop("Role"), t["Resources"].pop("SqsFunctionRole")),
        )

    with tempfile.TemporaryDirectory() as tmp:
        copy_workspace(root, pathlib.Path(tmp))
        if problems(template, pathlib.Path(tmp)):
            raise SystemExit("template_check self-test: the unbroken copy of the workspace does not pass")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        copy_workspace(root, tmp)
        (tmp / "functions" / "extra" / "src").mkdir(parents=True)
        (tmp / "functions" / "extra" / "Cargo.toml").write_text('[package]\nname = "fanout-extra"\nversion = "0.1.0"\n')
        expect("a new crate in functions/ with no function", problems(template, tmp))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        copy_workspace(root, tmp)
        config = tmp / "shared" / "src" / "config.rs"
        config.write_text(config.read_text() + '\nconst _LOG: &str = "FANOUT_LOG_PAYLOADS";\n')
        expect("a new variable in the Rust code (FANOUT_LOG_PAYLOADS)", problems(template, tmp))

    if escaped:
        raise SystemExit(f"template_check self-test: not caught: {escaped}")
    print(f"template_check self-test: {len(caught)} breakages caught")


def main():
    args = sys.argv[1:]
    root = ROOT
    if "--root" in args:
        root = pathlib.Path(args[args.index("--root") + 1]).resolve()
    template = load_template((root / "template.yaml").read_text())
    if "--self-test" in args:
        self_test(template, root)
    found = problems(template, root)
    if found:
        print("template.yaml and the workspace disagree:", *found, sep="\n  ")
        sys.exit(1)
    expanded = "checked after the SAM transform" if sam_transform(template) is not None else "SAM transform not checked (pip install aws-sam-cli)"
    print(
        f"template_check: {len(functions(template))} functions, {len(variables_read_by_code(root))} FANOUT_ variables, "
        f"no data action on * ({expanded})"
    )


if __name__ == "__main__":
    main()
