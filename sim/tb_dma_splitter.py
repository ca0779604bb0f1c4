"""cocotb testbench of dma_frame_splitter: MM2S buffers of length-delimited frames in, one packet per frame out.

The buffers are what the driver packs (`tickaccel.fpga.layout` at 64 bits; the
same format at other widths) plus what it never packs but a buffer can hold:
zero-length headers, the longest frame a 16-bit length allows, a buffer that
ends inside a frame, one that ends on a header. The MM2S side pauses at
random and for long runs, the sink stalls the same way.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from tickaccel.fpga import layout
from tickaccel.sim import bench
from tickaccel.sim.tb_dma_axis import HoldChecker, bursty_pauses


def header(length: int, beat: int, error: bool = False) -> bytes:
    return (length | int(error) << layout.FRAME_ERROR_BIT).to_bytes(beat, "little")


def pack(frames: list[tuple[bytes, bool]], beat: int) -> bytes:
    """The driver's format at any beat width: header beat, frame bytes, zeros to the beat end."""
    return b"".join(header(len(f), beat, e) + f + bytes(-len(f) % beat) for f, e in frames)


def split(buffer: bytes, beat: int) -> list[tuple[bytes, bool]]:
    """(frame bytes, tuser) the splitter must emit for one MM2S buffer, which ends with the DMA's tlast."""
    out, pos = [], 0
    while pos < len(buffer):
        word = int.from_bytes(buffer[pos:pos + beat], "little")
        pos += beat
        length, error = word & layout.MAX_FRAME_BYTES, bool(word >> layout.FRAME_ERROR_BIT & 1)
        if length == 0:
            continue  # no frame
        if pos == len(buffer):
            out.append((b"", True))  # its header was the buffer's last beat: an empty frame error
            continue
        body = -(-length // beat) * beat
        if pos + body <= len(buffer):
            out.append((buffer[pos:pos + length], error))
        else:
            out.append((buffer[pos:], True))  # cut by the buffer's end: a frame error downstream
        pos += body
    return out


def buffers(beat: int, rng: random.Random) -> list[bytes]:
    def frame(n: int) -> bytes:
        return rng.randbytes(n)

    many = [(frame(rng.choice([1, beat - 1, beat, beat + 1, rng.randrange(1, 1600)])), rng.random() < 0.1)
            for _ in range(120)]
    out = [pack(many, beat)]
    if beat == layout.STREAM_BYTES:
        assert out[0] == layout.pack_frames([f for f, _ in many], [e for _, e in many]).tobytes()
        assert split(out[0], beat) == layout.unpack_frames(out[0])
    skipped = header(0, beat) + pack([(frame(60), False)], beat) + header(0, beat) * 3 + \
        pack([(frame(beat * 3), True)], beat)
    longest = pack([(frame(layout.MAX_FRAME_BYTES), False), (frame(9), False)], beat)
    cut = pack([(frame(100), False), (frame(300), False)], beat)
    cut = cut[:len(cut) - 10 * beat]  # the buffer ends 10 beats before the 300-byte frame does
    overrun = pack([(frame(40), False)], beat) + header(5000, beat) + frame(4 * beat)
    ends_on_header = pack([(frame(33), True)], beat) + header(64, beat)
    lone_empty = header(0, beat)
    exact_end = pack([(frame(8 * beat), True)], beat)
    return out + [skipped, cut, pack([(frame(70), False)], beat), longest, overrun, ends_on_header,
                  lone_empty, exact_end, pack(many[:20], beat)]


async def _watch_empty_error_beats(dut, seen: list[bool]) -> None:
    """tuser of every accepted last beat with no byte kept (a frame cut off after its header)."""
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if dut.m_axis_tvalid.value and dut.m_axis_tready.value and dut.m_axis_tlast.value \
                and not int(dut.m_axis_tkeep.value):
            seen.append(bool(dut.m_axis_tuser.value))


@cocotb.test(timeout_time=20, timeout_unit="ms")
async def test_each_frame_of_each_buffer_leaves_as_its_own_packet(dut):
    """Exact bytes per frame, tuser on flagged and cut frames (an empty one when cut after its
    header), headers and empty frames consumed,
    resync at every buffer end, stalled beats hold still."""
    beat = len(dut.s_axis_tdata) // 8
    source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    for port in (source, sink):
        port.log.setLevel("WARNING")
    source.set_pause_generator(bursty_pauses(4, 0.25, 80, 20))
    sink.set_pause_generator(bursty_pauses(5, 0.35, 60, 30))
    hold = HoldChecker(dut)
    await bench.start(dut)
    cocotb.start_soon(hold.run())
    empty_errors = []
    cocotb.start_soon(_watch_empty_error_beats(dut, empty_errors))  # before the first beat leaves
    sent = buffers(beat, random.Random(6))
    for buffer in sent:
        await source.send(AxiStreamFrame(buffer))
    expected = [f for buffer in sent for f in split(buffer, beat)]
    assert sum(e for _, e in expected) >= 5 and any(len(f) == layout.MAX_FRAME_BYTES for f, _ in expected)
    for i, (data, error) in enumerate(expected):
        got = await sink.recv()
        assert bytes(got.tdata) == data, f"frame {i}: {len(got.tdata)} bytes, want {len(data)}"
        if not data:  # the sink drops a beat's tuser with its null bytes: the monitor saw it
            assert empty_errors and empty_errors.pop(0), f"frame {i}: the empty beat lacks tuser"
            continue
        user = got.tuser if isinstance(got.tuser, int) else got.tuser[-1]
        assert user == int(error), f"frame {i}: tuser {user}, want {int(error)}"
    await source.wait()
    await ClockCycles(dut.clk, 50)
    assert sink.empty(), "more packets than frames"
    assert hold.stalls > 1000, "the sink's backpressure never reached the port"
