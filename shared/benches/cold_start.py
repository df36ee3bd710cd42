#!/usr/bin/env python3
"""Cold start, first event and size of each function binary, under a minimal Lambda runtime API.

For each binary: start it with AWS_LAMBDA_RUNTIME_API pointing at this script's emulator, and
measure (median of --runs) the time from process start to its first `GET …/invocation/next`
(ready: configuration read, routing table parsed, SDK clients built), then hand it one sample
event and measure the time to its response, and read its peak RSS (VmHWM) before stopping it.

Ready is measured with FANOUT_SINK=aws (the four SDK clients are built, nothing is sent) and, for
comparison, with FANOUT_SINK=local (no SDK client at all); the first event with FANOUT_SINK=local,
so no network is involved.

With --fleet-job N the table is events/routes.json plus a broadcast job to N devices, to show
what a large job in the table costs every function's cold start.

Usage: shared/benches/cold_start.py [--runs N] [--ssl-cert-file PATH] [--fleet-job N] BINARY_DIR
"""

import argparse
import http.server
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
EVENTS = {
    "fanout-sqs": ROOT / "events" / "sqs-telemetry.json",
    "fanout-http": ROOT / "events" / "http-messages.json",
    "fanout-schedule": ROOT / "events" / "schedule-scheduler.json",
}


class Runtime(http.server.BaseHTTPRequestHandler):
    """The two runtime API calls a function makes for one event, timestamped."""

    # The runtime client keeps its connection open between calls, as with the real API.
    protocol_version = "HTTP/1.1"

    event = b"{}"
    deliver = True
    ready_at = None
    responded_at = None
    next_calls = 0
    lock = threading.Lock()
    done = threading.Event()
    stop = threading.Event()

    def log_message(self, *args):
        pass

    def do_GET(self):
        cls = type(self)
        with cls.lock:
            cls.next_calls += 1
            first = cls.next_calls == 1
            if first:
                cls.ready_at = time.perf_counter()
        if first and not cls.deliver:
            cls.done.set()
        if not first or not cls.deliver:
            # Park the function on this poll until the harness has stopped it; never answer.
            cls.stop.wait(30)
            self.close_connection = True
            return
        deadline = int(time.time() * 1000) + 30_000
        self.send_response(200)
        self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
        self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(cls.event)))
        self.end_headers()
        self.wfile.write(cls.event)

    def do_POST(self):
        cls = type(self)
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        cls.responded_at = time.perf_counter()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        cls.done.set()


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Parked polls are cut off when the function is stopped: expected, not worth a trace.
        pass


def peak_rss_kib(pid):
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


EXTRA_ENV = {}
ROUTES_FILE = ROOT / "events" / "routes.json"


def table_with_fleet_job(devices, directory):
    """events/routes.json plus a job that broadcasts one command to `devices` devices."""
    table = json.loads(ROUTES_FILE.read_text())
    table.setdefault("jobs", []).append({
        "name": "fleet-bench",
        "messages": [{"id": "cmd", "payload": {"cmd": "reboot"}}],
        "targets": [{
            "type": "fleet",
            "productKey": "a1BwAGV",
            "devices": [f"device-{i:06}" for i in range(devices)],
            "topicShortName": "cmd",
        }],
    })
    path = pathlib.Path(directory) / f"routes-fleet-{devices}.json"
    path.write_text(json.dumps(table))
    return path


def one_run(binary, event, sink, outbox, deliver):
    Runtime.event = event
    Runtime.deliver = deliver
    Runtime.ready_at = Runtime.responded_at = None
    Runtime.next_calls = 0
    Runtime.done = threading.Event()
    Runtime.stop = threading.Event()
    server = Server(("127.0.0.1", 0), Runtime)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": binary.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "FANOUT_SINK": sink,
        "FANOUT_OUTBOX_DIR": outbox,
        "FANOUT_ROUTES_FILE": str(ROUTES_FILE),
        "FANOUT_METRICS": "off",
        "RUST_LOG": "error",
        **EXTRA_ENV,
    }
    start = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        finished = Runtime.done.wait(30)
        rss = peak_rss_kib(proc.pid)
    finally:
        proc.kill()
        _, err = proc.communicate()
        Runtime.stop.set()
        server.shutdown()
        server.server_close()
    if not finished or Runtime.ready_at is None:
        raise SystemExit(f"{binary.name}: no response; stderr:\n{err.decode(errors='replace')}")
    first_event = (Runtime.responded_at - Runtime.ready_at) * 1000 if deliver else None
    return (Runtime.ready_at - start) * 1000, first_event, rss


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary_dir", type=pathlib.Path)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--ssl-cert-file",
        help="pass SSL_CERT_FILE, so TLS roots come from one bundle file instead of a scan of the "
        "certificate directory (Debian keeps ~140 hashed files there; Lambda's image does not)",
    )
    parser.add_argument("--fleet-job", type=int, default=0, metavar="DEVICES")
    args = parser.parse_args()
    if args.ssl_cert_file:
        EXTRA_ENV["SSL_CERT_FILE"] = args.ssl_cert_file
    tables = tempfile.TemporaryDirectory()
    if args.fleet_job:
        global ROUTES_FILE
        ROUTES_FILE = table_with_fleet_job(args.fleet_job, tables.name)
        print(f"table: events/routes.json + a job to {args.fleet_job} devices "
              f"({ROUTES_FILE.stat().st_size / 1e6:.1f} MB)")
    print(
        f"| function | size | ready, AWS clients built (median of {args.runs}) "
        "| ready, local outbox (no SDK) | first event on the local outbox (median) | peak RSS |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as outbox:
        for name, event_path in EVENTS.items():
            binary = args.binary_dir / name
            if not binary.exists():
                print(f"| {name} | missing: {binary} | | | | |")
                continue
            event = event_path.read_bytes()
            json.loads(event)
            cold = [one_run(binary, event, "aws", outbox, False) for _ in range(args.runs)]
            warm = [one_run(binary, event, "local", outbox, True) for _ in range(args.runs)]
            ready = statistics.median(r[0] for r in cold)
            ready_local = statistics.median(r[0] for r in warm)
            first = statistics.median(r[1] for r in warm)
            rss = max((r[2] or 0) for r in cold + warm)
            size = binary.stat().st_size / (1024 * 1024)
            print(f"| {name} | {size:.1f} MiB | {ready:.1f} ms | {ready_local:.1f} ms | {first:.1f} ms | {rss / 1024:.1f} MiB |")


if __name__ == "__main__":
    main()
