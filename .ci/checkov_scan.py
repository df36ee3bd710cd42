#!/usr/bin/env python3
"""checkov (the common CloudFormation security scanner) finds nothing in the stack; `make test` runs this.

Two scans, and neither may end with a failed check:
- template.yaml as written, which is what `checkov -f template.yaml` shows a user's security team;
- the stack as deployed: the SAM transform of the template with Fn::ForEach expanded (the one
  template_check.py makes) and every resource kept whatever its Condition. checkov evaluates
  conditions with the parameters' defaults and leaves out the resources they switch off (the FIFO
  queues, the example topics), and it never sees what SAM generates (the Lambda functions, their
  roles, the API stage, the Scheduler schedule); this scan sees them all.

A check is declined only by a `# checkov:skip=CKV_…: reason` comment on the resource in
template.yaml, and a skip without a reason is a failure. Comments do not survive the transform, so
in the deployed scan a failed check counts as skipped when template.yaml skips the same check on
the resource of the same logical id (SAM keeps a function's id).

Usage: checkov_scan.py --checkov PATH [--self-test]

`--self-test` also scans broken copies of the template (an unencrypted queue, a skip without a
reason, an unencrypted topic that only the deployed scan sees), in the same checkov run, and fails
unless each is caught.
"""

import copy
import json
import os
import pathlib
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import template_check  # noqa: E402  (the transform and the template loader)

ROOT = pathlib.Path(__file__).resolve().parents[1]

# What checkov writes as the reason of a skip that gives none.
NO_REASON = "No comment provided"


def run_checkov(checkov, paths):
    """One checkov run over all paths: {path: (results by kind, parsing errors)}."""
    env = dict(os.environ, CKV_SKIP_PACKAGE_UPDATE_CHECK="true")
    # --skip-download: no call to the vendor's platform (this machine has no network beyond the
    # package registries); every check ships with the package.
    command = [str(checkov), "--framework", "cloudformation", "--skip-download", "--output", "json"]
    for path in paths:
        command += ["--file", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    # checkov exits 1 when a check fails; anything else, or no JSON, means it did not scan.
    if done.returncode not in (0, 1):
        raise SystemExit(f"checkov failed ({done.returncode}):\n{done.stderr[-3000:]}")
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"checkov printed no JSON report:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}") from None
    reports = reports if isinstance(reports, list) else [reports]
    by_path = {str(pathlib.Path(p).resolve()): {"failed": [], "skipped": [], "passed": []} for p in paths}
    parsing_errors = []
    for report in reports:
        if report.get("check_type") not in (None, "cloudformation"):
            continue
        results = report.get("results", {})
        parsing_errors += results.get("parsing_errors", [])
        for kind in ("failed", "skipped", "passed"):
            for check in results.get(f"{kind}_checks", []):
                by_path[str(pathlib.Path(check["file_abs_path"]).resolve())][kind].append(check)
    if parsing_errors:
        raise SystemExit(f"checkov could not parse: {parsing_errors}")
    return by_path


def logical_id(check):
    """`AWS::SQS::Queue.IngestQueue` -> `IngestQueue`."""
    return check["resource"].rsplit(".", 1)[-1]


def reason(check):
    return (check["check_result"].get("suppress_comment") or "").strip()


def deployed_form(template):
    """The transformed stack with every resource kept, or None without samtranslator."""
    deployed = template_check.sam_transform(template)
    if deployed is None:
        return None
    for resource in deployed.get("Resources", {}).values():
        resource.pop("Condition", None)
    return deployed


def skipped_in_template(written):
    """(check id, logical id) of every skip comment in template.yaml."""
    return {(check["check_id"], logical_id(check)) for check in written["skipped"]}


def problems(written, deployed):
    """What fails the build, from the two scans' results."""
    found = []
    for check in written["failed"]:
        found.append(f"template.yaml: {check['check_id']} fails on {logical_id(check)}: {check['check_name']}")
    for check in written["skipped"]:
        if reason(check) in ("", NO_REASON):
            found.append(f"template.yaml: {check['check_id']} is skipped on {logical_id(check)} without a reason")
    if deployed is not None:
        argued = skipped_in_template(written)
        for check in deployed["failed"]:
            if (check["check_id"], logical_id(check)) not in argued:
                found.append(
                    f"as deployed: {check['check_id']} fails on {check['resource']}: {check['check_name']} "
                    "(optional or SAM-generated; fix it in template.yaml, or skip it there with a reason)"
                )
    return found


def counts(written, deployed):
    line = f"template.yaml {len(written['passed'])} passed, {len(written['failed'])} failed, {len(written['skipped'])} skipped"
    if deployed is None:
        return line + "; the deployed form not scanned (pip install aws-sam-cli)"
    argued = skipped_in_template(written)
    skipped = [c for c in deployed["failed"] if (c["check_id"], logical_id(c)) in argued]
    return (
        f"{line}; as deployed {len(deployed['passed'])} passed, "
        f"{len(deployed['failed']) - len(skipped)} failed, {len(skipped)} skipped by template.yaml's comments"
    )


def write(directory, name, text):
    path = directory / name
    path.write_text(text)
    return path.resolve()


def broken_copies(text, template, written_path, directory):
    """(what, written path, deployed path or None) for each breakage the scans must catch."""
    if "# checkov:skip=CKV_AWS_117:" not in text or "KmsMasterKeyId: !If [HasQueueKmsKey" not in text:
        raise SystemExit("checkov self-test: template.yaml no longer has what the self-test breaks; update it")
    # CKV_AWS_27 reads KmsMasterKeyId; the first queue loses it.
    queue_key = "      KmsMasterKeyId: !If [HasQueueKmsKey, !Ref QueueKmsKeyArn, !Ref AWS::NoValue]\n"
    unencrypted = write(directory, "unencrypted-queue.yaml", text.replace(queue_key, "", 1))
    start = text.index("# checkov:skip=CKV_AWS_117:")
    unargued = text[:start] + "# checkov:skip=CKV_AWS_117" + text[text.index("\n", start) :]
    cases = [
        ("a queue without encryption", unencrypted, None),
        ("a skip without a reason", write(directory, "unargued-skip.yaml", unargued), None),
    ]
    # The example topics are off by default, so only the deployed scan sees this one.
    bare_topic = copy.deepcopy(template)
    bare_topic["Resources"]["AlertsTopic"]["Properties"].pop("KmsMasterKeyId")
    deployed = deployed_form(bare_topic)
    if deployed is not None:
        path = write(directory, "unencrypted-topic.json", json.dumps(deployed, default=str))
        cases.append(("an optional topic without encryption", written_path, path))
    return cases


def main():
    args = sys.argv[1:]
    if "--checkov" not in args:
        raise SystemExit(__doc__)
    checkov = pathlib.Path(args[args.index("--checkov") + 1])
    written_path = (ROOT / "template.yaml").resolve()
    text = written_path.read_text()
    template = template_check.load_template(text)
    deployed = deployed_form(template)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        deployed_path = write(tmp, "deployed.json", json.dumps(deployed, default=str)) if deployed is not None else None
        cases = broken_copies(text, template, written_path, tmp) if "--self-test" in args else []
        paths = {written_path, deployed_path, *(p for _, w, d in cases for p in (w, d))} - {None}
        # One checkov run for everything: it spends most of its time starting up.
        scanned = run_checkov(checkov, sorted(paths))

    def result(path):
        return scanned[str(path)] if path is not None else None

    if cases:
        escaped = [what for what, w, d in cases if not problems(result(w), result(d))]
        if escaped:
            raise SystemExit(f"checkov self-test: not caught: {escaped}")
        print(f"checkov self-test: {len(cases)} breakages caught")
    written = result(written_path)
    found = problems(written, result(deployed_path))
    if found:
        print("checkov finds what the template must fix or argue:", *found, sep="\n  ")
        sys.exit(1)
    print(f"checkov: {counts(written, result(deployed_path))}")
    for check in written["skipped"]:
        print(f"  skipped {check['check_id']} on {logical_id(check)}: {reason(check)}")


if __name__ == "__main__":
    main()
