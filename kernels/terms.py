"""Scalar formulas that the Numba CPU kernel and the Numba-CUDA kernels both compile.

Plain Python functions, so that one definition serves `njit` and ``cuda.jit(device=True)``
alike; the NumPy reference (`tickaccel.kernels.reference`) computes the same quantities
its own, independent way, and the tests hold both to it.
"""
from __future__ import annotations

from tickaccel.kernels.reference import EMPTY_ASK


def ofi_term(bid, ask, bsz, asz, pbid, pask, pbsz, pasz):
    """Order-flow imbalance of a row (bid, ask, sizes) against its symbol's previous row (p...)."""
    bq = bsz if bid > 0 else 0
    ap = ask if ask > 0 else EMPTY_ASK
    aq = asz if ask > 0 else 0
    pbq = pbsz if pbid > 0 else 0
    pap = pask if pask > 0 else EMPTY_ASK
    paq = pasz if pask > 0 else 0
    e = 0
    if bid >= pbid:
        e += bq
    if bid <= pbid:
        e -= pbq
    if ap <= pap:
        e -= aq
    if ap >= pap:
        e += paq
    return e
