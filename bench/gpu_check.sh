#!/usr/bin/env bash
# GPU check of the signal kernels on a CUDA host (H100/H200), offline, under 4 minutes.
#   bash bench/gpu_check.sh [OUTDIR]      (default: $OUT, else ./gpu_check_out)
# 1. installs the project with `pip install --no-deps -e .` and, from ./.whl only, the
#    dependencies that are not importable yet (never CuPy: the host's cupy-cuda13x is used);
# 2. runs the kernel tests, GPU ones included (cupy + numba-cuda vs the NumPy oracle);
# 3. times each CuPy kernel on 10^8 device-resident rows against a device-to-device copy
#    (fraction of copy = bytes the kernel reads + writes per second / the copy's), and the
#    end-to-end pipeline per backend on 10^7 rows (host columns in and out);
# writing at most 7 files to OUTDIR: install.txt, versions.txt, nvidia-smi.txt, pytest.txt,
# bench.txt, results.json, summary.txt. Every step has a timeout; nothing waits on the network.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR="${1:-${OUT:-gpu_check_out}}"
mkdir -p "$OUTDIR"
PY="${PYTHON:-python3}"
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0

{
    # import name:distribution of each runtime dependency, installed from .whl only if missing
    missing=$(timeout 60 "$PY" - <<'PY'
import importlib.util
deps = {"numpy": "numpy", "numba": "numba", "pyarrow": "pyarrow", "dpkt": "dpkt", "typer": "typer",
        "rich": "rich", "pytest": "pytest", "hypothesis": "hypothesis"}
print(" ".join(dist for mod, dist in deps.items() if importlib.util.find_spec(mod) is None))
PY
)
    echo "missing before install: ${missing:-none}"
    if [ -n "$missing" ] && [ -d .whl ]; then
        timeout 60 "$PY" -m pip install --no-index --find-links .whl $missing 2>&1 | tail -3
    fi
    timeout 60 "$PY" -m pip install --no-deps --no-index --no-build-isolation -e . 2>&1 | tail -3 \
        || timeout 60 "$PY" -m pip install --no-deps --no-index --no-build-isolation . 2>&1 | tail -3
} > "$OUTDIR/install.txt" 2>&1

timeout 60 "$PY" - > "$OUTDIR/versions.txt" 2>&1 <<'PY'
import importlib.metadata as md
for dist in ("tickaccel", "numpy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x", "pyarrow"):
    try:
        print(dist, md.version(dist))
    except md.PackageNotFoundError:
        pass
from numba import cuda
print("numba.cuda from", cuda.__file__, "available:", cuda.is_available())
PY

if ! timeout 60 "$PY" - <<'PY'
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
timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUTDIR/nvidia-smi.txt" 2>&1

timeout 80 "$PY" -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/test_kernels_cudasim.py -rs \
    > "$OUTDIR/pytest.txt" 2>&1
TESTS=$?
timeout 90 "$PY" bench/bench_kernels.py --device --rows "${GPU_ROWS:-100000000}" \
    --pipeline cupy numba-cuda cpu --pipeline-rows "${PIPELINE_ROWS:-10000000}" \
    --json "$OUTDIR/results.json" > "$OUTDIR/bench.txt" 2>&1
BENCH=$?

timeout 30 "$PY" - "$OUTDIR" "$TESTS" "$BENCH" <<'PY' | tee "$OUTDIR/summary.txt"
import json, sys, pathlib
out, tests, bench = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lines = (out / "pytest.txt").read_text().strip().splitlines() or ["(no output)"]
print(f"tests: exit {tests}{' (timed out)' if tests == 124 else ''}; {lines[-1]}")
if bench != 0 or not (out / "results.json").exists():
    print(f"bench: exit {bench}{' (timed out)' if bench == 124 else ''}; see bench.txt"); sys.exit(0)
report = json.loads((out / "results.json").read_text())
dev = report["device"]
print(f"{dev['device']}: device-to-device copy {dev['copy_GBps']:.0f} GB/s (read + write), {dev['rows']:.0e} rows")
for name, k in dev["kernels"].items():
    print(f"  {name:22s} {k['GBps']:8.0f} GB/s  {100 * k['fraction_of_copy']:5.1f}% of copy  {k['rows_per_s']:.3e} rows/s")
for name, p in report.get("pipeline", {}).items():
    print(f"  pipeline {name:12s} {p['rows_per_s']:.3e} rows/s  {p['GBps']:.2f} GB/s (host in/out)")
PY
exit $(( TESTS != 0 || BENCH != 0 ))
