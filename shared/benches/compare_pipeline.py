#!/usr/bin/env python3
"""The routing pipeline side by side with its Python peer, back to back on one machine.

Rust: the `compare` bench of the fanout crate (shared/benches/compare.rs). Python: the peer
(../shared/bench/peer_pipeline.py by default), the same work on the same 100 x 1 KiB envelopes with
the standard library and with orjson. Both time each case the same way (interleaved runs of at
least --min-time seconds, median). The machines here are shared and noisy, so the two run in
pairs, --rounds times, alternating which goes first; the table gives each side's best round and
the median of the per-round ratios (Rust over the faster Python back end of the same round).

Before timing, the peer checks its request bodies byte for byte against a dump of the Rust ones.

The Rust side is built as the functions are deployed (the release profile's fat LTO and one
codegen unit, where the other benches use thin LTO to build faster), in its own target directory
(target/bench-shipped) so the other benches are not rebuilt.

usage: compare_pipeline.py [--rounds 6] [--runs 7] [--min-time 0.25] [--peer PATH] [--python PY]
"""
import argparse
import json
import os
import pathlib
import re
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = ["floor (parse+serialize)"] + [
    f"{kind}, {n} routes" for n in (1, 10, 100) for kind in ("pipeline", "plan only")
]
PEER_LINE = re.compile(r"^(stdlib|orjson)\s+(.+?)\s{2,}([\d,]+)\s")


def rust_binary():
    """Builds the `compare` bench with the release profile's code generation and returns its
    executable."""
    env = dict(os.environ,
               CARGO_TARGET_DIR=str(ROOT / "target" / "bench-shipped"),
               CARGO_PROFILE_BENCH_LTO="fat",
               CARGO_PROFILE_BENCH_CODEGEN_UNITS="1")
    out = subprocess.run(
        ["cargo", "bench", "--locked", "-p", "fanout", "--bench", "compare", "--no-run",
         "--message-format=json-render-diagnostics"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and \
                msg["target"]["name"] == "compare":
            return msg["executable"]
    sys.exit("cargo built no `compare` bench executable")


def run_rust(binary, args):
    out = subprocess.run([binary, "--runs", str(args.runs), "--min-time", str(args.min_time)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return {d["case"]: d["msgs_per_s"] for d in map(json.loads, out.splitlines())}


def run_peer(args, dump=None):
    cmd = [args.python, str(args.peer), "--json", "both", "--runs", str(args.runs),
           "--min-time", str(args.min_time)]
    if dump:
        cmd += ["--compare", str(dump)]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    got = {}
    for line in out.splitlines():
        m = PEER_LINE.match(line)
        if m:
            got[(m.group(1), m.group(2).strip())] = float(m.group(3).replace(",", ""))
    if "byte for byte" not in out and dump:
        sys.exit("the peer did not confirm its bodies match Rust's byte for byte:\n" + out)
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.25)
    ap.add_argument("--peer", type=pathlib.Path, default=ROOT.parent / "shared" / "bench" / "peer_pipeline.py")
    ap.add_argument("--python", default=sys.executable, help="the Python that runs the peer (with orjson)")
    args = ap.parse_args()
    if not args.peer.exists():
        sys.exit(f"the Python peer is not at {args.peer}: pass --peer PATH")

    binary = rust_binary()
    dump = ROOT / "target" / "pipeline-lines.txt"
    subprocess.run([binary, "--runs", "1", "--min-time", "0", "--dump", str(dump)], check=True,
                   stdout=subprocess.DEVNULL)
    rust_rounds, peer_rounds = [], []
    for r in range(args.rounds):
        pair = [lambda: rust_rounds.append(run_rust(binary, args)),
                lambda: peer_rounds.append(run_peer(args, dump if r == 0 else None))]
        for run in (pair if r % 2 == 0 else reversed(pair)):
            run()
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    best = lambda rounds, key: max(x[key] for x in rounds)  # noqa: E731
    print(f"{args.rounds} paired rounds, each case {args.runs} interleaved runs of >= {args.min_time} s; "
          "messages per second, best round; ratio: Rust over the faster Python back end")
    print()
    print("| case | Rust | Python stdlib | Python orjson | Rust ÷ best Python (best rounds) "
          "| median of per-round ratios | Rust × its floor |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    floor = best(rust_rounds, CASES[0])
    for case in CASES:
        rust = best(rust_rounds, case)
        std = best(peer_rounds, ("stdlib", case))
        orj = best(peer_rounds, ("orjson", case))
        ratios = [rr[case] / max(pr[("stdlib", case)], pr[("orjson", case)])
                  for rr, pr in zip(rust_rounds, peer_rounds)]
        print(f"| {case} | {rust:,.0f} | {std:,.0f} | {orj:,.0f} | {rust / max(std, orj):.1f} "
              f"| {statistics.median(ratios):.1f} | {floor / rust:.2f} |")


if __name__ == "__main__":
    main()
