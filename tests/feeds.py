"""Hand-built test feeds: records, chunks and random (valid or faulty) message sequences."""
from __future__ import annotations

import json
import random
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from tickaccel.cli import main
from tickaccel.schema import itch
from tickaccel.feed import moldudp64
from tickaccel.feed.capture import udp_frame, write_pcap
from tickaccel.feed.chunk import FeedChunk
from tickaccel.feed.framing import DEST_IP, DEST_PORT

SYMBOLS = ("AAPL", "MSFT", "SPY", "QQQ", "TSLA", "NVDA", "AMZN", "META")


def record(msg: tuple) -> bytes:
    """One BinaryFILE record: 2-byte big-endian length, then the message."""
    body = itch.encode_message(msg)
    return struct.pack(">H", len(body)) + body


def binaryfile(messages: Iterable[tuple]) -> bytes:
    return b"".join(record(m) for m in messages)


def chunk(data: bytes, *, first_seq: int = 1, base_offset: int = 0,
          seqs: Sequence[int] | None = None) -> FeedChunk:
    """A whole byte string as one chunk (BinaryFILE style unless `seqs` is given)."""
    return FeedChunk(np.frombuffer(data, np.uint8), first_seq,
                     None if seqs is None else np.asarray(seqs, np.uint64),
                     base_offset if seqs is None else -1)


def record_offsets(data: bytes) -> list[int]:
    """Offset of every record's length prefix."""
    offsets, pos = [], 0
    while pos + 2 <= len(data):
        offsets.append(pos)
        pos += 2 + int.from_bytes(data[pos:pos + 2], "big")
    return offsets


def split(data: bytes, max_bytes: int) -> list[FeedChunk]:
    """BinaryFILE chunks of whole records, each at most `max_bytes` (or one record)."""
    out, start, seq = [], 0, 1
    offsets = record_offsets(data) + [len(data)]
    while start < len(data):
        end_i = next(i for i, off in enumerate(offsets) if off > start)
        while end_i + 1 < len(offsets) and offsets[end_i + 1] - start <= max_bytes:
            end_i += 1
        end = offsets[end_i]
        out.append(chunk(data[start:end], first_seq=seq, base_offset=start))
        seq += len(record_offsets(data[start:end]))
        start = end
    return out


def directory(n_symbols: int) -> list[tuple]:
    """R messages naming locates 1..n_symbols."""
    return [itch.make("R", stock_locate=i + 1, stock=symbol_name(i + 1))
            for i in range(n_symbols)]


def symbol_name(locate: int) -> str:
    base = SYMBOLS[(locate - 1) % len(SYMBOLS)]
    return base if locate <= len(SYMBOLS) else f"{base}{locate}"


class _Model:
    """Live orders of a feed being built, so that references stay valid."""

    def __init__(self) -> None:
        self.live: dict[int, list] = {}  # ref -> [locate, shares]
        self.refs: list[int] = []  # the live refs, for O(1) picks (removed lazily)
        self.next_ref = 1
        self.match = 1
        self.ts = 1_000

    def tick(self) -> int:
        self.ts += 7
        return self.ts

    def new_ref(self) -> int:
        self.next_ref += 1
        return self.next_ref


def ops_to_messages(ops: Iterable[tuple[int, int, int, int]], n_symbols: int = 3,
                    faults: bool = False) -> list[tuple]:
    """Turn a list of small integer tuples into a valid message sequence (a hypothesis target).

    Each op is (kind, a, b, c); `a` picks a symbol or live order, `b` a price
    offset and `c` a share count. With `faults`, some ops make unknown or
    duplicate references, overfills and zero-share adds.
    """
    m = _Model()
    msgs = directory(n_symbols)

    def pick(a: int) -> int | None:
        while m.refs:
            i = a % len(m.refs)
            if m.refs[i] in m.live:
                return m.refs[i]
            m.refs[i] = m.refs[-1]
            m.refs.pop()
        return None

    for kind, a, b, c in ops:
        kind %= 12 if faults else 9
        loc = a % n_symbols + 1
        price = 10_000 + (b % 40) * 100
        shares = c % 400 + 1
        ts = m.tick()
        ref = pick(a)
        if kind in (0, 1) or (ref is None and kind not in (7, 8, 9)):
            side = "B" if (b + c) % 2 else "S"
            # Bids below 12 000, asks above, so books are mostly uncrossed like a real one.
            price = price - 2_000 if side == "B" else price + 2_000
            mtype = "F" if kind == 1 else "A"
            extra = {"attribution": "MPID"} if mtype == "F" else {}
            r = m.new_ref()
            msgs.append(itch.make(mtype, stock_locate=loc, timestamp=ts, order_ref=r, side=side,
                                  shares=shares, stock=symbol_name(loc),
                                  price=price, **extra))
            m.live[r] = [loc, shares]
            m.refs.append(r)
        elif kind == 2:
            take = min(shares, m.live[ref][1])
            msgs.append(itch.make("E", stock_locate=m.live[ref][0], timestamp=ts, order_ref=ref,
                                  executed_shares=take, match_number=m.match))
            m.match += 1
            m.live[ref][1] -= take
        elif kind == 3:
            take = min(shares, m.live[ref][1])
            msgs.append(itch.make("C", stock_locate=m.live[ref][0], timestamp=ts, order_ref=ref,
                                  executed_shares=take, match_number=m.match, printable="Y",
                                  execution_price=price))
            m.match += 1
            m.live[ref][1] -= take
        elif kind == 4:
            take = min(shares, m.live[ref][1])
            msgs.append(itch.make("X", stock_locate=m.live[ref][0], timestamp=ts, order_ref=ref,
                                  cancelled_shares=take))
            m.live[ref][1] -= take
        elif kind == 5:
            msgs.append(itch.make("D", stock_locate=m.live[ref][0], timestamp=ts, order_ref=ref))
            m.live[ref][1] = 0
        elif kind == 6:
            new = m.new_ref()
            msgs.append(itch.make("U", stock_locate=m.live[ref][0], timestamp=ts,
                                  original_order_ref=ref, new_order_ref=new, shares=shares,
                                  price=price + (-2_000 if b % 2 else 2_000)))
            m.live[new] = [m.live[ref][0], shares]
            m.refs.append(new)
            m.live[ref][1] = 0
        elif kind == 7:
            msgs.append(itch.make("P", stock_locate=loc, timestamp=ts, order_ref=0, side="B",
                                  shares=shares, stock=symbol_name(loc),
                                  price=price, match_number=m.match))
            m.match += 1
        elif kind == 8:
            msgs.append(itch.make("Q", stock_locate=loc, timestamp=ts, shares=shares,
                                  stock=symbol_name(loc), cross_price=price,
                                  match_number=m.match, cross_type="O"))
            m.match += 1
        elif kind == 9:  # unknown reference
            msgs.append(itch.make("D", stock_locate=loc, timestamp=ts, order_ref=10**12 + c))
        elif kind == 10:  # duplicate reference or zero-share add
            msgs.append(itch.make("A", stock_locate=m.live[ref][0], timestamp=ts,
                                  order_ref=ref if c % 2 else m.new_ref(), side="B",
                                  shares=0 if not c % 2 else shares, price=price))
        else:  # overfill
            msgs.append(itch.make("X", stock_locate=m.live[ref][0], timestamp=ts, order_ref=ref,
                                  cancelled_shares=m.live[ref][1] + 1 + c))
            m.live[ref][1] = 0
        if ref is not None and ref in m.live and m.live[ref][1] == 0:
            del m.live[ref]
    return msgs


def random_messages(seed: int, n: int, n_symbols: int = 3, faults: bool = False) -> list[tuple]:
    """`n` random ops turned into messages (see `ops_to_messages`)."""
    rng = random.Random(seed)
    ops = [(rng.randrange(12), rng.randrange(1 << 16), rng.randrange(1 << 16),
            rng.randrange(1 << 16)) for _ in range(n)]
    return ops_to_messages(ops, n_symbols, faults)


def faulty_capture(path, data: bytes, seed: int, max_payload: int = 1400, rate: float = 0.05) -> int:
    """A pcap of BinaryFILE `data` as MoldUDP64 frames with lost and duplicated packets and
    frames that are not the feed (TCP, ARP), each at about `rate` of the packets; returns
    its frame count."""
    rng = random.Random(seed)
    frames = []
    for i, packet in enumerate(moldudp64.build_packets(data, "SESSION001", first_seq=1,
                                                       max_payload=max_payload)):
        frame = udp_frame(packet, dst_ip=DEST_IP, dst_port=DEST_PORT, ident=i)
        if i > 2 and rng.random() < rate:
            continue  # lost: a gap both books skip
        frames.append(frame)
        if rng.random() < rate:
            frames.append(frame)  # duplicated
        if rng.random() < rate:
            frames.append(udp_frame(packet[:20], dst_ip=DEST_IP, dst_port=DEST_PORT, protocol=6))  # TCP
        if rng.random() < rate * 0.6:
            frames.append(b"\xff" * 6 + b"\x02" * 6 + b"\x08\x06" + bytes(46))  # ARP
    write_pcap(path, frames)
    return len(frames)


# ---- mutation fuzzing ----

def mutate(data: bytes, rng: random.Random) -> tuple[bytes, int, int]:
    """`data` with one to three random mutations, the places they damage and the bytes they
    cut off."""
    buf = bytearray(data)
    places = removed = 0
    for _ in range(rng.randint(1, 3)):
        places += 1
        kind = rng.randrange(6)
        at = rng.randrange(len(buf))
        size = rng.randint(1, 64)
        if kind == 0:  # byte flips
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        elif kind == 1:  # cut short
            removed += len(buf) - at
            del buf[at:]
        elif kind == 2:  # garbage inserted
            buf[at:at] = bytes(rng.randrange(256) for _ in range(size))
        elif kind == 3:  # a stretch duplicated
            buf[at:at] = buf[rng.randrange(len(buf)):][:size]
        elif kind == 4:  # two stretches swapped
            other = rng.randrange(len(buf))
            a, b = sorted((at, other))
            if b - a > size:
                buf[a:b + size] = buf[b:b + size] + buf[a + size:b] + buf[a:a + size]
                places += 1
        else:  # a length prefix corrupted: two bytes overwritten
            buf[at:at + 2] = rng.randrange(1 << 16).to_bytes(2, "big")
        if not buf:
            buf = bytearray(data[:1])
    return bytes(buf), places, removed


def replay_mutated(path: Path, mutated: bytes, capsys, trial: int) -> tuple[int, dict | None]:
    """`mutated` written to `path` and replayed by the CLI: exit 0 with its summary, or exit 2
    with one line and no summary; anything else (a traceback, exit 1) fails the test."""
    path.write_bytes(mutated)
    out = path.parent / "out"
    code = main(["replay", str(path), "-o", str(out), "--json"])
    printed = capsys.readouterr()
    assert code in (0, 2), (trial, printed.err)
    if code == 2:
        assert printed.err.startswith("error:") and printed.err.count("\n") == 1, (trial, printed.err)
        return code, None
    return code, json.loads((out / "summary.json").read_text())


def trade_kinds_feed(path: Path, seed: int, n_messages: int = 20_000) -> Path:
    """A generated BinaryFILE feed at `path` with every kind of trade row: E, P, Q, printable
    and non-printable C, and broken trades (B), as the generator makes them."""
    from tickaccel.feed.generator import generate

    path.write_bytes(generate(n_messages, n_symbols=10, seed=seed).tobytes())
    return path
