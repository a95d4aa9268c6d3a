#!/usr/bin/env bash
# The engine built with AddressSanitizer + UndefinedBehaviorSanitizer, running the engine tests.
# First it proves the sanitizer is live: a deliberate heap overflow (fastnn._core._sanitizer_probe, compiled only
# in this build) must be reported. The build is also the fault-injection build (FASTNN_FAULT_INJECT: an operator
# new that fails on request), so tests/test_fault_injection.py runs every allocation failure of build, compile,
# fit, evaluate, predict and load under the sanitizers. Called by .ci/run; runs on its own too: bash .ci/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-asan
. .venv-asan/bin/activate
pip install -q ".[test]" -C cmake.define.FASTNN_SANITIZE=ON -C cmake.define.FASTNN_FAULT_INJECT=ON \
  -C cmake.define.FASTNN_NATIVE=OFF \
  -C cmake.define.FASTNN_OPENMP=OFF -C cmake.build-type=RelWithDebInfo -C build-dir=build/asan
# Python itself is not instrumented: load the runtimes first, and do not count Python's own leaks. The module's own
# operator new (fault injection) allocates with malloc: memory that crosses into libstdc++'s out-of-line string
# code is freed by the other side's operator, which ASan would report as an alloc/dealloc mismatch.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:alloc_dealloc_mismatch=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
probe_log=$(mktemp)
# (run from another folder: from the repository root, python -c would import the source folder)
if (cd /tmp && python -c "import fastnn._core as c; c._sanitizer_probe()") 2>"$probe_log"; then
  echo "sanitize: the probe ran without a report: AddressSanitizer is NOT live"; exit 1
fi
grep -q "heap-buffer-overflow" "$probe_log" || { cat "$probe_log"; echo "sanitize: unexpected probe failure"; exit 1; }
echo "sanitize: AddressSanitizer is live (the probe's heap-buffer-overflow was reported)"
FASTNN_REQUIRE_FAULT_INJECT=1 pytest -q -p no:cacheprovider tests/test_ops.py tests/test_optimizers.py \
  tests/test_network_engine.py tests/test_gradcheck.py tests/test_layouts.py tests/test_engine_guards.py \
  tests/test_fault_injection.py tests/test_one_row_predict.py
deactivate
