# iot-fanout: the two commands the README opens with are `make demo` and `make test`.
# Both install what they need from PyPI (cargo-lambda, moto, cfn-lint, checkov, Alibaba's SDK)
# when it is missing.

SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

DEMO_PORT ?= 9000
OUTBOX_DIR ?= $(CURDIR)/outbox/demo
PIP ?= python3 -m pip
# checkov pins its own dependencies, so it lives in a virtual environment of its own; its version is
# pinned too, so that a new release's checks arrive by a change here, not by surprise in CI.
CHECKOV_VENV ?= $(CURDIR)/.venv/checkov
CHECKOV_VERSION ?= 3.3.30
# The Python peers: the pipeline one (../shared/bench/peer_pipeline.py) needs orjson; the end-to-end
# comparison (../shared/bench/e2e_compare.py) runs a boto3 peer and a local AWS stub;
# they need boto3 and orjson (uvloop makes the stub faster), pinned so the peer's figures move only
# by a change here.
BENCH_VENV ?= $(CURDIR)/.venv/bench
BENCH_PACKAGES ?= boto3==1.44.8 orjson==3.13.0 uvloop==0.23.0
E2E_BENCH ?= $(CURDIR)/../shared/bench/e2e_compare.py
E2E_ROUNDS ?= 3

# Alibaba Cloud's official Python SDK signing code, which the Alibaba IoT stand-in of the tests
# (shared/tests/fixtures/alibaba_iot_server.py) checks every request's signature with. Pinned and
# in a virtual environment of its own, like checkov, so its dependencies meet no one else's.
ALIBABA_VENV ?= $(CURDIR)/.venv/alibaba
ALIBABA_SDK ?= alibabacloud-tea-openapi==0.4.6 alibabacloud-openapi-util==0.2.4 alibabacloud-tea-util==0.3.15

.PHONY: demo demo-aws test build bench tools-demo tools-test tools-checkov tools-bench tools-alibaba fmt

## Runs the three functions under `cargo lambda watch` on every sample event, with the local outbox:
## one line per event (function, event, status, delivered/failed/invalid/dropped, calls), counts
## from the functions' own EMF metric lines; the full responses go to target/demo-responses.txt.
demo: tools-demo
	@rm -rf "$(OUTBOX_DIR)"; mkdir -p "$(OUTBOX_DIR)" target
	cargo build --quiet --locked -p fanout-sqs -p fanout-http -p fanout-schedule
	cargo build --quiet --locked -p fanout --bin fanout
	target/debug/fanout check events/routes.json
	cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(DEMO_PORT) \
	  --env-var FANOUT_SINK=local,FANOUT_ROUTES_FILE=$(CURDIR)/events/routes.json,FANOUT_OUTBOX_DIR=$(OUTBOX_DIR),FANOUT_METRICS=emf,RUST_LOG=warn \
	  > target/demo-watch.log 2>&1 &
	watcher=$$!
	trap 'kill $$watcher 2>/dev/null || true; wait $$watcher 2>/dev/null || true' EXIT
	for _ in $$(seq 1 120); do
	  (exec 3<>/dev/tcp/127.0.0.1/$(DEMO_PORT)) 2>/dev/null && break
	  kill -0 $$watcher 2>/dev/null || { cat target/demo-watch.log; exit 1; }
	  sleep 0.5
	done
	responses=target/demo-responses.txt
	: > "$$responses"
	printf '%-16s %-27s %-10s %9s %6s %7s %7s %5s\n' function event status delivered failed invalid dropped calls
	for event in events/sqs-*.json events/http-*.json events/schedule-*.json; do
	  case "$$event" in
	    events/sqs-*) function=fanout-sqs ;;
	    events/http-*) function=fanout-http ;;
	    *) function=fanout-schedule ;;
	  esac
	  offset=$$(wc -c < target/demo-watch.log)
	  if response=$$(cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port $(DEMO_PORT) $$function --data-file "$$event" 2>&1); then ok=1; else ok=0; fi
	  printf '=== %s < %s\n%s\n\n' "$$function" "$$event" "$$response" >> "$$responses"
	  printf '%s' "$$response" | python3 -c "$$DEMO_LINE" "$$function" "$$event" "$$ok" "$$offset" target/demo-watch.log
	done
	echo "full responses: $$responses; function logs and metrics: target/demo-watch.log; calls made: $(OUTBOX_DIR)/calls.jsonl"

# One line of the demo's table: the response's status, and the counts of the EMF line the run
# printed (an HTTP request refused before the engine, like a bad body, has none).
define DEMO_LINE
import json, os, sys, time
function, event, ok, offset, log = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4]), sys.argv[5]
try:
    response = json.loads(sys.stdin.read())
except ValueError:
    response = None
def metrics():
    with open(log, "rb") as f:
        f.seek(offset)
        for line in f.read().decode(errors="replace").splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and "MessagesIn" in doc:
                return doc
ran = ok and isinstance(response, dict)
if not ran:
    status = "error"
elif function == "fanout-http":
    status = str(response.get("statusCode"))
    # A dry run plans without sending; a refused request never reaches the engine.
    if '"dryRun":true' in str(response.get("body")).replace(" ", ""):
        status, ran = status + " plan", False
    ran = ran and not status.startswith("4")
elif function == "fanout-sqs":
    failures = len(response.get("batchItemFailures") or [])
    status = "ok" if failures == 0 else f"{failures} to retry"
else:
    status = "ok"
found, deadline = metrics(), time.time() + 3
while ran and found is None and time.time() < deadline:
    time.sleep(0.05)
    found = metrics()
counts = [found[k] if found else "-" for k in ("Delivered", "Failed", "Invalid", "Dropped", "Calls")]
print(f"{function:<16} {os.path.basename(event):<27} {status:<10} {counts[0]:>9} {counts[1]:>6} {counts[2]:>7} {counts[3]:>7} {counts[4]:>5}")
endef
export DEMO_LINE

## The same functions with FANOUT_SINK=aws: the real SDK clients against moto on 127.0.0.1.
## moto implements SNS, the IoT data plane, Firehose (into its S3), Kinesis, EventBridge and SQS;
## it has no IoT Analytics or IoT Events Data, so those targets fail and are reported
## (batchItemFailures, 207/503 results) as they would be in AWS.
demo-aws: tools-demo tools-test
	mkdir -p target
	cargo build --locked -p fanout-sqs -p fanout-http -p fanout-schedule
	port=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	MOTO_RECORDER_FILEPATH=$(CURDIR)/target/moto_recording moto_server -H 127.0.0.1 -p $$port > target/demo-moto.log 2>&1 &
	moto=$$!
	trap 'kill $$moto $${watcher:-} 2>/dev/null || true; wait 2>/dev/null || true' EXIT
	export AWS_ENDPOINT_URL=http://127.0.0.1:$$port AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
	for _ in $$(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/$$port) 2>/dev/null && break; sleep 0.5; done
	python3 -c 'import boto3; sns = boto3.client("sns"); iot = boto3.client("iot"); \
	  [sns.create_topic(Name=n, Attributes=a) for n, a in [("fanout-alerts", {}), ("fanout-audit.fifo", {"FifoTopic": "true"})]]; \
	  [iot.create_thing(thingName=t) for t in ["sensor-42", "sensor-7", "pump-3"]]; print("moto: 2 SNS topics, 3 things")'
	python3 -c 'import boto3, json; s3 = boto3.client("s3"); sqs = boto3.client("sqs"); ev = boto3.client("events"); \
	  s3.create_bucket(Bucket="fanout-archive"); \
	  boto3.client("firehose").create_delivery_stream(DeliveryStreamName="fanout-telemetry", ExtendedS3DestinationConfiguration={"BucketARN": "arn:aws:s3:::fanout-archive", "RoleARN": "arn:aws:iam::123456789012:role/firehose", "Prefix": "telemetry/"}); \
	  boto3.client("kinesis").create_stream(StreamName="fanout-events", ShardCount=1); \
	  sqs.create_queue(QueueName="fanout-alarms.fifo", Attributes={"FifoQueue": "true"}); \
	  q = sqs.create_queue(QueueName="fanout-alarm-events")["QueueUrl"]; arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]; \
	  ev.create_event_bus(Name="fanout-alarms"); ev.put_rule(Name="alarms", EventBusName="fanout-alarms", EventPattern=json.dumps({"source": ["iot.fanout"]})); \
	  ev.put_targets(Rule="alarms", EventBusName="fanout-alarms", Targets=[{"Id": "queue", "Arn": arn}]); \
	  print("moto: Firehose fanout-telemetry into s3://fanout-archive, Kinesis fanout-events, bus fanout-alarms with a rule into queue fanout-alarm-events, queue fanout-alarms.fifo")'
	cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(DEMO_PORT) \
	  --env-var FANOUT_SINK=aws,FANOUT_ROUTES_FILE=$(CURDIR)/events/routes.json,AWS_ENDPOINT_URL=$$AWS_ENDPOINT_URL,AWS_REGION=us-east-1,AWS_ACCESS_KEY_ID=testing,AWS_SECRET_ACCESS_KEY=testing,RUST_LOG=warn \
	  > target/demo-aws-watch.log 2>&1 &
	watcher=$$!
	for _ in $$(seq 1 120); do (exec 3<>/dev/tcp/127.0.0.1/$(DEMO_PORT)) 2>/dev/null && break; sleep 0.5; done
	for pair in fanout-sqs:events/sqs-telemetry.json fanout-http:events/http-messages.json fanout-schedule:events/schedule-scheduler.json; do
	  echo "=== $${pair%%:*} < $${pair#*:}"
	  cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port $(DEMO_PORT) $${pair%%:*} --data-file $${pair#*:} || true
	  echo
	done
	python3 -c 'import boto3; s = boto3.client("iot-data").get_thing_shadow(thingName="sensor-42", shadowName="config"); print("=== moto: shadow sensor-42/config =", s["payload"].read().decode())'
	python3 -c 'import boto3; s3 = boto3.client("s3"); \
	  [print("=== moto: s3://fanout-archive/" + o["Key"], "=", repr(s3.get_object(Bucket="fanout-archive", Key=o["Key"])["Body"].read().decode())) for o in s3.list_objects_v2(Bucket="fanout-archive").get("Contents", [])]'
	python3 -c 'import boto3; k = boto3.client("kinesis"); shard = k.list_shards(StreamName="fanout-events")["Shards"][0]["ShardId"]; \
	  it = k.get_shard_iterator(StreamName="fanout-events", ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]; \
	  [print("=== moto: kinesis fanout-events", r["PartitionKey"], "=", r["Data"].decode()) for r in k.get_records(ShardIterator=it)["Records"]]'
	python3 -c 'import boto3; sqs = boto3.client("sqs"); \
	  [print("=== moto: queue", n, "=", m["Body"]) for n in ["fanout-alarm-events", "fanout-alarms.fifo"] for m in sqs.receive_message(QueueUrl=sqs.get_queue_url(QueueName=n)["QueueUrl"], MaxNumberOfMessages=10).get("Messages", [])]'
	echo "=== logs: target/demo-aws-watch.log (function), target/demo-moto.log (moto)"

## Everything CI runs: format check, clippy with -D warnings, and every test (moto started here).
test: tools-test tools-checkov tools-alibaba
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings
	cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 sam validate --lint --region us-east-1
	python3 .ci/template_check.py --self-test
	python3 .ci/checkov_scan.py --checkov "$(CHECKOV_VENV)/bin/checkov" --self-test
	if cargo nextest --version >/dev/null 2>&1; then runner="cargo nextest run --no-fail-fast"; else runner="cargo test --no-fail-fast"; fi
	mkdir -p target
	port=$$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# moto's recorder (used by the IoT publish tests) writes its file in the working directory by default.
	MOTO_RECORDER_FILEPATH=$(CURDIR)/target/moto_recording moto_server -H 127.0.0.1 -p $$port > target/moto.log 2>&1 &
	moto=$$!
	trap 'kill $$moto 2>/dev/null || true; wait $$moto 2>/dev/null || true' EXIT
	MOTO_URL=http://127.0.0.1:$$port FANOUT_ALIBABA_PYTHON="$(ALIBABA_VENV)/bin/python" $$runner --workspace --locked

tools-demo:
	@command -v cargo-lambda >/dev/null || $(PIP) install --quiet cargo-lambda

tools-test:
	command -v moto_server >/dev/null || $(PIP) install --quiet "moto[server]"
	command -v cfn-lint >/dev/null || $(PIP) install --quiet cfn-lint
	command -v sam >/dev/null || $(PIP) install --quiet aws-sam-cli

tools-bench:
	if ! "$(BENCH_VENV)/bin/python" -c 'import boto3, orjson, uvloop' 2>/dev/null; then
	  python3 -m venv "$(BENCH_VENV)"
	  "$(BENCH_VENV)/bin/python" -m pip install --quiet --disable-pip-version-check $(BENCH_PACKAGES)
	fi

tools-checkov:
	installed=$$("$(CHECKOV_VENV)/bin/python" -c 'import importlib.metadata as m; print(m.version("checkov"))' 2>/dev/null || true)
	if [ "$$installed" != "$(CHECKOV_VERSION)" ]; then
	  python3 -m venv "$(CHECKOV_VENV)"
	  "$(CHECKOV_VENV)/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"
	fi

tools-alibaba:
	installed=$$("$(ALIBABA_VENV)/bin/python" -c 'import importlib.metadata as m, sys; print(" ".join(f"{n}=={m.version(n)}" for n in sys.argv[1:]))' \
	  alibabacloud-tea-openapi alibabacloud-openapi-util alibabacloud-tea-util 2>/dev/null || true)
	if [ "$$installed" != "$(ALIBABA_SDK)" ]; then
	  python3 -m venv "$(ALIBABA_VENV)"
	  "$(ALIBABA_VENV)/bin/python" -m pip install --quiet --disable-pip-version-check $(ALIBABA_SDK)
	fi

fmt:
	cargo fmt --all

## Builds the deployable arm64 functions the way `sam deploy` ships them (cargo lambda + zig).
## --language-extensions (also in samconfig.toml): SAM CLI must expand Fn::ForEach locally.
build: tools-demo tools-test
	SAM_CLI_TELEMETRY=0 sam build --language-extensions
	ls -l .aws-sam/build/*/bootstrap

## Every benchmark of BENCHMARKS.md: criterion for the pipeline, tables for the rest, and the
## end-to-end comparison with the boto3 peer (release fanout-sqs; results in target/e2e_results.json).
bench: tools-bench
	cargo bench --locked -p fanout --bench pipeline
	cargo bench --locked -p fanout --bench packing
	cargo bench --locked -p fanout --bench fleet
	"$(BENCH_VENV)/bin/python" shared/benches/compare_pipeline.py --python "$(BENCH_VENV)/bin/python"
	cargo bench --locked -p fanout --bench routes_source
	cargo bench --locked -p fanout --bench calls
	cargo bench --locked -p fanout-sqs --bench end_to_end
	cargo build --release --locked -p fanout-sqs -p fanout-http -p fanout-schedule
	python3 shared/benches/cold_start.py target/release
	python3 shared/benches/cold_start.py --runs 5 --fleet-job 100000 target/release
	"$(BENCH_VENV)/bin/python" "$(E2E_BENCH)" --rounds $(E2E_ROUNDS) \
	  --binary target/release/fanout-sqs --out target/e2e_results.json
