#!/usr/bin/env bash
# GPU check of the signal kernels on a CUDA host (H100/H200), offline, < 5 minutes.
#   bash bench/gpu_check.sh [OUTDIR]      (default: $OUT, else ./gpu_check_out)
# 1. installs wheels from ./.whl if that folder exists (never from the network);
# 2. runs the kernel tests, GPU ones included (cupy + real numba-cuda vs the NumPy oracle);
# 3. times each CuPy kernel on 10^8 device-resident rows against a device-to-device copy,
#    and the end-to-end pipeline per backend on 10^7 rows;
# writing results.json, pytest.txt and summary.txt to OUTDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTDIR="${1:-${OUT:-gpu_check_out}}"
mkdir -p "$OUTDIR"
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] && PY=.venv/bin/python

if [ -d .whl ]; then
    "$PY" -m pip install --no-index --find-links .whl --quiet .whl/*.whl 2>&1 | tail -3 || true
fi
if ! "$PY" -c "import tickaccel.kernels" 2>/dev/null; then
    "$PY" -m pip install --no-index --no-deps --no-build-isolation --quiet -e . 2>&1 | tail -3
fi

if ! "$PY" - <<'PY'
import sys
try:
    import cupy
    ok = cupy.is_available()
except Exception as exc:
    print(f"gpu_check: cupy unusable: {exc}", file=sys.stderr); sys.exit(1)
if not ok:
    print("gpu_check: cupy sees no CUDA device", file=sys.stderr); sys.exit(1)
PY
then
    echo "gpu_check: no usable CUDA device here; nothing measured (run on a GPU host)" | tee "$OUTDIR/summary.txt" >&2
    exit 2
fi

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUTDIR/nvidia-smi.txt" 2>&1 || true
"$PY" -c "import cupy, numba, numpy; print('cupy', cupy.__version__, 'numba', numba.__version__, 'numpy', numpy.__version__)" \
    > "$OUTDIR/versions.txt"

set +e
timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/test_kernels_cudasim.py -rs \
    > "$OUTDIR/pytest.txt" 2>&1
TESTS=$?
timeout 120 "$PY" bench/bench_kernels.py --device --rows "${GPU_ROWS:-100000000}" \
    --pipeline cupy numba-cuda cpu --pipeline-rows "${PIPELINE_ROWS:-10000000}" \
    --json "$OUTDIR/results.json" > "$OUTDIR/bench.txt" 2>&1
BENCH=$?
set -e

"$PY" - "$OUTDIR" "$TESTS" "$BENCH" <<'PY' | tee "$OUTDIR/summary.txt"
import json, sys, pathlib
out, tests, bench = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
print(f"tests: exit {tests}; " + (out / "pytest.txt").read_text().strip().splitlines()[-1])
if bench != 0:
    print(f"bench: exit {bench}; see bench.txt"); sys.exit(0)
report = json.loads((out / "results.json").read_text())
dev = report["device"]
print(f"{dev['device']}: device-to-device copy {dev['copy_GBps']:.0f} GB/s, {dev['rows']:.0e} rows")
for name, k in dev["kernels"].items():
    print(f"  {name:22s} {k['GBps']:8.0f} GB/s  {100 * k['fraction_of_copy']:5.1f}% of copy  {k['rows_per_s']:.3e} rows/s")
for name, p in report.get("pipeline", {}).items():
    print(f"  pipeline {name:12s} {p['rows_per_s']:.3e} rows/s  {p['GBps']:.2f} GB/s (host in/out)")
PY
exit $(( TESTS != 0 || BENCH != 0 ))
