#!/usr/bin/env bash
# Bounded fuzz run over the model-file loader (tests/fuzz_loader.py), for CI: atheris (libFuzzer) when it can be
# installed, else the pure-Python mutation run over the same target. Fails on any crash or unexpected exception;
# prints the number of executions.   Usage: .ci/fuzz.sh [seconds]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${FUZZ_SECONDS:-60}}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

if python3 -c "import atheris" 2>/dev/null || pip install -q atheris >/dev/null 2>&1; then
  echo "fuzz: atheris, ${seconds} s"
  python3 tests/fuzz_loader.py -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    >"$log" 2>&1 || { tail -n 60 "$log"; echo "fuzz: FAILED (crash or unexpected exception above)"; exit 1; }
  runs="$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -n 1)"
  [ -n "$runs" ] || runs="$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')"
  echo "fuzz: ${runs:-?} executions in ${seconds} s, no crash"
else
  echo "fuzz: atheris not installable; pure-Python mutation run, ${seconds} s"
  FUZZ_SECONDS="$seconds" python3 - <<'PY'
import os, sys, time
import numpy as np
sys.path.insert(0, "tests")
import fuzz_loader as fuzz

seeds = fuzz.seed_inputs()
rng = np.random.RandomState(1234)
deadline = time.monotonic() + float(os.environ["FUZZ_SECONDS"])
runs = accepted = 0
while time.monotonic() < deadline:
    data = fuzz.mutate(seeds[runs % len(seeds)], rng)
    if fuzz.check_bytes(data):  # anything but ModelFileError propagates and fails the run
        accepted += 1
        assert data in seeds, "a damaged file loaded"
    runs += 1
print(f"fuzz: {runs} executions ({accepted} unchanged seeds accepted), no crash")
PY
fi
