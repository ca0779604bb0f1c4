"""The synthetic market: symbols, prices and order flow, simulated into ITCH 5.0 messages.

The market is simulated in one Numba loop that writes length-prefixed
messages straight into a preallocated byte buffer: symbols with Zipf-skewed
activity, drifting mids on a tick grid, order lifecycles (add, partial
executions, cancel, delete, replace) against the generator's own book so every
reference is to a live order and no book ever locks or crosses, marketable
orders turned into executions, halts, crosses, and a sprinkle of every other
message type. Same config, same bytes.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
from numba import njit

from tickaccel.schema.itch import LENGTH_BY_TYPE, MESSAGE_LENGTHS
from tickaccel.schema.units import NS_PER_SECOND, PRICE_SCALE

MAX_PRICE = 0xFFFFFFFF  # Price(4) ceiling
ROUND_LOT = 100  # shares
_CENT = PRICE_SCALE // 100  # the tick from $1 up
_MAX_RECORD = 2 + max(MESSAGE_LENGTHS.values())
_SLOTS = 256  # live orders the generator keeps per symbol
_CROSS_SYMBOLS = 20  # most active symbols that get opening/closing crosses and NOII
_MPIDS = ("GSCO", "MSCO", "NITE", "UBSS", "CDRG", "VIRT", "JPMS", "BARD", "LATS", "SBSH")
_TEST_TICKERS = ("ZVZZT", "ZWZZT", "ZXZZT")  # NASDAQ's own test issues
# Names a reader expects to find, so examples such as `--symbols AAPL,MSFT` work on a
# generated feed; they replace drawn names, so the rest of a seeded feed stays the same.
_WELL_KNOWN_TICKERS = ("AAPL", "AMZN", "GOOGL", "META", "MSFT", "NVDA", "QQQ", "TSLA")

# ASCII codes the Numba loop uses as constants.
_A, _B, _C, _D, _E, _F, _H, _I, _J, _K, _L = (ord(c) for c in "ABCDEFHIJKL")
_M, _N, _O, _P, _Q, _R, _S, _T, _U, _V, _W, _X, _Y = (ord(c) for c in "MNOPQRSTUVWXY")
_h = ord("h")
_SPACE = ord(" ")
_PRICE_VARIATION = np.frombuffer(b" L123456789ABC", dtype=np.uint8)


@dataclass(frozen=True)
class GeneratorConfig:
    """What the synthetic session looks like; every field has a realistic default."""

    n_messages: int = 1_000_000
    n_symbols: int = 1000
    seed: int = 0
    start_ns: int = 9 * 3600 * NS_PER_SECOND + 25 * 60 * NS_PER_SECOND  # 09:25, before the open
    end_ns: int = 16 * 3600 * NS_PER_SECOND + 5 * 60 * NS_PER_SECOND  # 16:05, after the close
    rate: float | None = None  # messages per second of feed time; None spreads start..end
    zipf_exponent: float = 1.1
    target_depth: int = 60  # live orders per symbol the add/remove balance settles around
    other_fraction: float = 0.01  # share of administrative / rare message types


def _tickers(n: int, rng: np.random.Generator) -> list[str]:
    """Unique, real-looking NASDAQ tickers: mostly 4 letters, some 1-3, some 5 with a class suffix."""
    letters = np.array(list(string.ascii_uppercase))
    chosen: list[str] = list(_TEST_TICKERS) if n > 3 else []
    seen = set(chosen)
    lengths = np.array([1, 2, 3, 4, 5])
    weights = np.array([0.01, 0.04, 0.25, 0.6, 0.1])
    while len(chosen) < n:
        length = int(rng.choice(lengths, p=weights))
        name = "".join(rng.choice(letters, size=length))
        if length == 5:
            name = name[:4] + "WURQ"[int(rng.integers(4))]  # warrant, unit, right, bankrupt
        if name not in seen:
            seen.add(name)
            chosen.append(name)
    if n >= 4 * len(_WELL_KNOWN_TICKERS):
        drawn = [i for i, name in enumerate(chosen) if name not in _TEST_TICKERS]
        for i, name in zip(drawn, (t for t in _WELL_KNOWN_TICKERS if t not in seen)):
            chosen[i] = name
    return sorted(chosen)  # stock locates are assigned alphabetically, as NASDAQ does


def _symbol_tables(config: GeneratorConfig, rng: np.random.Generator):
    """Tickers (as text and as 8-byte rows), starting mids, ticks, the activity CDF and the busiest symbols."""
    n = config.n_symbols
    tickers = _tickers(n, rng)
    ticker_bytes = np.frombuffer("".join(t.ljust(8) for t in tickers).encode("ascii"),
                                 dtype=np.uint8).reshape(n, 8).copy()
    # Log-uniform prices from $0.20 to $5000, plus fixed extremes to exercise price handling.
    dollars = np.exp(rng.uniform(np.log(0.2), np.log(5000.0), size=n))
    if n >= 4:
        dollars[rng.choice(n, size=2, replace=False)] = [0.0123, 4321.0]
    mid = np.round(dollars * PRICE_SCALE)
    tick = np.where(dollars < 1.0, 1, _CENT).astype(np.int64)  # sub-penny quoting below $1
    activity = 1.0 / np.arange(1, n + 1) ** config.zipf_exponent
    activity = activity[rng.permutation(n)]
    cdf = np.cumsum(activity) / activity.sum()
    busiest = np.argsort(-activity, kind="stable")[: min(_CROSS_SYMBOLS, n)].astype(np.int64)
    return tickers, ticker_bytes, mid.astype(np.float64), tick, cdf, busiest


def min_messages(n_symbols: int) -> int:
    """The smallest feed for ``n_symbols``: directory, open and close crosses, system events."""
    crosses = 2 * min(_CROSS_SYMBOLS, n_symbols) + 1
    return n_symbols + 3 + 2 * crosses + 2


# ---- the Numba core: big-endian writers and the market loop ----

@njit(cache=True)
def _put(out, pos, value, nbytes):
    for i in range(nbytes):
        out[pos + nbytes - 1 - i] = (value >> (8 * i)) & 0xFF
    return pos + nbytes


@njit(cache=True)
def _put_stock(out, pos, tickers, s):
    for i in range(8):
        out[pos + i] = tickers[s, i]
    return pos + 8


@njit(cache=True)
def _start(out, pos, mtype, lengths, locate, tracking, ts):
    """Length prefix and the 11-byte common header; returns where the body starts."""
    pos = _put(out, pos, lengths[mtype], 2)
    out[pos] = mtype
    pos = _put(out, pos + 1, locate, 2)
    pos = _put(out, pos, tracking, 2)
    return _put(out, pos, ts, 6)


@njit(cache=True)
def _shares(rng):
    """Round lots mostly, odd lots often, single shares and block sizes of millions rarely."""
    u = rng.random()
    if u < 0.01:
        return 1
    if u < 0.16:
        return rng.integers(2, ROUND_LOT)
    if u < 0.998:
        return ROUND_LOT * rng.geometric(0.3)
    return 100_000 * rng.integers(10, 60)


@njit(cache=True)
def _best(refs, side, price, live, want):
    """Slot of the order first in line on one side (+1 buy, -1 sell): best price, then
    earliest (smallest reference); -1 if the side is empty."""
    best = -1
    for k in range(live):
        if side[k] != want:
            continue
        if best < 0:
            best = k
        elif price[k] == price[best]:
            if refs[k] < refs[best]:
                best = k
        elif (want > 0) == (price[k] > price[best]):
            best = k
    return best


@njit(cache=True)
def _remove(refs, side, price, shares, s, k, live):
    last = live[s] - 1
    refs[s, k], side[s, k], price[s, k], shares[s, k] = refs[s, last], side[s, last], price[s, last], shares[s, last]
    live[s] = last


@njit(cache=True)
def _next_ts(rng, ts, mean_gap):
    return ts + 1 + np.int64(rng.exponential(mean_gap))


@njit(cache=True)
def _on_tick(value, tick):
    return max(tick, np.int64(np.round(value / tick)) * tick)


@njit(cache=True)
def _w_system(out, pos, lengths, ts, code):
    p = _start(out, pos, _S, lengths, 0, 0, ts)
    out[p] = code
    return p + 1


@njit(cache=True)
def _w_add(out, pos, lengths, s, tracking, ts, tickers, ref, buy, qty, px, mpid):
    p = _start(out, pos, _F if mpid.shape[0] else _A, lengths, s + 1, tracking, ts)
    p = _put(out, p, ref, 8)
    out[p] = _B if buy else _S
    p = _put(out, p + 1, qty, 4)
    p = _put_stock(out, p, tickers, s)
    p = _put(out, p, px, 4)
    for i in range(mpid.shape[0]):
        out[p + i] = mpid[i]
    return p + mpid.shape[0]


@njit(cache=True)
def _w_execution(out, pos, lengths, s, tracking, ts, ref, qty, match, with_price, printable, px):
    p = _start(out, pos, _C if with_price else _E, lengths, s + 1, tracking, ts)
    p = _put(out, p, ref, 8)
    p = _put(out, p, qty, 4)
    p = _put(out, p, match, 8)
    if with_price:
        out[p] = printable
        p = _put(out, p + 1, px, 4)
    return p


@njit(cache=True)
def _w_cross(out, pos, lengths, s, tracking, ts, tickers, qty, px, match, cross_type):
    p = _start(out, pos, _Q, lengths, s + 1, tracking, ts)
    p = _put(out, p, qty, 8)
    p = _put_stock(out, p, tickers, s)
    p = _put(out, p, px, 4)
    p = _put(out, p, match, 8)
    out[p] = cross_type
    return p + 1


@njit(cache=True)
def _w_noii(rng, out, pos, lengths, s, tracking, ts, tickers, px, cross_type):
    p = _start(out, pos, _I, lengths, s + 1, tracking, ts)
    p = _put(out, p, rng.integers(0, 2_000_000), 8)
    p = _put(out, p, rng.integers(0, 200_000), 8)
    out[p] = (_B, _S, _N, _O)[rng.integers(0, 4)]
    p = _put_stock(out, p + 1, tickers, s)
    for _ in range(3):
        p = _put(out, p, px, 4)
    out[p] = cross_type
    out[p + 1] = _PRICE_VARIATION[rng.integers(0, _PRICE_VARIATION.shape[0])]
    return p + 2


@njit(cache=True)
def _w_halt(out, pos, lengths, s, tracking, ts, tickers, state, reason):
    p = _start(out, pos, _H, lengths, s + 1, tracking, ts)
    p = _put_stock(out, p, tickers, s)
    out[p] = state
    out[p + 1] = _SPACE
    for i in range(4):
        out[p + 2 + i] = reason[i]
    return p + 6


@njit(cache=True)
def _w_other(rng, out, pos, lengths, s, tracking, ts, tickers, mpids, px, next_match):
    """One administrative or rare message (Y L I N K J h W O B) about symbol ``s``."""
    u = rng.random()
    if u < 0.2:
        p = _start(out, pos, _Y, lengths, s + 1, tracking, ts)
        p = _put_stock(out, p, tickers, s)
        out[p] = ord("0") + rng.integers(0, 3)
        return p + 1
    if u < 0.37:
        p = _start(out, pos, _L, lengths, s + 1, tracking, ts)
        m = rng.integers(0, mpids.shape[0])
        for i in range(4):
            out[p + i] = mpids[m, i]
        p = _put_stock(out, p + 4, tickers, s)
        out[p] = (_Y, _N)[rng.integers(0, 2)]
        out[p + 1] = (_N, _P, _S, _R, _L)[rng.integers(0, 5)]
        out[p + 2] = (_A, _E, _W, _S, _D)[rng.integers(0, 5)]
        return p + 3
    if u < 0.52:
        return _w_noii(rng, out, pos, lengths, s, tracking, ts, tickers, px, (_O, _C, _H)[rng.integers(0, 3)])
    if u < 0.64:
        p = _start(out, pos, _N, lengths, s + 1, tracking, ts)
        p = _put_stock(out, p, tickers, s)
        out[p] = (_B, _S, _A, _N)[rng.integers(0, 4)]
        return p + 1
    if u < 0.69:
        p = _start(out, pos, _K, lengths, s + 1, tracking, ts)
        p = _put_stock(out, p, tickers, s)
        p = _put(out, p, ts // NS_PER_SECOND + 900, 4)
        out[p] = (_A, _C)[rng.integers(0, 2)]
        return _put(out, p + 1, px, 4)
    if u < 0.77:
        p = _start(out, pos, _J, lengths, s + 1, tracking, ts)
        p = _put_stock(out, p, tickers, s)
        p = _put(out, p, px, 4)
        p = _put(out, p, px + px // 20, 4)
        p = _put(out, p, px - px // 20, 4)
        return _put(out, p, rng.integers(0, 4), 4)
    if u < 0.84:
        p = _start(out, pos, _h, lengths, s + 1, tracking, ts)
        p = _put_stock(out, p, tickers, s)
        out[p] = (_Q, _B, _X)[rng.integers(0, 3)]
        out[p + 1] = (_H, _T)[rng.integers(0, 2)]
        return p + 2
    if u < 0.86:
        p = _start(out, pos, _W, lengths, 0, tracking, ts)
        out[p] = ord("1") + rng.integers(0, 3)
        return p + 1
    if u < 0.90:
        p = _start(out, pos, _O, lengths, s + 1, tracking, ts)
        p = _put_stock(out, p, tickers, s)
        out[p] = (_Y, _N)[rng.integers(0, 2)]
        p = _put(out, p + 1, px - px // 10, 4)
        p = _put(out, p, px + px // 10, 4)
        p = _put(out, p, px, 4)
        p = _put(out, p, ts + 60 * NS_PER_SECOND, 8)
        p = _put(out, p, px - px // 20, 4)
        return _put(out, p, px + px // 20, 4)
    if next_match > 1:
        p = _start(out, pos, _B, lengths, 0, tracking, ts)
        return _put(out, p, rng.integers(1, next_match), 8)
    p = _start(out, pos, _Y, lengths, s + 1, tracking, ts)
    p = _put_stock(out, p, tickers, s)
    out[p] = ord("0")
    return p + 1


@njit(cache=True)
def _simulate(rng, out, n_messages, lengths, tickers, directory, mid, tick, cdf, busiest, mpids,
              start_ns, mean_gap, target_depth, other_fraction):
    """Write ``n_messages`` length-prefixed messages into ``out``; returns the bytes written."""
    n_sym = tickers.shape[0]
    refs = np.zeros((n_sym, _SLOTS), np.int64)
    side = np.zeros((n_sym, _SLOTS), np.int64)
    price = np.zeros((n_sym, _SLOTS), np.int64)
    shares = np.zeros((n_sym, _SLOTS), np.int64)
    live = np.zeros(n_sym, np.int64)
    halted_until = np.full(n_sym, -1, np.int64)  # message count from which a halted symbol may resume
    no_mpid = np.zeros(0, np.uint8)
    halt_reason = np.array([_L, _U, _D, _P], np.uint8)  # "LUDP": limit up-limit down pause
    no_reason = np.full(4, _SPACE, np.uint8)
    pos = 0
    count = 0
    ts = start_ns
    next_ref = 1
    next_match = 1
    n_cross = busiest.shape[0]
    # Fixed parts: O S, a directory entry per symbol, V; NOII + crosses around the
    # open and close with S 'Q' and S 'M'; E and C at the very end.
    close_at = n_messages - 2 - (2 * n_cross + 1)
    open_at = n_sym + 3 + (close_at - n_sym - 3 - (2 * n_cross + 1)) // 50
    for code in (_O, _S):
        pos = _w_system(out, pos, lengths, ts, code)
        count += 1
    for s in range(n_sym):
        ts = _next_ts(rng, ts, mean_gap)
        p = _start(out, pos, _R, lengths, s + 1, 0, ts)
        for i in range(directory.shape[1]):
            out[p + i] = directory[s, i]
        pos = p + directory.shape[1]
        count += 1
    ts = _next_ts(rng, ts, mean_gap)
    p = _start(out, pos, _V, lengths, 0, 0, ts)
    p = _put(out, p, 4_500_000_000_000, 8)
    p = _put(out, p, 4_200_000_000_000, 8)
    pos = _put(out, p, 3_800_000_000_000, 8)
    count += 1

    opened = False
    while count < n_messages:  # left by `break` after the close; `while True` trips Numba's typing
        limit = close_at if opened else open_at
        if count >= limit:
            cross_type = _C if opened else _O
            for j in range(n_cross):
                s = busiest[j]
                ts = _next_ts(rng, ts, mean_gap)
                pos = _w_noii(rng, out, pos, lengths, s, count & 7, ts, tickers, _on_tick(mid[s], tick[s]), cross_type)
                count += 1
            if not opened:
                ts = _next_ts(rng, ts, mean_gap)
                pos = _w_system(out, pos, lengths, ts, _Q)
                count += 1
            for j in range(n_cross):
                s = busiest[j]
                ts = _next_ts(rng, ts, mean_gap)
                pos = _w_cross(out, pos, lengths, s, count & 7, ts, tickers, rng.integers(1000, 5_000_000),
                               _on_tick(mid[s], tick[s]), next_match, cross_type)
                next_match += 1
                count += 1
            if opened:
                ts = _next_ts(rng, ts, mean_gap)
                pos = _w_system(out, pos, lengths, ts, _M)
                count += 1
                break
            opened = True
            continue
        room = limit - count
        s = np.searchsorted(cdf, rng.random(), side="right")
        if s >= n_sym:
            s = n_sym - 1
        t = tick[s]
        n = live[s]
        bid = _best(refs[s], side[s], price[s], n, 1)
        ask = _best(refs[s], side[s], price[s], n, -1)
        # The mid wanders and is pulled towards the book, so quotes follow it.
        drift = mid[s] + rng.standard_normal() * 0.3 * t
        if bid >= 0 and ask >= 0:
            drift = 0.9 * drift + 0.05 * (price[s, bid] + price[s, ask])
        mid[s] = min(max(drift, 2.0 * t), 4.0e9)
        ts = _next_ts(rng, ts, mean_gap)
        tracking = count & 7

        if rng.random() < other_fraction:
            if rng.random() < 0.1 and halted_until[s] < 0:
                pos = _w_halt(out, pos, lengths, s, tracking, ts, tickers, _H, halt_reason)
                halted_until[s] = count + 50 + rng.integers(0, 5000)
            else:
                pos = _w_other(rng, out, pos, lengths, s, tracking, ts, tickers, mpids, _on_tick(mid[s], t), next_match)
            count += 1
            continue

        if halted_until[s] >= 0:
            if count >= halted_until[s] or n == 0:
                pos = _w_halt(out, pos, lengths, s, tracking, ts, tickers, _T, no_reason)
                count += 1
                halted_until[s] = -1
                if room > 1 and rng.random() < 0.5:
                    ts = _next_ts(rng, ts, mean_gap)
                    pos = _w_cross(out, pos, lengths, s, tracking, ts, tickers, rng.integers(100, 500_000),
                                   _on_tick(mid[s], t), next_match, _H)
                    next_match += 1
                    count += 1
                continue
            # Halted: orders may only leave the book.
            k = rng.integers(0, n)
            pos = _start(out, pos, _D, lengths, s + 1, tracking, ts)
            pos = _put(out, pos, refs[s, k], 8)
            _remove(refs, side, price, shares, s, k, live)
            count += 1
            continue

        if n < _SLOTS and rng.random() * (target_depth + n) < target_depth:
            # Add: mostly at or near the touch, a tail deeper in the book.
            if bid < 0 and ask >= 0:
                buy = True
            elif ask < 0 and bid >= 0:
                buy = False
            else:
                buy = rng.random() < 0.5
            depth = rng.geometric(0.45) - 1 if rng.random() < 0.85 else rng.integers(3, 150)
            if buy:
                px = max(t, np.int64(np.floor(mid[s] / t)) * t - depth * t)
            else:
                px = min(np.int64(np.ceil(mid[s] / t)) * t + depth * t, MAX_PRICE - MAX_PRICE % t)
            qty = _shares(rng)
            traded = False
            opposite = ask if buy else bid
            # A marketable order trades against the opposite side (first in line first)
            # instead of resting across it; what is left over may rest at its limit.
            while opposite >= 0 and room > 0 and qty > 0 and \
                    ((buy and px >= price[s, opposite]) or (not buy and px <= price[s, opposite])):
                fill = min(qty, shares[s, opposite])
                with_price = rng.random() < 0.1
                pos = _w_execution(out, pos, lengths, s, tracking, ts, refs[s, opposite], fill, next_match,
                                   with_price, _Y, price[s, opposite])
                next_match += 1
                count += 1
                room -= 1
                traded = True
                qty -= fill
                shares[s, opposite] -= fill
                if shares[s, opposite] == 0:
                    _remove(refs, side, price, shares, s, opposite, live)
                opposite = _best(refs[s], side[s], price[s], live[s], -1 if buy else 1)
                ts = _next_ts(rng, ts, mean_gap)
            crosses = opposite >= 0 and ((buy and px >= price[s, opposite]) or (not buy and px <= price[s, opposite]))
            if room > 0 and qty > 0 and not crosses and (not traded or rng.random() < 0.5):
                k = live[s]
                refs[s, k], side[s, k], price[s, k], shares[s, k] = next_ref, 1 if buy else -1, px, qty
                live[s] = k + 1
                mpid = mpids[rng.integers(0, mpids.shape[0])] if rng.random() < 0.1 else no_mpid
                pos = _w_add(out, pos, lengths, s, tracking, ts, tickers, next_ref, buy, qty, px, mpid)
                next_ref += 1
                count += 1
            continue

        u = rng.random()
        if u < 0.2 and n > 0:
            # Execution of the order first in line on one side.
            want = 1 if rng.random() < 0.5 else -1
            k = bid if want > 0 else ask
            if k < 0:
                k = ask if want > 0 else bid
            fill = shares[s, k]
            if fill > ROUND_LOT and rng.random() < 0.6:
                fill = rng.integers(1, fill)
            with_price = rng.random() < 0.12
            pos = _w_execution(out, pos, lengths, s, tracking, ts, refs[s, k], fill, next_match,
                               with_price, _Y if rng.random() < 0.9 else _N, price[s, k])
            next_match += 1
            shares[s, k] -= fill
            if shares[s, k] == 0:
                _remove(refs, side, price, shares, s, k, live)
        elif u < 0.26 or n == 0:
            # Hidden (non-displayed) trade inside the spread.
            px = _on_tick(mid[s], t)
            if bid >= 0:
                px = max(px, price[s, bid])
            if ask >= 0:
                px = min(px, price[s, ask])
            p = _start(out, pos, _P, lengths, s + 1, tracking, ts)
            p = _put(out, p, 0, 8)
            out[p] = _B if rng.random() < 0.5 else _S
            p = _put(out, p + 1, _shares(rng), 4)
            p = _put_stock(out, p, tickers, s)
            p = _put(out, p, px, 4)
            pos = _put(out, p, next_match, 8)
            next_match += 1
        else:
            k = rng.integers(0, n)
            v = rng.random()
            if v < 0.22 and shares[s, k] > 1:
                cancelled = rng.integers(1, shares[s, k])
                p = _start(out, pos, _X, lengths, s + 1, tracking, ts)
                p = _put(out, p, refs[s, k], 8)
                pos = _put(out, p, cancelled, 4)
                shares[s, k] -= cancelled
            elif v < 0.45:
                # Replace: new reference, new size, a price a few ticks away that does not cross.
                px = max(t, price[s, k] + (rng.integers(0, 5) - 2) * t)
                if side[s, k] > 0 and ask >= 0:
                    px = min(px, price[s, ask] - t)
                elif side[s, k] < 0 and bid >= 0:
                    px = max(px, price[s, bid] + t)
                if px < t:
                    px = price[s, k]
                qty = _shares(rng)
                p = _start(out, pos, _U, lengths, s + 1, tracking, ts)
                p = _put(out, p, refs[s, k], 8)
                p = _put(out, p, next_ref, 8)
                p = _put(out, p, qty, 4)
                pos = _put(out, p, px, 4)
                refs[s, k], price[s, k], shares[s, k] = next_ref, px, qty
                next_ref += 1
            else:
                p = _start(out, pos, _D, lengths, s + 1, tracking, ts)
                pos = _put(out, p, refs[s, k], 8)
                _remove(refs, side, price, shares, s, k, live)
        count += 1

    for code in (_E, _C):
        ts = _next_ts(rng, ts, mean_gap)
        pos = _w_system(out, pos, lengths, ts, code)
        count += 1
    return pos



def _directory(tickers: list[str], mid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The 28 bytes after the header of each symbol's Stock Directory (R) message."""
    rows = []
    for name, price in zip(tickers, mid):
        test_issue = name in _TEST_TICKERS
        rows.append(b"".join([
            name.ljust(8).encode("ascii"),
            b"QGS"[int(rng.integers(3))].to_bytes(1, "big"),  # market category
            b"N",  # financial status: normal
            ROUND_LOT.to_bytes(4, "big"),  # round lot size
            b"N",  # round lots only
            b"C" if rng.random() < 0.85 else b"A" if rng.random() < 0.5 else b"F",  # common, ADS, receipt
            b"Z " if rng.random() < 0.8 else b"CS",
            b"T" if test_issue else b"P",  # authenticity: test or production
            b"N", b" ",  # short sale threshold, IPO flag
            b"1" if price >= 3 * PRICE_SCALE else b"2",  # LULD tier
            b"N", (0).to_bytes(4, "big"), b"N",  # ETP flag, leverage, inverse
        ]))
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(tickers), 28).copy()


def generate_feed(config: GeneratorConfig) -> np.ndarray:
    """A synthetic feed of exactly ``config.n_messages`` length-prefixed ITCH messages (uint8 array).

    Same config, same bytes.
    """
    if not 1 <= config.n_symbols <= 65535:
        raise ValueError(f"n_symbols must be 1..65535 (stock locate is 2 bytes), got {config.n_symbols}")
    needed = min_messages(config.n_symbols)
    if config.n_messages < needed:
        raise ValueError(f"{config.n_symbols} symbols need at least {needed} messages, "
                         f"got {config.n_messages}")
    if config.rate is not None:
        if config.rate <= 0:
            raise ValueError("rate must be positive")
        gap_ns = NS_PER_SECOND / config.rate
    else:
        if config.end_ns <= config.start_ns:
            raise ValueError("end_ns must be after start_ns")
        gap_ns = (config.end_ns - config.start_ns) / config.n_messages
    rng = np.random.default_rng(config.seed)
    tickers, ticker_bytes, mid, tick, cdf, busiest = _symbol_tables(config, rng)
    directory = _directory(tickers, mid, rng)
    mpids = np.frombuffer("".join(_MPIDS).encode("ascii"), dtype=np.uint8).reshape(-1, 4).copy()
    out = np.empty(config.n_messages * _MAX_RECORD, dtype=np.uint8)
    written = _simulate(rng, out, config.n_messages, LENGTH_BY_TYPE, ticker_bytes, directory, mid, tick,
                        cdf, busiest, mpids, config.start_ns, max(gap_ns - 1.0, 0.0),
                        config.target_depth, config.other_fraction)
    return out[:written].copy()

