#!/usr/bin/env bash
# The prepared GPU check of greenmachine (docs/gpu.md): on a CUDA machine, in at most GPU_CHECK_BUDGET
# seconds (default 420), it runs
#   1. `greenmachine info device=cuda` and nvidia-smi (the GPU, its driver, how energy is counted),
#   2. experiments/bench_statistics.py and experiments/bench_gp_eval.py on the GPU beside one CPU thread,
#   3. the fast tests (-m "not slow") with GREENMACHINE_DEVICE=cuda (every command's device=),
#   4. `greenmachine cache statistics=lean device=cuda` on TSS cifar10 for 180 s into a fresh cache,
#      then counts the archs it cached, their recorded seconds and joules,
# and writes only small files into $OUT (when set) or ./gpu_check_results: gpu.txt, bench_statistics.log,
# bench_gp_eval.log, tests.log, cache.log, summary.json.
# Without a CUDA GPU it is a dry run: it says so, checks that every command above parses (argument
# parsers, the Hydra config, pytest's selection) and exits 0. CI runs it that way (tests/test_gpu_check.py).
#
# Environment: PYTHON (default .venv/bin/python, else python3); GREENMACHINE_DATA (benchmark data,
# else ../shared/data); a folder .whl/ of wheels is installed first when present (docs/gpu.md).
set -u -o pipefail
cd "$(dirname "$0")/.."
RESULTS="${OUT:-gpu_check_results}"
mkdir -p "$RESULTS"
BUDGET="${GPU_CHECK_BUDGET:-420}"
CACHE_SECONDS="${GPU_CHECK_CACHE_SECONDS:-180}"
START=$SECONDS
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:////tmp/gpu_check_mlruns.db}"

if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gm_site .whl/*.whl \
        && export PYTHONPATH="/tmp/gm_site${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! "$PYTHON" -c "import greenmachine.conf" 2>/dev/null; then
    "$PYTHON" -m pip install -q --no-deps --no-build-isolation --no-index -e . || { echo "cannot install greenmachine"; exit 1; }
fi
GM=("$PYTHON" -m greenmachine)

left() {  # seconds of the budget still left, at most $1
    local rest=$((BUDGET - (SECONDS - START)))
    [ "$rest" -gt "$1" ] && rest=$1
    [ "$rest" -lt 1 ] && rest=1
    echo "$rest"
}

if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA GPU detected (torch.cuda.is_available() is False): dry run, checking that the commands parse"
    set -e
    "$PYTHON" experiments/bench_statistics.py --help >/dev/null
    "$PYTHON" experiments/bench_gp_eval.py --help >/dev/null
    "${GM[@]}" cache --cfg job space=nats_tss dataset=cifar10 statistics=lean archs=all device=cuda progress=false >/dev/null
    GREENMACHINE_DEVICE=cuda "${GM[@]}" info --cfg job --resolve | grep "^device: cuda$" >/dev/null
    "$PYTHON" -m pytest --collect-only -q -m "not slow" -p no:cacheprovider tests/test_energy.py >/dev/null
    echo "gpu_check: dry run passed; nothing was run on a GPU"
    exit 0
fi

echo "gpu_check: CUDA GPU found; results go to $RESULTS (budget ${BUDGET} s)"
{ nvidia-smi --query-gpu=name,memory.total,driver_version,power.limit --format=csv 2>&1
  "${GM[@]}" info device=cuda 2>&1; } > "$RESULTS/gpu.txt"

{ for device in cpu cuda; do
      echo "== bench_statistics --device $device"
      timeout "$(left 45)" "$PYTHON" experiments/bench_statistics.py --archs 4 --threads 1 --device "$device" 2>&1
      echo "(exit $?)"
  done; } > "$RESULTS/bench_statistics.log"

{ for device in cpu cuda; do
      echo "== bench_gp_eval --device $device"
      timeout "$(left 40)" "$PYTHON" experiments/bench_gp_eval.py --programs 500 --threads 1 --device "$device" 2>&1
      echo "(exit $?)"
  done; } > "$RESULTS/bench_gp_eval.log"

TEST_SECONDS=$(( $(left 100000) - CACHE_SECONDS - 20 ))
[ "$TEST_SECONDS" -gt 150 ] && TEST_SECONDS=150
[ "$TEST_SECONDS" -lt 10 ] && TEST_SECONDS=10
GREENMACHINE_DEVICE=cuda timeout -s INT -k 10 "$TEST_SECONDS" "$PYTHON" -m pytest -m "not slow" -q -p no:cacheprovider \
    --durations=15 tests > "$RESULTS/tests.log" 2>&1
echo "(exit $?, limit ${TEST_SECONDS} s)" >> "$RESULTS/tests.log"

CACHE_DIR=$(mktemp -d /tmp/gm_gpu_cache.XXXXXX)
GREENMACHINE_CACHE="$CACHE_DIR" timeout -s INT -k 15 "$(left "$CACHE_SECONDS")" "${GM[@]}" cache space=nats_tss \
    dataset=cifar10 statistics=lean archs=all device=cuda progress=false > "$RESULTS/cache.log" 2>&1
echo "(exit $?, limit ${CACHE_SECONDS} s)" >> "$RESULTS/cache.log"

"$PYTHON" - "$CACHE_DIR" "$RESULTS" "$CACHE_SECONDS" "$((SECONDS - START))" <<'EOF'
"""Count what the time-limited cache fill stored and summarise the check in summary.json."""
import json, sys
from pathlib import Path

import numpy as np
import torch

cache, results, limit, elapsed = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
passes = {}
for folder in sorted((cache / "statistics" / "nats_tss" / "cifar10").glob("*-*")):
    rows = [np.load(p) for p in folder.glob("part-*.npz")]
    if rows:
        arch = np.concatenate([r["arch"] for r in rows])
        joules = np.concatenate([r["joules"] for r in rows])
        labels = sorted({str(s) for r in rows for s in r["energy_source"]}) if all("energy_source" in r for r in rows) else []
        passes[folder.name.split("-")[0]] = {
            "archs": int(len(np.unique(arch))), "seconds": float(np.concatenate([r["seconds"] for r in rows]).sum()),
            "joules": float(np.nansum(joules)), "energy": labels}
archs = min((p["archs"] for p in passes.values()), default=0)
tail = (results / "tests.log").read_text().strip().splitlines()
summary = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
           "tests": next((line for line in reversed(tail) if " passed" in line or " failed" in line), tail[-1] if tail else ""),
           "cache_archs_with_every_lean_pass": archs, "cache_limit_seconds": limit,
           "cache_archs_per_second": archs / limit, "cache_passes": passes, "check_seconds": elapsed}
(results / "summary.json").write_text(json.dumps(summary, indent=2))
print(json.dumps(summary, indent=2))
EOF
echo "gpu_check: done in $((SECONDS - START)) s -> $RESULTS"
