"""The numba-cuda kernels on Numba's CUDA simulator, against the NumPy oracle.

NUMBA_ENABLE_CUDASIM must be set before numba.cuda is first imported, and the
`cpu` tests in this process need the real numba, so the check runs in a
subprocess of its own.
"""
from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
from tickaccel.kernels.testing import assert_same_signals
from tickaccel.kernels import compute
from tickaccel.kernels.synthetic import synthetic_bbo, synthetic_depth, synthetic_trades

bbo = synthetic_bbo(150, n_symbols=6, seed=3, gap_ns=300_000, jump_every=60)
depth, trades = synthetic_depth(bbo), synthetic_trades(bbo)
expected = compute(bbo, backend="numpy", depth=depth, trades=trades)
for chunk_rows in (None, 41):
    assert_same_signals(expected, compute(bbo, backend="numba-cuda", depth=depth, trades=trades,
                                          chunk_rows=chunk_rows))
print("numba-cuda simulator matches the oracle")
"""


def test_numba_cuda_kernels_match_oracle_on_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "matches the oracle" in done.stdout
