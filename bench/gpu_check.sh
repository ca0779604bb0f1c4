#!/usr/bin/env bash
# GPU check of the signal kernels on a CUDA host (H100/H200), offline, under 4 minutes.
#   bash bench/gpu_check.sh [OUTDIR]      (default: $OUT, else ./gpu_check_out)
# 1. installs the project with `pip install --no-deps -e .` and, from ./.whl only, the
#    dependencies that are not importable yet (never CuPy: the host's cupy-cuda13x is used);
# 2. runs the kernel tests, GPU ones included (cupy + numba-cuda vs the NumPy oracle);
# 3. times each stage of the CuPy pipeline on 10^8 device-resident rows against a
#    device-to-device copy, and the end-to-end pipeline per backend on 10^7 rows (host columns
#    in and out); each stage on its own: a failing stage is one "error" line, the rest still runs,
#    and results.json is rewritten after every stage (so a timeout keeps what was measured);
# writing at most 7 files to OUTDIR: install.txt, versions.txt, nvidia-smi.txt, pytest.txt,
# bench.txt, results.json, summary.txt. Every step has a timeout and the timeouts add up to
# 335 s; nothing waits on the network. The summary table gives, per stage, the bytes per row
# it must move at the least (floor: each input read once, each output written once) and the
# bytes it moves by design, and the fraction of copy = floor bytes per second / the copy's.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR="${1:-${OUT:-gpu_check_out}}"
mkdir -p "$OUTDIR"
PY="${PYTHON:-python3}"
export PY PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 NUMBA_CUDA_LOW_OCCUPANCY_WARNINGS=0

timeout 40 bash -c '
    # import name:distribution of each runtime dependency, installed from .whl only if missing
    missing=$("$PY" - <<"PY"
import importlib.util
deps = {"numpy": "numpy", "numba": "numba", "pyarrow": "pyarrow", "dpkt": "dpkt", "typer": "typer",
        "rich": "rich", "pytest": "pytest", "hypothesis": "hypothesis"}
print(" ".join(dist for mod, dist in deps.items() if importlib.util.find_spec(mod) is None))
PY
)
    echo "missing before install: ${missing:-none}"
    if [ -n "$missing" ] && [ -d .whl ]; then
        "$PY" -m pip install --no-index --find-links .whl $missing 2>&1 | tail -3
    fi
    "$PY" -m pip install --no-deps --no-index --no-build-isolation -e . 2>&1 | tail -3 \
        || "$PY" -m pip install --no-deps --no-index --no-build-isolation . 2>&1 | tail -3
' > "$OUTDIR/install.txt" 2>&1

timeout 20 "$PY" - > "$OUTDIR/versions.txt" 2>&1 <<'PY'
import importlib.metadata as md
for dist in ("tickaccel", "numpy", "numba", "numba-cuda", "cupy-cuda13x", "cupy-cuda12x", "pyarrow"):
    try:
        print(dist, md.version(dist))
    except md.PackageNotFoundError:
        pass
from numba import cuda
print("numba.cuda from", cuda.__file__, "available:", cuda.is_available())
PY

if ! timeout 20 "$PY" - <<'PY'
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
timeout 10 nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUTDIR/nvidia-smi.txt" 2>&1

timeout 150 "$PY" -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/test_kernels_cudasim.py -rs \
    > "$OUTDIR/pytest.txt" 2>&1
TESTS=$?
timeout 85 "$PY" bench/bench_kernels.py --device --rows "${GPU_ROWS:-100000000}" \
    --pipeline cupy cpu numba-cuda --pipeline-rows "${PIPELINE_ROWS:-10000000}" --budget-s 70 \
    --json "$OUTDIR/results.json" > "$OUTDIR/bench.txt" 2>&1
BENCH=$?

timeout 10 "$PY" - "$OUTDIR" "$TESTS" "$BENCH" <<'PY' | tee "$OUTDIR/summary.txt"
import json, sys, pathlib
out, tests, bench = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lines = (out / "pytest.txt").read_text().strip().splitlines() or ["(no output)"]
print(f"tests: exit {tests}{' (timed out)' if tests == 124 else ''}; {lines[-1]}")
print(f"bench: exit {bench}{' (timed out: results so far)' if bench == 124 else ''}")
try:
    report = json.loads((out / "results.json").read_text())
except (OSError, ValueError) as exc:
    print(f"  no results.json ({exc}); see bench.txt"); sys.exit(0)
for name, entry in report.get("setup", {}).items():
    if "error" in entry:
        print(f"  {name}: ERROR {entry['error']}")
dev = report.get("device", {})
if "copy_GBps" in dev:
    print(f"{dev['device']}: device-to-device copy {dev['copy_GBps']:.0f} GB/s (read + write), {dev['rows']:.0e} rows")
    print(f"  {'stage':40s} {'floor B/row':>11s} {'moved B/row':>11s} {'GB/s':>7s} {'of copy':>8s} {'rows/s':>10s}")
for name, k in report.get("kernels", {}).items():
    if "error" in k:
        print(f"  {name:40s} ERROR {k['error']}")
    else:
        print(f"  {name:40s} {k['floor_bytes_per_row']:11d} {k['moved_bytes_per_row']:11d} {k['GBps']:7.0f} "
              f"{100 * k['fraction_of_copy']:7.1f}% {k['rows_per_s']:10.3e}")
for name, p in report.get("pipeline", {}).items():
    if "error" in p:
        print(f"  pipeline {name:12s} ERROR {p['error']}")
    else:
        print(f"  pipeline {name:12s} {p['rows_per_s']:.3e} rows/s  {p['GBps']:.2f} GB/s (host in/out)")
PY
exit $(( TESTS != 0 || BENCH != 0 ))
