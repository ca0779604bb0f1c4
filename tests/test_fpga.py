"""The FPGA deployment without a board or a simulator: generated Tcl, DMA layout, register names,
the PYNQ transport against a recording test double of pynq, the Vivado flow under stubbed
Vivado commands, and the CLI's answers on a machine without a board."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tickaccel.schema import bbo_records, book_csr, csr
from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed import framing, generator
from tickaccel.feed.capture import udp_frame
from tickaccel.feed.endpoints import SESSION
from tickaccel.feed.framing import FrameBlock
from tickaccel.feed.moldudp64 import build_packets
from tickaccel.fpga import BOARDS, FeedToBook, PynqTransport, layout, registers, tcl
from tickaccel.fpga.driver import DrainTimeout
from tickaccel.fpga.boards import BOOK_RAM_SHARE, ramb36_blocks, uram_blocks
from tickaccel.fpga.pynq_transport import CORE_TYPE

ROOT = Path(__file__).resolve().parents[1]


# ---- generated Tcl ----

def test_checked_in_generated_params_tcl_is_current():
    assert tcl.TCL_PATH.read_text() == tcl.tcl_text(), \
        "hw/vivado/generated_params.tcl is stale: run `python -m tickaccel.fpga.tcl --write`"


def test_every_rtl_source_the_tcl_names_exists():
    rtl = tcl.TCL_PATH.parent.parent / "rtl"
    for name in tcl.RTL_SOURCES + tcl.RTL_HEADERS:
        assert (rtl / name).is_file(), name


# ---- DMA buffer layout ----

@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_boards_book_fits_its_parts_block_ram_and_ultraram(name):
    board = BOARDS[name]
    assert board.book_ramb36() <= BOOK_RAM_SHARE * board.ramb36, board.as_dict()
    assert board.book_uram() <= BOOK_RAM_SHARE * board.uram, board.as_dict()
    assert board.book.ultra_ram == (board.uram > 0) == (board.rtl_parameters()["ULTRA_RAM"] == 1)


def test_block_ram_estimate_picks_the_cheapest_shape():
    assert ramb36_blocks(72, 512) == 1 and ramb36_blocks(1, 32768) == 1
    assert ramb36_blocks(36, 512) == 0.5      # a RAMB18
    assert ramb36_blocks(128, 65536) == 240   # 15 columns of 4 K x 9, 16 deep
    assert ramb36_blocks(73, 512) == 1.5      # three 512 x 36 RAMB18s, not two 512 x 72 RAMB36s
    assert uram_blocks(72, 4096) == 1 and uram_blocks(128, 65536) == 32


def test_frames_pack_into_whole_beats_and_unpack_with_error_flags():
    frames = [bytes(range(60)), b"\xaa" * 64, b"\x01" * 1]
    packed = layout.pack_frames(frames, errors=[False, True, False])
    assert packed.nbytes == (8 + 64) + (8 + 64) + (8 + 8)
    assert packed.nbytes % layout.STREAM_BYTES == 0
    assert int.from_bytes(packed[72:80].tobytes(), "little") == 64 | 1 << layout.FRAME_ERROR_BIT
    assert layout.unpack_frames(packed) == [(frames[0], False), (frames[1], True), (frames[2], False)]


def test_batches_hold_whole_frames_and_the_last_one_is_partial():
    frames = [bytes([i]) * (60 + i) for i in range(25)]
    batches = list(layout.batch_frames([FrameBlock.from_frames(frames)], 512))
    assert sum(n for _, n in batches) == 25
    assert all(b.nbytes <= 512 for b, _ in batches)
    assert batches[-1][0].nbytes < 512 - layout.slot_bytes(84)
    assert [f for b, _ in batches for f, _ in layout.unpack_frames(b)] == frames
    with pytest.raises(ValueError, match="does not fit"):
        list(layout.batch_frames([FrameBlock.from_frames([bytes(600)])], 512))


def _reference_pack(frames, errors):
    """The send buffer layout spelled out one frame at a time: what the compiled pack must give."""
    out = b""
    for frame, error in zip(frames, errors):
        out += (len(frame) | error << layout.FRAME_ERROR_BIT).to_bytes(layout.FRAME_HEADER_BYTES, "little")
        out += frame + bytes(-len(frame) % layout.STREAM_BYTES)
    return out


def _reference_batches(frames, max_bytes):
    batches, batch = [], []
    for frame in frames:
        if sum(map(layout.slot_bytes, map(len, batch + [frame]))) > max_bytes:
            batches.append(batch)
            batch = []
        batch.append(frame)
    return batches + [batch]


@pytest.mark.parametrize("seed", range(4))
def test_compiled_pack_is_byte_equal_to_the_layout_on_generated_feeds(seed):
    rng = np.random.default_rng(seed)
    feed = generator.generate(3000, 20, seed).tobytes()
    frames = [udp_frame(p, ident=i) for i, p in
              enumerate(build_packets(feed, "TEST", max_payload=int(rng.integers(100, 1400))))]
    frames += [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in (1, 7, 8, 9, layout.MAX_FRAME_BYTES)]
    errors = rng.random(len(frames)) < 0.3
    assert layout.pack_frames(frames, errors).tobytes() == _reference_pack(frames, errors.tolist())
    # blocks cut anywhere batch exactly as one list of frames does
    cuts = sorted(set(rng.integers(0, len(frames), 6).tolist()) | {0, len(frames)})
    blocks = [FrameBlock.from_frames(frames[a:b]) for a, b in zip(cuts, cuts[1:])]
    batches = list(layout.batch_frames(blocks, 1 << 17))
    expected = _reference_batches(frames, 1 << 17)
    assert len(expected) > 1
    assert [(b.tobytes(), n) for b, n in batches] == [
        (_reference_pack(batch, [False] * len(batch)), len(batch)) for batch in expected]


def test_binaryfile_frames_come_in_blocks_of_one_udp_frame_per_moldudp64_packet(tmp_path):
    feed = generator.generate(20000, 30, 5).tobytes()
    path = tmp_path / "feed.itch"
    path.write_bytes(feed)
    wire = framing.feed_frames(path, "binaryfile", ErrorLog())
    assert (wire.dest_ip, wire.dest_port) == (framing.DEST_IP, framing.DEST_PORT)
    packets = build_packets(feed, SESSION, first_seq=1)
    assert list(wire.frames) == [udp_frame(p, dst_ip=framing.DEST_IP, dst_port=framing.DEST_PORT, ident=k)
                                 for k, p in enumerate(packets)]
    assert len(packets) > 100
    # the identification field wraps as udp_frame's does
    wrapped = framing._udp_frames(packets[:5], 0xFFFE)
    assert list(wrapped.frames()) == [udp_frame(p, dst_ip=framing.DEST_IP, dst_port=framing.DEST_PORT,
                                                ident=0xFFFE + k) for k, p in enumerate(packets[:5])]


def test_pack_refuses_frames_the_header_cannot_describe():
    for frame in (b"", bytes(layout.MAX_FRAME_BYTES + 1)):
        with pytest.raises(ValueError, match="a frame is 1.."):
            layout.pack_frames([b"\x01", frame])


def test_record_slots_lose_their_padding():
    words = [bbo_records.pack({"kind": bbo_records.KIND_BBO, "seq": s, "bid_price": 7 * s}) for s in range(5)]
    slots = b"".join(bbo_records.to_bytes(w) + bytes(layout.RECORD_SLOT_BYTES - bbo_records.RECORD_BYTES)
                     for w in words)
    assert layout.records_from_slots(slots) == b"".join(bbo_records.to_bytes(w) for w in words)
    with pytest.raises(ValueError, match="record slots"):
        layout.records_from_slots(slots[:-1])


# ---- register names ----

def test_register_names_resolve_to_the_rtl_tables_addresses():
    assert registers.offset("feed_frames_in") == book_csr.FEED_BASE + csr.offset("frames_in")
    assert registers.offset("frames_in") == registers.offset("feed_frames_in")
    assert registers.offset("bbo_updates") == book_csr.BOOK_BASE + book_csr.offset("bbo_updates")
    with pytest.raises(TickaccelError, match="feed_stall_out or book_stall_out"):
        registers.resolve("stall_out")
    with pytest.raises(TickaccelError, match="no register"):
        registers.resolve("frames_out")
    assert len({r.offset for r in registers.REGISTERS}) == len(registers.REGISTERS)


# ---- the PYNQ transport against a recording double of pynq ----

class FakeBuffer(np.ndarray):
    def flush(self):
        self.calls.append(("flush", self.physical_address))

    def invalidate(self):
        self.calls.append(("invalidate", self.physical_address))

    def freebuffer(self):
        self.calls.append(("free", self.physical_address))


class FakeChannel:
    """pynq's _SDMAChannel: alignment and size checks, idle after a few polls, transferred on wait."""

    def __init__(self, pynq, name):
        self.pynq, self.name = pynq, name
        self.busy, self.polls, self.transferred, self.waited = False, 0, 0, True

    def transfer(self, array, start=0, nbytes=0):
        assert not self.busy, f"{self.name}: transfer while a transfer is running"
        assert self.waited, f"{self.name}: transfer before wait() of the previous one"
        nbytes = nbytes or array.nbytes - start
        assert (array.physical_address + start) % self.pynq.align == 0, "unaligned DMA address"
        assert 0 < nbytes <= self.pynq.max_size and start + nbytes <= array.nbytes
        self.pynq.calls.append((self.name, "transfer", array.physical_address, start, nbytes))
        self.busy, self.polls, self.waited = True, 0, False
        self.array, self.nbytes = array, nbytes
        if self.name == "send":
            self.pynq.device.take(array[start:start + nbytes].tobytes())

    @property
    def idle(self):
        self.polls += 1
        if self.name == "send":
            self.busy = self.busy and self.polls < 3
        elif self.busy and self.pynq.device.packets and self.polls >= 2:
            packet = self.pynq.device.packets.pop(0)
            assert len(packet) <= self.nbytes, "S2MM packet longer than the posted buffer"
            self.array[:len(packet)] = np.frombuffer(packet, np.uint8)
            self.received, self.busy = len(packet), False
        return not self.busy

    def wait(self):
        assert not self.busy, f"{self.name}: wait() on a busy channel would spin"
        self.pynq.calls.append((self.name, "wait"))
        self.waited = True
        self.transferred = self.received if self.name == "recv" else self.nbytes


class FakeDevice:
    """feed_to_book as far as the host sees it: frames counted, one record slot per frame back."""

    def __init__(self, records_per_packet):
        self.regs = {r.offset: 0 for r in registers.REGISTERS}
        self.regs[registers.offset("feed_device_id")] = csr.DEVICE_ID
        self.regs[registers.offset("book_book_id")] = book_csr.DEVICE_ID
        self.records_per_packet = records_per_packet
        self.packets, self.pending, self.records = [], [], []

    def take(self, buffer):
        for frame, _ in layout.unpack_frames(buffer):
            self.regs[registers.offset("feed_frames_in")] += 1
            word = bbo_records.pack({"kind": bbo_records.KIND_BBO, "seq": len(self.records) + 1,
                                     "bid_size": len(frame)})
            self.records.append(bbo_records.to_bytes(word))
            self.pending.append(self.records[-1].ljust(layout.RECORD_SLOT_BYTES, b"\0"))
            self.regs[registers.offset("book_bbo_updates")] += 1
            if len(self.pending) == self.records_per_packet:
                self.flush()

    def flush(self):
        if self.pending:
            self.packets.append(b"".join(self.pending))
            self.pending = []


class FakeMmio:
    def __init__(self, pynq, base, length):
        self.pynq, self.base, self.length = pynq, base, length

    def read(self, offset, length=4):
        assert offset in self.pynq.device.regs, f"read of 0x{offset:x}: not in the generated map"
        self.pynq.calls.append(("read", offset))
        if offset == registers.offset("book_bbo_updates"):
            self.pynq.device.flush()  # the idle timeout closes the last packet while the host polls
        return self.pynq.device.regs[offset]

    def write(self, offset, value):
        assert offset in self.pynq.device.regs and registers.BY_NAME[
            next(r.name for r in registers.REGISTERS if r.offset == offset)].access == "rw"
        self.pynq.calls.append(("write", offset, value))


class FakePynq:
    """The pynq module: Overlay from a .hwh-like ip_dict, allocate, MMIO; every call recorded."""

    align, max_size = 8, (1 << layout.DMA_LENGTH_WIDTH) - 1

    def __init__(self, records_per_packet=4):
        self.calls, self.buffers = [], []
        self.device = FakeDevice(records_per_packet)
        self.records_per_packet = records_per_packet
        self.next_address = 0x1000_0000

    def Overlay(self, path):
        self.calls.append(("Overlay", path))
        overlay = type("Overlay", (), {})()
        overlay.ip_dict = {
            "axi_dma_0": {"type": "xilinx.com:ip:axi_dma:7.1", "phys_addr": 0x4040_0000, "addr_range": 0x10000},
            "feed_to_book_0": {"type": CORE_TYPE, "phys_addr": 0x4300_0000, "addr_range": registers.ADDRESS_RANGE,
                               "parameters": {"RECORDS_PER_PACKET": str(self.records_per_packet)}},
        }
        overlay.axi_dma_0 = type("Dma", (), {})()
        overlay.axi_dma_0.sendchannel = FakeChannel(self, "send")
        overlay.axi_dma_0.recvchannel = FakeChannel(self, "recv")
        return overlay

    def MMIO(self, base, length):
        self.calls.append(("MMIO", base, length))
        return FakeMmio(self, base, length)

    def allocate(self, shape, dtype):
        buffer = np.zeros(shape, dtype).view(FakeBuffer)
        buffer.physical_address, buffer.calls = self.next_address, self.calls
        self.next_address += 1 << 24
        self.calls.append(("allocate", shape, np.dtype(dtype).name))
        return buffer


def test_pynq_transport_batches_frames_and_collects_every_record_packet():
    pynq = FakePynq(records_per_packet=4)
    transport = PynqTransport("/boot/feed_to_book.bit", pynq=pynq, send_buffer_bytes=4096)
    device = FeedToBook(transport, batch_bytes=1024)
    device.configure("239.1.2.3", 30001)
    frames = [bytes([i % 251]) * (60 + 7 * i) for i in range(30)]
    device.send([FrameBlock.from_frames(frames)])
    device.drain(timeout_s=5)

    assert pynq.calls[0] == ("Overlay", "/boot/feed_to_book.bit")
    assert ("MMIO", 0x4300_0000, registers.ADDRESS_RANGE) in pynq.calls
    assert ("allocate", (4096,), "uint8") in pynq.calls
    assert ("allocate", (4 * layout.RECORD_SLOT_BYTES,), "uint8") in pynq.calls
    writes = [c[1:] for c in pynq.calls if c[0] == "write"]
    assert writes == [(registers.offset("feed_filter_ip"), 0xEF010203),
                      (registers.offset("feed_filter_port"), 30001), (registers.offset("feed_control"), 1)]
    sends = [c for c in pynq.calls if c[0] == "send" and c[1] == "transfer"]
    assert len(sends) == device.batches_sent > 1
    assert all(c[4] <= 1024 and c[4] % layout.STREAM_BYTES == 0 for c in sends)
    assert sum(c[4] for c in sends) == device.bytes_sent == sum(layout.slot_bytes(len(f)) for f in frames)
    # every send transfer is waited for before the next one, and the receive side is re-posted after each packet
    send_events = [c[1] for c in pynq.calls if c[0] == "send"]
    assert send_events == ["transfer", "wait"] * len(sends)
    recv_events = [c[1] for c in pynq.calls if c[0] == "recv"]
    assert recv_events[0] == "transfer" and recv_events[1:] == ["wait", "transfer"] * transport.packets_received
    assert transport.packets_received == -(-len(frames) // 4)
    assert device.record_bytes() == b"".join(pynq.device.records)
    assert device.read_register("frames_in") == len(frames)
    transport.close()
    assert sum(c[0] == "free" for c in pynq.calls) == 2


def test_pynq_transport_refuses_an_overlay_without_feed_to_book():
    pynq = FakePynq()
    overlay = pynq.Overlay
    pynq.Overlay = lambda path: (o := overlay(path), o.ip_dict.pop("feed_to_book_0"))[0]
    with pytest.raises(TickaccelError, match="one tickaccel.org:tickaccel:feed_to_book_dma"):
        PynqTransport("x.bit", pynq=pynq)


def test_driver_refuses_a_core_whose_identity_registers_are_wrong():
    pynq = FakePynq()
    pynq.device.regs[registers.offset("book_book_id")] = 0xDEADBEEF
    with pytest.raises(TickaccelError, match="book_book_id reads 0xdeadbeef"):
        FeedToBook(PynqTransport("x.bit", pynq=pynq))


def test_drain_names_what_is_missing_when_the_board_stops_answering():
    pynq = FakePynq()
    device = FeedToBook(PynqTransport("x.bit", pynq=pynq))
    device.frames_sent = 3  # the board never saw these
    with pytest.raises(DrainTimeout, match="0/3 frames in"):
        device.drain(timeout_s=0.05)


# ---- the Vivado flow's Tcl, under stubbed Vivado commands ----

_STUBS = r"""
set ::calls {}
proc unknown {args} {
    lappend ::calls $args
    set cmd [lindex $args 0]
    switch -- $cmd {
        ipx::get_ports { return "port:[lindex $args 1]" }
        ipx::get_bus_interfaces { return {} }
        get_ipdefs { return [list "xilinx.com:ip:[lindex [split [lindex $args 2] { }] 2]:1.0"] }
        get_board_parts { return [lindex $args 2] }
        get_bd_nets { return {} }
        get_bd_pins - get_bd_intf_pins { return [lindex $args end] }
        get_bd_cells { return rst_ps }
        get_bd_addr_segs { return SEG_feed_to_book_0_csr }
        make_wrapper { return feed_to_book_wrapper.v }
        get_property {
            set what [lindex $args 1]
            set obj [lindex $args 2]
            if {$what eq "size_left"} { return [expr {[dict get $::widths [string range $obj 5 end]] - 1}] }
            if {$what eq "size_right"} { return 0 }
            if {$what eq "PROGRESS"} { return 100% }
            if {$what eq "SLACK"} { return 0.125 }
            if {$what eq "DIRECTORY"} { return $::impl_dir }
            return stub
        }
    }
    return stub
}
"""


def _run_tcl(tmp_path, board, widths, outdir):
    impl = tmp_path / "impl"
    impl.mkdir(exist_ok=True)
    (impl / "feed_to_book_wrapper.bit").write_bytes(b"bit")
    hwh = outdir / "work" / "overlay" / "overlay.gen" / "sources_1" / "bd" / "feed_to_book" / "hw_handoff"
    hwh.mkdir(parents=True, exist_ok=True)
    (hwh / "feed_to_book.hwh").write_text("<hwh/>")
    script = tmp_path / "run.tcl"
    width_dict = " ".join(f"{k} {v}" for k, v in widths.items())
    script.write_text(_STUBS + f"set ::widths [dict create {width_dict}]\nset ::impl_dir {impl}\n"
                      f"set argv [list {board} {outdir}]\n"
                      f"if {{[catch {{source {tcl.TCL_PATH.parent / 'build_overlay.tcl'}}} err]}} {{puts \"ERROR: $err\"}}\n"
                      "foreach c $::calls { puts \"CALL: $c\" }\n")
    return subprocess.run(["tclsh", str(script)], capture_output=True, text=True, check=True).stdout


def _rtl_widths():
    widths = {physical: width for _, _, _, ports in tcl.INTERFACES for _, physical, width in ports}
    return {**widths, "clk": 1, "rst": 1}


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")
def test_overlay_tcl_packages_the_ip_and_builds_the_block_design_from_the_tables(tmp_path):
    out = _run_tcl(tmp_path, "zcu104", _rtl_widths(), tmp_path / "overlay")
    assert "ERROR" not in out, out
    calls = [line[len("CALL: "):] for line in out.splitlines() if line.startswith("CALL: ")]
    assert sum(c.startswith("ipx::add_register ") for c in calls) == len(registers.REGISTERS)
    assert any(c.startswith("set_property address_offset 0x100104") for c in calls)  # book_bbo_updates
    dma_config = next(c for c in calls if "CONFIG.c_sg_length_width" in c)
    assert f"CONFIG.c_sg_length_width {layout.DMA_LENGTH_WIDTH}" in dma_config
    assert "CONFIG.c_m_axi_mm2s_data_width 128" in dma_config
    core_config = next(c for c in calls if "CONFIG.RECORDS_PER_PACKET" in c)
    for name, value in BOARDS["zcu104"].rtl_parameters().items():
        assert f"CONFIG.{name} {value}" in core_config
    assert "set_property range 2048K SEG_feed_to_book_0_csr" in calls
    assert "connect_bd_net rst_ps/peripheral_reset feed_to_book_0/rst" in calls
    assert "connect_bd_intf_net dma/M_AXIS_MM2S feed_to_book_0/s_axis" in calls
    assert (tmp_path / "overlay" / "feed_to_book.bit").read_bytes() == b"bit"
    assert (tmp_path / "overlay" / "feed_to_book.hwh").is_file()


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed")
def test_overlay_tcl_stops_when_the_rtl_port_width_disagrees_with_the_tables(tmp_path):
    widths = {**_rtl_widths(), "s_axil_awaddr": 20}
    out = _run_tcl(tmp_path, "pynq-z2", widths, tmp_path / "overlay")
    assert "ERROR: port s_axil_awaddr is 20 bits in the RTL, 21 in the Python tables" in out
    assert "ERROR: unknown board zc706" in _run_tcl(tmp_path, "zc706", _rtl_widths(), tmp_path / "o2")


# ---- no pynq on the CPU path; clear errors without a board ----

def test_importing_tickaccel_and_replaying_on_the_cpu_never_imports_pynq(tmp_path):
    feed = tmp_path / "feed.itch"
    probe = (
        "import sys\n"
        "class NoPynq:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'pynq':\n"
        "            raise AssertionError('pynq imported')\n"
        "sys.meta_path.insert(0, NoPynq())\n"
        "from tickaccel.feed import generator\n"
        f"open({str(feed)!r}, 'wb').write(generator.generate(500, 10, 3).tobytes())\n"
        "from tickaccel.cli import main\n"
        "import tickaccel.cli.fpga, tickaccel.fpga, tickaccel.fpga.driver, tickaccel.fpga.pynq_transport, tickaccel.fpga.tcl\n"
        f"assert main(['replay', {str(feed)!r}, '-o', {str(tmp_path / 'out')!r}]) == 0\n"
        "assert 'pynq' not in sys.modules\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr


def _cli(args):
    from tickaccel.cli import main

    return main(args)


def test_fpga_backend_without_pynq_is_one_clear_line(tmp_path, capsys):
    feed = tmp_path / "feed.itch"
    from tickaccel.feed import generator

    feed.write_bytes(generator.generate(200, 5, 1).tobytes())
    assert _cli(["fpga", "replay", str(feed), "-o", str(tmp_path / "out"), "--backend", "fpga"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pynq is not installed" in err


def test_fpga_backend_without_a_bitstream_says_so(tmp_path, monkeypatch, capsys):
    from tickaccel import backends

    monkeypatch.setitem(backends._PROBES, "fpga", lambda: backends.Backend("fpga", True, "PYNQ board"))
    assert _cli(["fpga", "status", "--backend", "fpga"]) == 2
    assert "needs a bitstream" in capsys.readouterr().err
    bit = tmp_path / "feed_to_book.bit"
    bit.write_bytes(b"bit")
    assert _cli(["fpga", "status", "--backend", "fpga", "--bitstream", str(bit)]) == 2
    assert "feed_to_book.hwh must sit beside" in capsys.readouterr().err


def test_package_gathers_bitstream_hwh_wheel_and_instructions(tmp_path):
    bit = tmp_path / "build" / "feed_to_book.bit"
    bit.parent.mkdir()
    bit.write_bytes(b"bit")
    bit.with_suffix(".hwh").write_text("<hwh/>")
    out = tmp_path / "board"
    assert _cli(["fpga", "package", str(out), "--bitstream", str(bit)]) == 0
    names = sorted(p.name for p in out.iterdir())
    wheel = next(n for n in names if n.endswith(".whl"))
    assert names == sorted(["README.md", "feed_to_book.bit", "feed_to_book.hwh", wheel])
    assert f"pip install --no-deps {wheel}" in (out / "README.md").read_text()
    assert (out / "feed_to_book.hwh").read_text() == "<hwh/>"
