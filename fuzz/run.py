"""Run every fuzz target for N inputs and print, per target, the inputs tried and the failures found.

    .venv/bin/python fuzz/run.py --runs 20000                 # short budget (CI / a quick check)
    .venv/bin/python fuzz/run.py --runs 1000000 --timeout 0   # the long budget: 1,000,000 inputs per target
    .venv/bin/python fuzz/run.py --runs 5000 rate rule        # some targets only

Failures (distinct signature: exception type and location) are listed with one reproducing input each, from
``fuzz/out/<target>.failures.jsonl``. Exit status 1 when any target failed (an unexpected exception, a hang
past the per-input timeout, or a harness crash).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fuzz.targets import TARGETS  # noqa: E402


def run_target(name: str, runs: int, out: Path, per_input_timeout: int, max_seconds: int) -> dict[str, object]:
    fails = out / f"{name}.failures.jsonl"
    fails.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        str(HERE / "harness.py"),
        name,
        f"-runs={runs}",
        f"-timeout={per_input_timeout}",
        "-max_len=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={out}/",  # slow, crash and timeout units go beside the logs, not into the checkout
    ]
    if max_seconds:
        cmd.append(f"-max_total_time={max_seconds}")
    env = {**os.environ, "USMCA_FUZZ_OUT": str(out)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE.parent)
    secs = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    (out / f"{name}.log").write_text(log)
    m = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log) or re.findall(r"Done (\d+) runs", log)
    tried = int(m[-1]) if m else 0
    records = [json.loads(x) for x in fails.read_text().splitlines()] if fails.exists() else []
    distinct: dict[str, dict[str, str]] = {}
    for r in records:
        distinct.setdefault(r["signature"], r)
    hang = "timeout" in log.lower() and "ERROR: libFuzzer: timeout" in log
    crashed = proc.returncode != 0 and not records
    return {
        "target": name,
        "inputs": tried,
        "seconds": round(secs, 1),
        "failing_inputs": len(records),
        "distinct": distinct,
        "hang": hang,
        "harness_crash": crashed,
        "rc": proc.returncode,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("targets", nargs="*", help=f"default: all ({', '.join(TARGETS)})")
    ap.add_argument("--runs", type=int, default=20_000, help="inputs per target (default 20000)")
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may take before it is a hang")
    ap.add_argument("--max-seconds", type=int, default=0, help="wall-clock cap per target (0: none)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args()
    names = args.targets or list(TARGETS)
    args.out.mkdir(parents=True, exist_ok=True)
    bad = 0
    print(f"{'target':20} {'inputs':>9} {'secs':>7} {'failing':>8} {'distinct':>8}  status")
    for name in names:
        r = run_target(name, args.runs, args.out, args.timeout, args.max_seconds)
        distinct = r["distinct"]
        assert isinstance(distinct, dict)
        ok = not distinct and not r["hang"] and not r["harness_crash"]
        bad += not ok
        status = "ok" if ok else ("HANG" if r["hang"] else "HARNESS CRASH" if r["harness_crash"] else "FAILURES")
        print(
            f"{name:20} {r['inputs']:>9} {r['seconds']:>7} {r['failing_inputs']:>8} {len(distinct):>8}  {status}",
            flush=True,
        )
        for sig, rec in distinct.items():
            print(f"    {sig}: {rec['message'][:120]!r}\n      input (hex, first 400 bytes): {rec['input'][:160]}")
        if r["harness_crash"] or r["hang"]:
            print(f"    see {args.out / (name + '.log')}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
