"""MoldUDP64: packet build and parse, re-requests, and in-order delivery with gap detection.

A packet is a 20-byte header (10-byte session, 8-byte sequence number of its
first message, 2-byte message count) followed by message blocks, each a 2-byte
big-endian length and the message: the same framing as BinaryFILE, so blocks
travel as they are into `FeedChunk` buffers.
"""
from __future__ import annotations

import bisect
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from tickaccel.feed.binaryfile import frame_messages, whole_records_end
from tickaccel.jit import kernel
from tickaccel.errors import ErrorLog

HEADER = struct.Struct(">10sQH")
HEADER_LENGTH = HEADER.size
HEARTBEAT = 0
END_OF_SESSION = 0xFFFF
MAX_MESSAGES_PER_PACKET = 0xFFFE  # 0xFFFF is the end-of-session marker
SEQUENCE_LIMIT = 1 << 64  # sequence numbers are unsigned 64-bit: every message's is below this
# Further ahead than this, a sequence number is damage, not a gap: no session of one trading
# day sends four billion messages, and a gap that size would swamp every count.
MAX_SEQUENCE_JUMP = 1 << 32


def session_bytes(session: str | bytes) -> bytes:
    """The 10-byte session field: ASCII, space padded."""
    raw = session.encode("ascii") if isinstance(session, str) else bytes(session)
    if len(raw) > 10:
        raise ValueError(f"MoldUDP64 session is at most 10 bytes: {session!r}")
    return raw.ljust(10, b" ")


@dataclass
class MoldPacket:
    """One parsed MoldUDP64 datagram.

    ``count`` is the header's count (0 heartbeat, 0xFFFF end of session);
    ``blocks`` holds the ``n_blocks`` whole message blocks found, which is
    fewer than ``count`` when the datagram was cut short.
    """

    session: bytes
    seq: int
    count: int
    blocks: bytes
    n_blocks: int

    @property
    def is_heartbeat(self) -> bool:
        return self.count == HEARTBEAT

    @property
    def is_end_of_session(self) -> bool:
        return self.count == END_OF_SESSION

    @property
    def is_data(self) -> bool:
        return self.count not in (HEARTBEAT, END_OF_SESSION)


def parse_packet(payload: bytes, errors: ErrorLog | None = None, position: int = 0) -> MoldPacket | None:
    """Parse one datagram; never raises on garbage.

    A payload shorter than the header, or whose messages would number past
    the last 64-bit sequence number, is counted as ``bad_moldudp64`` at
    ``position`` (the caller's frame number) and gives None. When message
    blocks overrun the datagram, or it ends before ``count`` blocks, the whole
    blocks before the bad one are kept and ``truncated_message`` is counted at
    the sequence number of the first message lost.
    """
    if len(payload) < HEADER_LENGTH:
        if errors is not None:
            errors.add("bad_moldudp64", position)
        return None
    session, seq, count = HEADER.unpack_from(payload)
    if count in (HEARTBEAT, END_OF_SESSION):
        return MoldPacket(session, seq, count, b"", 0)
    if seq + count > SEQUENCE_LIMIT:
        if errors is not None:
            errors.add("bad_moldudp64", position)
        return None
    body = np.frombuffer(payload, dtype=np.uint8, offset=HEADER_LENGTH)
    end, n_blocks = whole_records_end(body, count)
    if n_blocks < count and errors is not None:
        errors.add("truncated_message", seq + n_blocks)
    return MoldPacket(session, seq, count, bytes(payload[HEADER_LENGTH:HEADER_LENGTH + end]), n_blocks)


def heartbeat(session: str | bytes, next_seq: int) -> bytes:
    """A heartbeat packet: no messages, ``next_seq`` is the next sequence to be sent."""
    return HEADER.pack(session_bytes(session), next_seq, HEARTBEAT)


def end_of_session(session: str | bytes, next_seq: int) -> bytes:
    """The end-of-session packet: no messages follow ``next_seq - 1``."""
    return HEADER.pack(session_bytes(session), next_seq, END_OF_SESSION)


def build_request(session: str | bytes, seq: int, count: int) -> bytes:
    """A re-request: the 20-byte header naming the first sequence and count wanted."""
    if not 0 < count <= MAX_MESSAGES_PER_PACKET:
        raise ValueError(f"re-request count must be 1..{MAX_MESSAGES_PER_PACKET}, got {count}")
    return HEADER.pack(session_bytes(session), seq, count)


def parse_request(payload: bytes) -> tuple[bytes, int, int] | None:
    """(session, first sequence, count) of a re-request, or None if it is not exactly one."""
    if len(payload) != HEADER_LENGTH:
        return None
    session, seq, count = HEADER.unpack(payload)
    if count in (HEARTBEAT, END_OF_SESSION):
        return None
    return session, seq, count


@kernel(cache=True)
def _packet_starts(buf: np.ndarray, max_block_bytes: int, max_messages: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy packing of length-prefixed records: byte offset and record index where each packet starts."""
    n = buf.shape[0]
    byte_starts = np.empty(n // 2 + 2, dtype=np.int64)
    index_starts = np.empty(n // 2 + 2, dtype=np.int64)
    packets = 0
    pos = 0
    index = 0
    fill = 0
    in_packet = 0
    while pos + 2 <= n:
        size = 2 + ((np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1]))
        if pos + size > n:
            break
        if in_packet == 0 or fill + size > max_block_bytes or in_packet >= max_messages:
            byte_starts[packets] = pos
            index_starts[packets] = index
            packets += 1
            fill = 0
            in_packet = 0
        fill += size
        in_packet += 1
        pos += size
        index += 1
    byte_starts[packets] = pos
    index_starts[packets] = index
    return byte_starts[: packets + 1], index_starts[: packets + 1]


def build_packets(
    messages: Iterable[bytes] | bytes | bytearray | memoryview | np.ndarray,
    session: str | bytes,
    first_seq: int = 1,
    max_payload: int = 1400,
    max_messages: int | None = None,
) -> list[bytes]:
    """Pack messages into MoldUDP64 datagrams of at most ``max_payload`` bytes.

    ``messages`` is an iterable of messages or a bytes-like buffer already
    length-prefixed. A message too big for ``max_payload`` travels alone.
    """
    if isinstance(messages, (bytes, bytearray, memoryview, np.ndarray)):
        framed = np.frombuffer(messages, dtype=np.uint8) if not isinstance(messages, np.ndarray) \
            else np.ascontiguousarray(messages, dtype=np.uint8)
    else:
        framed = np.frombuffer(frame_messages(messages), dtype=np.uint8)
    limit = min(max_messages or MAX_MESSAGES_PER_PACKET, MAX_MESSAGES_PER_PACKET)
    byte_starts, index_starts = _packet_starts(framed, max_payload - HEADER_LENGTH, limit)
    if byte_starts[-1] != len(framed):
        raise ValueError("messages buffer ends inside a record")
    sess = session_bytes(session)
    pack = HEADER.pack
    raw = framed.tobytes()
    b, i = byte_starts.tolist(), index_starts.tolist()
    return [pack(sess, first_seq + i[k], i[k + 1] - i[k]) + raw[b[k]:b[k + 1]] for k in range(len(b) - 1)]


def _skip_blocks(blocks: bytes, count: int) -> int:
    """Byte offset just past the first ``count`` message blocks."""
    return whole_records_end(np.frombuffer(blocks, dtype=np.uint8), count)[0]


@dataclass
class _Piece:
    seq: int
    count: int
    blocks: bytes

    def split(self, count: int) -> tuple["_Piece", "_Piece"]:
        cut = _skip_blocks(self.blocks, count)
        return (_Piece(self.seq, count, self.blocks[:cut]),
                _Piece(self.seq + count, self.count - count, self.blocks[cut:]))


@dataclass
class _SessionState:
    expected: int | None
    held: list[_Piece] = field(default_factory=list)  # sorted, disjoint, all beyond `expected`
    held_messages: int = 0
    received_end: int = 0  # one past the highest sequence received
    sent_end: int = 0  # one past the highest sequence the source says it sent


Run = tuple[int, int, bytes]
"""Messages released in order: first sequence, message count, length-prefixed blocks."""


def _runs(pieces: list[_Piece]) -> list[Run]:
    """Consecutive pieces joined into runs (one bytes join per run, not one per piece)."""
    runs: list[Run] = []
    k = 0
    while k < len(pieces):
        end = k + 1
        while end < len(pieces) and pieces[end].seq == pieces[end - 1].seq + pieces[end - 1].count:
            end += 1
        group = pieces[k:end]
        runs.append((group[0].seq, sum(p.count for p in group), b"".join(p.blocks for p in group)))
        k = end
    return runs


class SequenceTracker:
    """In-order delivery of MoldUDP64 messages per session, counting what went wrong.

    Packets ahead of the expected sequence wait in a reorder buffer of at most
    ``window`` messages. When it overflows, or at `finish`, the missing range
    is given up and counted as ``sequence_gap`` (position: first missing
    sequence, count: messages missing). Messages at or behind the expected
    sequence, or already waiting, are dropped as ``duplicate`` (position: their
    sequence). Messages that arrive after a higher sequence and are then
    delivered in order count as ``out_of_order``. A packet (data or not) more
    than `MAX_SEQUENCE_JUMP` messages ahead of the expected sequence is
    damage, not a gap: it is dropped and counted once as ``bad_sequence`` at
    the expected sequence (its messages, if they were real, show up as a gap
    when the packets after them come), so no gap or position can grow beyond
    what one session sends. A live receiver re-requests `missing` ranges.
    """

    def __init__(self, errors: ErrorLog, window: int = 4096, first_seq: int | None = 1) -> None:
        self.errors = errors
        self.window = window
        self.first_seq = first_seq
        self._sessions: dict[bytes, _SessionState] = {}

    def _state(self, session: bytes, seq: int) -> _SessionState:
        state = self._sessions.get(session)
        if state is None:
            state = _SessionState(expected=self.first_seq if self.first_seq is not None else seq)
            self._sessions[session] = state
        return state

    def push(self, packet: MoldPacket) -> list[Run]:
        """Take one packet; returns the runs of messages now deliverable in order."""
        state = self._state(packet.session, packet.seq)
        if packet.seq - state.expected > MAX_SEQUENCE_JUMP:
            self.errors.add("bad_sequence", state.expected)
            return []
        if not packet.is_data:
            state.sent_end = max(state.sent_end, packet.seq)
            return []
        state.sent_end = max(state.sent_end, packet.seq + packet.count)
        if packet.n_blocks == 0:
            return []
        pieces = self._new_pieces(state, _Piece(packet.seq, packet.n_blocks, packet.blocks))
        received_end = state.received_end
        state.received_end = max(received_end, packet.seq + packet.n_blocks)
        released: list[_Piece] = []
        for piece in pieces:
            late = min(piece.seq + piece.count, received_end) - piece.seq
            if late > 0:
                self.errors.add("out_of_order", piece.seq, late)
            self._hold(state, piece)
        self._release(state, released)
        while state.held_messages > self.window:
            self._give_up_first_gap(state, released)
        return _runs(released)

    def _new_pieces(self, state: _SessionState, piece: _Piece) -> list[_Piece]:
        """The parts of ``piece`` neither delivered nor already held; the rest is counted as duplicate."""
        if piece.seq < state.expected:
            behind = min(piece.count, state.expected - piece.seq)
            self.errors.add("duplicate", piece.seq, behind)
            if behind == piece.count:
                return []
            piece = piece.split(behind)[1]
        pieces = []
        starts = [h.seq for h in state.held]
        k = max(bisect.bisect_right(starts, piece.seq) - 1, 0)
        while piece is not None and k < len(state.held):
            held = state.held[k]
            held_end = held.seq + held.count
            k += 1
            if held_end <= piece.seq:
                continue
            if held.seq >= piece.seq + piece.count:
                break
            if piece.seq < held.seq:
                before, piece = piece.split(held.seq - piece.seq)
                pieces.append(before)
            overlap = min(piece.seq + piece.count, held_end) - piece.seq
            self.errors.add("duplicate", piece.seq, overlap)
            piece = piece.split(overlap)[1] if overlap < piece.count else None
        if piece is not None:
            pieces.append(piece)
        return pieces

    @staticmethod
    def _hold(state: _SessionState, piece: _Piece) -> None:
        k = bisect.bisect_left([h.seq for h in state.held], piece.seq)
        state.held.insert(k, piece)
        state.held_messages += piece.count

    @staticmethod
    def _release(state: _SessionState, released: list[_Piece]) -> None:
        """Move the held pieces that continue the expected sequence to ``released``."""
        while state.held and state.held[0].seq == state.expected:
            piece = state.held.pop(0)
            state.held_messages -= piece.count
            state.expected += piece.count
            released.append(piece)

    def _give_up_first_gap(self, state: _SessionState, released: list[_Piece]) -> None:
        first_held = state.held[0].seq
        self.errors.add("sequence_gap", state.expected, first_held - state.expected)
        state.expected = first_held
        self._release(state, released)

    def finish(self) -> list[Run]:
        """End of input: give up every missing range and deliver everything still held."""
        released: list[_Piece] = []
        for state in self._sessions.values():
            while state.held:
                self._give_up_first_gap(state, released)
            end = max(state.sent_end, state.received_end)
            if end > state.expected:
                self.errors.add("sequence_gap", state.expected, end - state.expected)
                state.expected = end
        return _runs(released)

    def missing(self, session: str | bytes) -> list[tuple[int, int]]:
        """Ranges (first sequence, count) known to be missing in a session, to re-request."""
        state = self._sessions.get(session_bytes(session))
        if state is None:
            return []
        ranges, cursor = [], state.expected
        for piece in state.held:
            if piece.seq > cursor:
                ranges.append((cursor, piece.seq - cursor))
            cursor = piece.seq + piece.count
        end = max(state.sent_end, state.received_end)
        if end > cursor:
            ranges.append((cursor, end - cursor))
        return ranges

    def expected(self, session: str | bytes) -> int | None:
        """The next sequence number to be delivered in a session (None before its first packet)."""
        state = self._sessions.get(session_bytes(session))
        return None if state is None else state.expected
