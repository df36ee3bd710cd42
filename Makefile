# iot-fanout: the two commands the README opens with are `make demo` and `make test`.
# Both install what they need from PyPI (cargo-lambda, moto, cfn-lint, checkov) when it is missing.

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
# The end-to-end comparison (../shared/bench/e2e_compare.py) runs a boto3 peer and a local AWS stub;
# they need boto3 and orjson (uvloop makes the stub faster), pinned so the peer's figures move only
# by a change here.
BENCH_VENV ?= $(CURDIR)/.venv/bench
BENCH_PACKAGES ?= boto3==1.44.8 orjson==3.13.0 uvloop==0.23.0
E2E_BENCH ?= $(CURDIR)/../shared/bench/e2e_compare.py
E2E_ROUNDS ?= 3

.PHONY: demo demo-aws test build bench tools-demo tools-test tools-checkov tools-bench fmt

## Runs the three functions under `cargo lambda watch` on every sample event, with the local outbox.
demo: tools-demo
	rm -rf "$(OUTBOX_DIR)"; mkdir -p "$(OUTBOX_DIR)" target
	cargo build --locked -p fanout-sqs -p fanout-http -p fanout-schedule
	cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(DEMO_PORT) \
	  --env-var FANOUT_SINK=local,FANOUT_ROUTES_FILE=$(CURDIR)/events/routes.json,FANOUT_OUTBOX_DIR=$(OUTBOX_DIR),RUST_LOG=warn \
	  > target/demo-watch.log 2>&1 &
	watcher=$$!
	trap 'kill $$watcher 2>/dev/null || true; wait $$watcher 2>/dev/null || true' EXIT
	for _ in $$(seq 1 120); do
	  (exec 3<>/dev/tcp/127.0.0.1/$(DEMO_PORT)) 2>/dev/null && break
	  kill -0 $$watcher 2>/dev/null || { cat target/demo-watch.log; exit 1; }
	  sleep 0.5
	done
	outbox="$(OUTBOX_DIR)/calls.jsonl"
	for event in events/sqs-*.json events/http-*.json events/schedule-*.json; do
	  case "$$event" in
	    events/sqs-*) function=fanout-sqs ;;
	    events/http-*) function=fanout-http ;;
	    *) function=fanout-schedule ;;
	  esac
	  before=$$( [ -f "$$outbox" ] && wc -l < "$$outbox" || echo 0 )
	  echo "=== $$function < $$event"
	  echo "--- response"
	  cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port $(DEMO_PORT) $$function --data-file "$$event"
	  echo
	  after=$$( [ -f "$$outbox" ] && wc -l < "$$outbox" || echo 0 )
	  echo "--- outbox: $$((after - before)) calls recorded (first 8 shown)"
	  [ -f "$$outbox" ] && tail -n +$$((before + 1)) "$$outbox" | head -n 8 || true
	done
	echo "=== logs of the function: target/demo-watch.log; outbox: $$outbox"

## The same functions with FANOUT_SINK=aws: the real SDK clients against moto on 127.0.0.1.
## moto implements SNS and the IoT data plane; it has no IoT Analytics or IoT Events Data, so
## those targets fail and are reported (batchItemFailures, 207/503 results) as they would be in AWS.
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
	echo "=== logs: target/demo-aws-watch.log (function), target/demo-moto.log (moto)"

## Everything CI runs: format check, clippy with -D warnings, and every test (moto started here).
test: tools-test tools-checkov
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
	MOTO_URL=http://127.0.0.1:$$port $$runner --workspace --locked

tools-demo:
	command -v cargo-lambda >/dev/null || $(PIP) install --quiet cargo-lambda

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
	cargo bench --locked -p fanout --bench calls
	cargo bench --locked -p fanout-sqs --bench end_to_end
	cargo build --release --locked -p fanout-sqs -p fanout-http -p fanout-schedule
	python3 shared/benches/cold_start.py target/release
	python3 shared/benches/cold_start.py --runs 5 --fleet-job 100000 target/release
	"$(BENCH_VENV)/bin/python" "$(E2E_BENCH)" --rounds $(E2E_ROUNDS) \
	  --binary target/release/fanout-sqs --out target/e2e_results.json
