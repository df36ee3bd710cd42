#!/usr/bin/env python3
"""template.yaml and the workspace must agree; `make test` runs this.

- every crate under functions/ has an AWS::Serverless::Function built by cargo lambda
  (BuildMethod rust-cargolambda, Binary = the package name, CodeUri = the workspace root);
- every FANOUT_* variable the Rust code reads is set by the template or listed in
  DEFAULTED_BY_CODE with the reason it may stay unset;
- no IAM statement grants a data action on Resource "*".

`--self-test` also runs the checks on broken copies of the template and fails unless each
breakage is caught.
"""

import copy
import pathlib
import re
import sys
import tomllib

from cfnlint.decode import decode_str

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Variables the code reads that the template may leave unset, and why.
DEFAULTED_BY_CODE = {
    "FANOUT_ROUTES_FILE": "the template passes the table inline in FANOUT_ROUTES; exactly one may be set",
    "FANOUT_OUTBOX_DIR": "only the local outbox reads it; the template sets FANOUT_SINK=aws",
    "FANOUT_MAX_ATTEMPTS": "engine default (4 attempts)",
    "FANOUT_BACKOFF_BASE_MS": "engine default (50 ms)",
    "FANOUT_BACKOFF_MAX_MS": "engine default (2 s)",
    "FANOUT_CONCURRENCY": "engine default (16 calls in flight)",
    "FANOUT_DEADLINE_MARGIN_MS": "engine default (500 ms)",
    "FANOUT_FLEET_RATE": "no cap by default",
    "FANOUT_ANALYTICS_MAX_PAYLOAD": "engine default (128 KiB)",
    "FANOUT_ALLOW_RESERVED_TOPICS": "off by default ($ topics refused)",
    "FANOUT_METRICS": "on in Lambda by default (EMF)",
    "FANOUT_HTTP_MAX_MESSAGES": "HTTP default (500)",
    "FANOUT_HTTP_MAX_BYTES": "HTTP default (5 MiB)",
}

DATA_ACTIONS = re.compile(
    r"^(sns:Publish|iot:Publish|iot:UpdateThingShadow|iotanalytics:BatchPutMessage|iotevents:BatchPutMessage|sqs:.*|\*)$"
)


def load_template(text):
    template, matches = decode_str(text)
    if matches:
        raise SystemExit(f"template.yaml does not parse: {matches}")
    return template


def crates():
    """Package name of every function crate."""
    found = {}
    for manifest in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        package = tomllib.loads(manifest.read_text())["package"]["name"]
        found[package] = manifest.parent
    return found


def variables_read_by_code():
    names = set()
    for source in list((ROOT / "shared" / "src").rglob("*.rs")) + list((ROOT / "functions").glob("*/src/**/*.rs")):
        names.update(re.findall(r'"(FANOUT_[A-Z0-9_]+)"', source.read_text()))
    return names


def functions(template):
    return {
        name: res
        for name, res in template.get("Resources", {}).items()
        if isinstance(res, dict) and res.get("Type") == "AWS::Serverless::Function"
    }


def variables_set(template):
    names = set(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    for res in functions(template).values():
        names.update(res.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    return names


def statements(node):
    """Every dict that looks like an IAM statement, anywhere in the template."""
    if isinstance(node, dict):
        if "Action" in node and "Effect" in node:
            yield node
        for value in node.values():
            yield from statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from statements(value)


def as_list(value):
    return value if isinstance(value, list) else [value]


def problems(template):
    found = []
    by_binary = {}
    for name, res in functions(template).items():
        meta = res.get("Metadata", {})
        binary = meta.get("BuildProperties", {}).get("Binary")
        if meta.get("BuildMethod") != "rust-cargolambda":
            found.append(f"{name}: Metadata.BuildMethod must be rust-cargolambda")
        if res.get("Properties", {}).get("CodeUri") != ".":
            found.append(f"{name}: CodeUri must be the workspace root (.)")
        by_binary[binary] = name
    for package in crates():
        if package not in by_binary:
            found.append(f"functions/: crate {package} has no function in template.yaml (BuildProperties.Binary: {package})")
    for binary, name in by_binary.items():
        if binary not in crates():
            found.append(f"{name}: Binary {binary} is not a crate under functions/")

    missing = variables_read_by_code() - variables_set(template) - set(DEFAULTED_BY_CODE)
    for var in sorted(missing):
        found.append(f"{var}: read by the code, but neither set in template.yaml nor listed in DEFAULTED_BY_CODE")

    for statement in statements(template):
        actions = [a for a in as_list(statement.get("Action", [])) if isinstance(a, str)]
        resources = as_list(statement.get("Resource", []))
        data = [a for a in actions if DATA_ACTIONS.match(a)]
        if data and "*" in resources:
            found.append(f"IAM statement grants {', '.join(data)} on Resource \"*\"")
    return found


def self_test(template):
    """Each breakage must be caught."""
    breakages = {}
    t = copy.deepcopy(template)
    first = next(iter(functions(t)))
    t["Resources"][first]["Metadata"]["BuildProperties"]["Binary"] = "fanout-missing"
    breakages["a crate without its function"] = t
    t = copy.deepcopy(template)
    del t["Globals"]["Function"]["Environment"]["Variables"]["FANOUT_SINK"]
    breakages["an unset variable"] = t
    t = copy.deepcopy(template)
    t["Resources"]["Wide"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {"PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}]}},
    }
    breakages["a data action on *"] = t
    escaped = [what for what, broken in breakages.items() if not problems(broken)]
    if escaped:
        raise SystemExit(f"template_check self-test: not caught: {escaped}")
    print(f"template_check self-test: {len(breakages)} breakages caught")


def main():
    template = load_template((ROOT / "template.yaml").read_text())
    if "--self-test" in sys.argv:
        self_test(template)
    found = problems(template)
    if found:
        print("template.yaml and the workspace disagree:", *found, sep="\n  ")
        sys.exit(1)
    print(f"template_check: {len(functions(template))} functions, {len(variables_read_by_code())} FANOUT_ variables, no data action on *")


if __name__ == "__main__":
    main()
