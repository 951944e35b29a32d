"""Runs the libFuzzer harnesses (native/fuzz/) and reports executions, coverage and findings.

Build them first (clang):

    CC=clang CXX=clang++ cmake -S native -B build/native-fuzz -DAMP_NATIVE_FUZZ=ON -DAMP_NATIVE_BUILD_TESTS=OFF
    cmake --build build/native-fuzz -j2 --target amp_fuzz_descriptor amp_fuzz_plan amp_fuzz_control

then, e.g. for an hour per format on four cores, or until ten million executions each:

    python scripts/fuzz_long.py --seconds 3600 --jobs 4
    python scripts/fuzz_long.py --runs 10000000
    python scripts/fuzz_long.py --runs 10000000 --seconds 9600 --jobs 2 --formats control

Formats run one after another. The seeds in native/fuzz/corpus/<format>/ are read, never written:
what the fuzzer adds goes to build/fuzz/corpus/<format>/ (kept between runs), crashes, leaks,
timeouts and out-of-memory inputs to build/fuzz/findings/<format>/, logs to build/fuzz/logs/.
Prints one Markdown table row per format for docs/reliability.md; exits 1 if anything was found.
A finding is reproduced by running the harness on the file alone; once fixed, minimise it
(-minimize_crash=1 -runs=10000) and add it to native/fuzz/corpus/<format>/.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMATS = ("descriptor", "plan", "control")
# Every input is at most 8 KiB; one execution may take 10 s and 2 GiB at most: anything beyond is
# reported as a finding. (Reading blobs is held to a far smaller limit by the harnesses themselves:
# docs/formats.md.)
LIMITS = ["-max_len=8192", "-timeout=10", "-rss_limit_mb=2048", "-malloc_limit_mb=2048"]
# Every control input renders on up to four threads, whose interleavings make each execution touch
# thousands of features: the entropic schedule's bookkeeping of them then costs about three times
# the execution itself (54 against 182 executions per second in one measurement, same coverage).
EXTRA = {"control": ["-entropic=0"]}
PROGRESS = re.compile(r"#(\d+):?\s.*?cov: (\d+) ft: (\d+)")
EXEC_RATE = re.compile(r"exec/s:? (\d+)")


def machine() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                return f"{line.split(':', 1)[1].strip()}, {os.cpu_count()} cores"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def run_format(binary: Path, fmt: str, args, work: Path) -> dict:
    corpus = work / "corpus" / fmt
    findings = work / "findings" / fmt
    logs = work / "logs"
    for d in (corpus, findings, logs):
        d.mkdir(parents=True, exist_ok=True)
    before = set(findings.iterdir())
    command = [str(binary), str(corpus), str(ROOT / "native" / "fuzz" / "corpus" / fmt), *LIMITS,
               f"-artifact_prefix={findings}/", "-print_final_stats=1", *EXTRA.get(fmt, [])]
    if args.seconds:
        command.append(f"-max_total_time={args.seconds}")
    if args.runs:
        command.append(f"-runs={args.runs}")
    if args.jobs > 1:
        # fork mode: jobs in parallel, merged into one corpus; a finding does not end the run
        command += [f"-fork={args.jobs}", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1"]
    env = dict(os.environ)
    # A valid graph may ask for more memory than the machine has (a 60 s delay line on 64 channels):
    # allocations over 512 MiB are refused, as a full machine would refuse them, so that the
    # library's out-of-memory paths run instead of the fuzzer stopping.
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=512")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    log_path = logs / f"{fmt}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    print(f"== {fmt}: {' '.join(command)}\n   log: {log_path}", flush=True)
    started = time.monotonic()
    with open(log_path, "w") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, check=False).returncode
    elapsed = time.monotonic() - started
    executions = cov = ft = 0
    rate = None
    text = log_path.read_text(errors="replace")
    for line in text.splitlines():
        m = PROGRESS.search(line)
        if m:
            executions, cov, ft = int(m.group(1)), int(m.group(2)), int(m.group(3))
        m = EXEC_RATE.search(line)
        if m:
            rate = int(m.group(1))
        if line.startswith("stat::number_of_executed_units:"):
            executions = max(executions, int(line.split(":")[-1]))
    new = sorted(set(findings.iterdir()) - before)
    crashed = status != 0 and args.jobs <= 1
    return {"format": fmt, "executions": executions, "cov": cov, "ft": ft, "seconds": elapsed,
            "rate": executions / elapsed if elapsed > 0 else 0.0, "last_rate": rate, "findings": new,
            "status": status, "failed": bool(new) or crashed, "log": log_path}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, default=ROOT / "build" / "native-fuzz",
                        help="the AMP_NATIVE_FUZZ build directory")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "fuzz",
                        help="where the growing corpus, findings and logs go")
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--seconds", type=int, default=0, help="time per format")
    parser.add_argument("--runs", type=int, default=0,
                        help="executions per format (with --jobs, of all jobs together); with --seconds too, "
                             "the run ends at whichever comes first")
    parser.add_argument("--jobs", type=int, default=1, help="parallel fuzzing processes per format")
    args = parser.parse_args()
    if not args.seconds and not args.runs:
        parser.error("give --seconds or --runs")
    results = []
    for fmt in args.formats:
        binary = args.build / "fuzz" / f"amp_fuzz_{fmt}"
        if not binary.exists():
            print(f"{binary} is missing: build the harnesses first (see this script's docstring)", file=sys.stderr)
            return 2
        r = run_format(binary, fmt, args, args.work)
        results.append(r)
        verdict = "FAILED" if r["failed"] else "ok"
        print(f"   {fmt}: {r['executions']:,} executions in {r['seconds']:.0f} s ({r['rate']:.0f}/s), "
              f"cov {r['cov']}, ft {r['ft']}, findings {len(r['findings'])}, exit {r['status']}: {verdict}",
              flush=True)
        for f in r["findings"]:
            print(f"     finding: {f}")
    today = datetime.date.today().isoformat()
    print("\n| format | executions | exec/s | cov | ft | duration | jobs | machine | date | findings |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['format']} | {r['executions']:,} | {r['rate']:.0f} | {r['cov']} | {r['ft']} | "
              f"{r['seconds'] / 60:.1f} min | {args.jobs} | {machine()} | {today} | "
              f"{len(r['findings']) or 'none'} |")
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
