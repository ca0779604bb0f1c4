"""Expected messages/s of feed_to_book over AXI DMA, per board, from figures this script measures.

Nothing is read back from bench/RESULTS.md. Measured here:

- MM2S bytes and S2MM records per message: a generated feed framed by
  `tickaccel.feed.framing` and packed by the driver's own code (`tickaccel.fpga.layout`);
- the pipeline's messages per cycle: ``sim/tb_dma_overhead.py`` runs feed_to_book_dma
  (pynq-z2's book) under cocotb with an ideal DMA and counts cycles (first MM2S beat of
  a buffer to the first frame, the gap between buffers, the packetizer's flush, S2MM
  packets for two RECORDS_PER_PACKET values, messages per cycle end to end);
- the book's events per cycle by itself: ``bench/rtl_book.py``'s measurement (order_book
  under cocotb, each board's parameters, a generated feed of the same size);
- the clock the RTL reaches, per board: an *estimate* from Yosys ``synth_xilinx`` logic
  depth (feed_handler through ``hw/syn/synth.py``, order_book at the board's parameters
  through ``bench/rtl_book.py``) with the per-level delay model `DELAY_MODEL`; nothing
  here is placed for a Xilinx part;
- the host's cost per frame and per record: framing, packing and decoding timed on
  this machine with the driver's own functions (an x86 host, not the board's ARM).

Assumed: the HP port's sustained share of its bandwidth and the host's time per DMA
transfer (pynq calls on the ARM). Prints the Markdown for bench/RESULTS.md last, after the
simulators' own output.

    python bench/fpga_dma.py [--messages 200000] [--sim-messages 10000] [--boards pynq-z2 ...]
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import pickle
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

from tickaccel.batch import replay
from tickaccel.errors import ErrorLog
from tickaccel.feed import framing, generator
from tickaccel.feed.source import feed_format
from tickaccel.fpga import BOARDS, bbo_stream, layout, tcl
from tickaccel.fpga.sim_board import simulate
from tickaccel.hw.syn import synth

# bench/rtl_book.py, beside this script (its folder is on sys.path when run as a script)
from rtl_book import measure as measure_book  # noqa: E402
from rtl_book import synthesize as synthesize_book  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# Assumptions, not measurements.
HOST_SECONDS_PER_TRANSFER = 30e-6  # PYNQ on the ARM cores: a few MMIO writes and status polls from Python
HP_EFFICIENCY = 0.8               # sustained fraction of HP port bandwidth with 64-beat bursts
# Per-level delay model of the clock estimate, per processing-system family (speed grade of the
# boards' parts): period = start + depth x level. `start`: block RAM clock-to-out without the
# output register plus setup, as the book's long paths begin at a RAM read; `level`: one LUT and
# its net, typical of placed designs on the family. Approximate (datasheet-order figures): an
# estimate of what the depth allows, not a timing closure.
DELAY_MODEL = {  # ps -> (synth_xilinx family, start ns, ns per level)
    "zynq7": ("xc7", 2.5, 0.6),    # 7-series -1 (Zynq-7020)
    "zynqmp": ("xcup", 1.3, 0.3),  # UltraScale+ -2 / -2LV
}
SEND_BUFFER_BYTES = 4 << 20       # the driver's default send buffer
SIM_BATCH_BYTES = 16 << 10        # small buffers, so one simulated feed makes several transfers
SIM_BOARD = "pynq-z2"             # whose book parameters the DMA simulation builds
SMALL_PACKET = 64                 # RECORDS_PER_PACKET of the comparison run
FEED_SYMBOLS = 200                # generated feed: symbols (fits every board's book)
FEED_SEED = 7
DECODE_RECORDS = 200_000          # the simulated board's records, repeated to this many for timing


def write_feed(messages: int, workdir: Path) -> Path:
    path = workdir / f"feed{messages}.itch"
    path.write_bytes(generator.generate(messages, FEED_SYMBOLS, FEED_SEED).tobytes())
    return path


def frame_blocks(feed: Path) -> list[framing.FrameBlock]:
    """The feed's frames as the fpga backend draws them (`tickaccel.feed.framing`)."""
    return list(framing.feed_frames(feed, feed_format(feed), ErrorLog()).blocks)


def best_of(run, repeats: int = 5) -> float:
    """Least wall time of `repeats` calls: the machine is shared, so the fastest is the least disturbed."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def measure_packing(messages: int, workdir: Path, before: ModuleType | None) -> dict:
    """Bytes and records per message, and the host's framing and packing time, on a generated feed;
    with `before` (an earlier `layout`), its packing of the same frames, given one by one as it took them."""
    feed = write_feed(messages, workdir)
    blocks = frame_blocks(feed)
    frames = sum(map(len, blocks))
    sent = sum(int(b.nbytes) for b, _ in layout.batch_frames(blocks, SEND_BUFFER_BYTES))
    rows = replay(feed, workdir / "cpu")["rows"]["bbo"]
    out = {"messages": messages, "frames": frames, "bytes_in_per_message": sent / messages,
           "records_per_message": rows / messages, "framing_s": best_of(lambda: frame_blocks(feed), 3),
           "pack_s": best_of(lambda: list(layout.batch_frames(blocks, SEND_BUFFER_BYTES)))}
    if before is not None:
        one_by_one = [frame for block in blocks for frame in block.frames()]
        out["pack_before_s"] = best_of(lambda: list(before.batch_frames(one_by_one, SEND_BUFFER_BYTES)), 3)
    return out


def measure_decode(slots: bytes, before: ModuleType | None) -> dict:
    """Host time to unpad and decode the simulated board's S2MM record slots, repeated to DECODE_RECORDS;
    with `before` (an earlier `bbo_stream`), its decoding of the same records."""
    one = len(slots) // layout.RECORD_SLOT_BYTES
    received = slots * -(-DECODE_RECORDS // one)
    data = layout.records_from_slots(received)
    out = {"records": len(received) // layout.RECORD_SLOT_BYTES,
           "unslot_s": best_of(lambda: layout.records_from_slots(received)),
           "decode_s": best_of(lambda: bbo_stream.decode(data))}
    if before is not None:
        assert before.decode(data).bbo.equals(bbo_stream.decode(data).bbo)
        out["decode_before_s"] = best_of(lambda: before.decode(data), 3)
    return out


def module_at(commit: str, module: str) -> ModuleType:
    """`tickaccel.fpga.<module>` as it was at `commit` (read with git show), for before/after timings."""
    source = subprocess.run(["git", "show", f"{commit}:host/fpga/{module}.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    loaded = sys.modules[f"{module}_at_{commit}"] = ModuleType(f"{module}_at_{commit}")  # dataclasses look it up
    exec(compile(source, f"{commit}:host/fpga/{module}.py", "exec"), loaded.__dict__)
    return loaded


def measure_stream(feed: Path, records_per_packet: int, workdir: Path) -> dict:
    """One simulation of feed_to_book_dma over `feed`; the testbench's figures and the S2MM bytes."""
    board = dataclasses.replace(BOARDS[SIM_BOARD], records_per_packet=records_per_packet)
    buffers = [b.tobytes() for b, _ in layout.batch_frames(frame_blocks(feed), SIM_BATCH_BYTES)]
    stimulus = workdir / f"buffers{records_per_packet}.pkl"
    result, received = workdir / f"result{records_per_packet}.json", workdir / f"s2mm{records_per_packet}.bin"
    stimulus.write_bytes(pickle.dumps(buffers))
    parameters = {"DATA_WIDTH": layout.STREAM_WIDTH, **board.rtl_parameters()}
    started = time.perf_counter()
    simulate(tcl.TOP, tcl.RTL_SOURCES, "tickaccel.sim.tb_dma_overhead", parameters,
             env={"TB_BUFFERS": str(stimulus), "TB_RESULT": str(result), "TB_S2MM": str(received),
                  "TB_IDLE_CYCLES": str(board.idle_cycles)})
    out = json.loads(result.read_text())
    out.update(records_per_packet=records_per_packet, idle_cycles=board.idle_cycles,
               wall_s=time.perf_counter() - started, s2mm=received.read_bytes())
    return out


def measure_depths(boards: list[str], workdir: Path) -> dict:
    """synth_xilinx logic depth of feed_handler (64-bit) and of each board's order_book, two Yosys at a time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        runs = {"feed_handler": pool.submit(synth.synthesize, "feed_handler", layout.STREAM_WIDTH)}
        for name in boards:
            board = BOARDS[name]
            runs[name] = pool.submit(synthesize_book, board.book, workdir / f"order_book_{name}.log",
                                     DELAY_MODEL[board.ps][0])
        depths = {name: run.result()["logic_depth"] for name, run in runs.items()}
    return {**depths, "wall_s": time.perf_counter() - started}


def clock_estimate_mhz(ps: str, depth: int) -> float:
    _, start_ns, level_ns = DELAY_MODEL[ps]
    return 1e3 / (start_ns + depth * level_ns)


def board_rates(pack: dict, decode: dict, stream: dict, book: dict, depths: dict, boards: list[str]) -> list[dict]:
    burst = stream["burst"]
    msgs_per_cycle = burst["messages"] / burst["cycles"]
    events_per_message = stream["book_events"] / stream["messages"]
    host_frame_s = (pack["framing_s"] + pack["pack_s"]) / pack["messages"]
    host_record_s = (decode["unslot_s"] + decode["decode_s"]) / decode["records"]
    out = []
    for name in boards:
        b = BOARDS[name]
        depth = max(depths["feed_handler"], depths[name])
        reached = clock_estimate_mhz(b.ps, depth)
        clock = min(b.pl_clock_mhz, reached) * 1e6  # the RTL runs no faster than the PS clock it is given
        out_bytes = pack["records_per_message"] * layout.RECORD_SLOT_BYTES
        hp = b.hp_width / 8 * clock * HP_EFFICIENCY / (pack["bytes_in_per_message"] + out_bytes)
        pipeline = min(msgs_per_cycle * clock, hp)
        bound = "pipeline" if msgs_per_cycle * clock <= hp else "HP port"
        # the driver is one Python thread: its time adds to the stream's, it does not overlap
        transfers_per_message = (pack["bytes_in_per_message"] / SEND_BUFFER_BYTES
                                 + pack["records_per_message"] / b.records_per_packet)
        host_seconds = (HOST_SECONDS_PER_TRANSFER * transfers_per_message + host_frame_s
                        + host_record_s * pack["records_per_message"])
        out.append({
            "board": b.name, "target_mhz": b.pl_clock_mhz, "depth": depth, "reached_mhz": reached,
            "clock_mhz": clock / 1e6, "book_epc": book[name]["events_per_cycle"],
            "book_alone": book[name]["events_per_cycle"] * clock / events_per_message,
            "measured": msgs_per_cycle * clock, "hp": hp, "host_only": 1 / host_seconds,
            "rate": 1 / (1 / pipeline + host_seconds), "bound": bound,
        })
    return out


def report(args, pack: dict, decode: dict, runs: dict[int, dict], book: dict, depths: dict,
           rtl_state: str) -> list[str]:
    main = runs[BOARDS[SIM_BOARD].records_per_packet]
    lone, burst = main["lone_transfer"], main["burst"]
    msgs_per_cycle = burst["messages"] / burst["cycles"]
    beats_per_message = burst["beats"] / burst["messages"]
    events_per_message = main["book_events"] / main["messages"]
    gaps = burst["gaps_between_buffers"]
    sim_book = book[SIM_BOARD]
    rates = board_rates(pack, decode, main, book, depths, args.boards)
    lines = [
        f"Command: `.venv/bin/python bench/fpga_dma.py --messages {args.messages} --sim-messages "
        f"{args.sim_messages} --boards {' '.join(args.boards)}"
        f"{' --before ' + args.before if args.before else ''}` (Icarus 11 + cocotb 2.1, Yosys 0.23; DMA "
        f"simulations {sum(r['wall_s'] for r in runs.values()):.0f} s, book simulations "
        f"{sum(b['wall_s'] for b in book.values()):.0f} s, synthesis {depths['wall_s']:.0f} s). RTL measured: "
        f"{rtl_state}.",
        "",
        "#### Measured in simulation (cycles)",
        "",
        f"`sim/tb_dma_overhead.py` runs `feed_to_book_dma` with {SIM_BOARD}'s book "
        f"({', '.join(f'{k}={v}' for k, v in BOARDS[SIM_BOARD].rtl_parameters().items() if k not in ('RECORDS_PER_PACKET', 'IDLE_CYCLES'))}), "
        f"64-bit streams, IDLE_CYCLES={main['idle_cycles']}, on a generated feed of {main['messages']:,} messages "
        f"(seed {FEED_SEED}, {FEED_SYMBOLS} symbols) framed and packed by the driver's code into "
        f"{SIM_BATCH_BYTES >> 10} KiB MM2S buffers. The DMA is ideal (MM2S never pauses, S2MM always ready), "
        f"so every cycle counted is the RTL's. The first buffer is sent alone and drained; the other "
        f"{burst['buffers']} follow back to back.",
        "",
        "| figure | cycles |",
        "|---|---|",
        f"| first MM2S beat of a buffer → first frame beat into feed_to_book (the header beat) | "
        f"{lone['first_beat_to_first_frame']} |",
        f"| first MM2S beat → first BBO record out of the book | {lone['first_beat_to_first_record']} |",
        f"| gap between buffers sent back to back ({len(gaps)} boundaries) | min {min(gaps)}, max {max(gaps)} |",
        f"| last MM2S beat of a lone buffer → its last record out of the book | {lone['last_beat_to_last_record']} |",
        f"| last record → S2MM tlast (packetizer flush: RECORD_BEATS + IDLE_CYCLES) | {lone['last_record_to_tlast']} |",
        f"| back-to-back buffers: first MM2S beat to the last beat or record, {burst['messages']:,} messages | "
        f"{burst['cycles']:,} |",
        f"| of which MM2S stalled by feed_to_book (tvalid, no tready) | {burst['mm2s_stalls']:,} "
        f"({burst['mm2s_stalls'] / burst['cycles_mm2s']:.0%} of the MM2S cycles) |",
        f"| after reset, once per bitstream load: the book clears its RAMs | {main['clear_after_reset_cycles']:,} |",
        "",
        f"- **{msgs_per_cycle:.3f} messages per cycle end to end** ({1 / msgs_per_cycle:.2f} cycles per message); "
        f"the MM2S stream alone needs {beats_per_message:.2f} (8-byte beats per message with headers and padding); "
        f"the book alone, at the **{sim_book['events_per_cycle']:.3f} events per cycle** measured here on "
        f"order_book with {SIM_BOARD}'s parameters ({sim_book['events']:,} events of `bench/rtl_book.py`'s "
        f"feed: {args.sim_messages:,} generated messages, {FEED_SYMBOLS} symbols) and "
        f"{events_per_message:.3f} book events per message, needs {events_per_message / sim_book['events_per_cycle']:.2f}.",
        "- S2MM packets: " + "; ".join(
            f"RECORDS_PER_PACKET={rpp}: {r['burst']['s2mm_packets']} packets for {r['burst']['records']:,} records"
            for rpp, r in sorted(runs.items())) + f"; order-store-full events: {main['order_store_full']}.",
        "",
        "#### Host driver on this machine (x86 host, not the board's ARM)",
        "",
        f"The driver's own functions, best of several runs: framing a {pack['messages']:,}-message BinaryFILE "
        f"(`feed.framing`, {pack['frames']:,} frames), packing the frames into {SEND_BUFFER_BYTES >> 20} MiB send "
        f"buffers (`layout.batch_frames`, compiled), unpadding and decoding {decode['records']:,} records "
        f"(the simulated board's S2MM output, repeated; `layout.records_from_slots`, `bbo_stream.decode`, compiled).",
        "",
        "| step | time | per frame | per message | rate |",
        "|---|---|---|---|---|",
        f"| framing (MoldUDP64 + UDP frames) | {pack['framing_s'] * 1e3:.1f} ms | "
        f"{pack['framing_s'] / pack['frames'] * 1e9:,.0f} ns | {pack['framing_s'] / pack['messages'] * 1e9:.1f} ns | "
        f"{pack['frames'] / pack['framing_s'] / 1e6:.2f} M frames/s |",
        f"| pack into send buffers | {pack['pack_s'] * 1e3:.1f} ms | {pack['pack_s'] / pack['frames'] * 1e9:,.0f} ns | "
        f"{pack['pack_s'] / pack['messages'] * 1e9:.1f} ns | {pack['frames'] / pack['pack_s'] / 1e6:.2f} M frames/s |",
        f"| unpad record slots | {decode['unslot_s'] * 1e3:.1f} ms | | "
        f"{decode['unslot_s'] / decode['records'] * pack['records_per_message'] * 1e9:.1f} ns | "
        f"{decode['records'] / decode['unslot_s'] / 1e6:.1f} M records/s |",
        f"| decode records into the BBO table | {decode['decode_s'] * 1e3:.1f} ms | | "
        f"{decode['decode_s'] / decode['records'] * pack['records_per_message'] * 1e9:.1f} ns | "
        f"{decode['records'] / decode['decode_s'] / 1e6:.2f} M records/s |",
    ]
    if args.before:
        lines += [
            f"| pack, host/fpga/layout.py at {args.before} (a Python loop per frame) | "
            f"{pack['pack_before_s'] * 1e3:.1f} ms | {pack['pack_before_s'] / pack['frames'] * 1e9:,.0f} ns | "
            f"{pack['pack_before_s'] / pack['messages'] * 1e9:.1f} ns | "
            f"{pack['frames'] / pack['pack_before_s'] / 1e6:.2f} M frames/s |",
            f"| decode, host/fpga/bbo_stream.py at {args.before} (a Python loop per record) | "
            f"{decode['decode_before_s'] * 1e3:.1f} ms | | "
            f"{decode['decode_before_s'] / decode['records'] * pack['records_per_message'] * 1e9:.1f} ns | "
            f"{decode['records'] / decode['decode_before_s'] / 1e6:.2f} M records/s |",
        ]
    lines += [
        "",
        f"Bytes per message as packed: {pack['bytes_in_per_message']:.2f} B into MM2S; "
        f"{pack['records_per_message']:.3f} records ({layout.RECORD_SLOT_BYTES} B slots) out of S2MM.",
        "",
        "#### Per board (messages/s)",
        "",
        "| board | logic depth (feed_handler / book) | clock the RTL reaches | clock used (PS target) | "
        "book events/cycle | book alone | pipeline (cycles × clock) | HP port | host alone | bound | **expected** |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rates:
        lines.append(
            f"| {r['board']} | {depths['feed_handler']} / {depths[r['board']]} (measured) | "
            f"{r['reached_mhz']:.0f} MHz (estimate) | {r['clock_mhz']:.0f} MHz ({r['target_mhz']}) | "
            f"{r['book_epc']:.3f} (measured) | {r['book_alone'] / 1e6:,.1f} M | {r['measured'] / 1e6:,.1f} M "
            f"(measured cycles) | {r['hp'] / 1e6:,.1f} M (assumed {HP_EFFICIENCY:.0%}) | "
            f"{r['host_only'] / 1e6:,.2f} M (x86 host) | {r['bound']} + host | **{r['rate'] / 1e6:,.2f} M** |")
    lines += [
        "",
        "- Clock: `1 / (start + depth × level)` with the deeper of feed_handler's and the board's book "
        "logic depth (Yosys `synth_xilinx`, `ltp` with the flip-flops and RAMs removed); "
        + "; ".join(f"{ps}: {family}, start {start} ns, {level} ns per level" for ps, (family, start, level)
                    in DELAY_MODEL.items())
        + " — an estimate, nothing placed. The book simulations run each board's parameters; the DMA "
        f"pipeline's cycles are {SIM_BOARD}'s and are used for every board.",
        f"- Host: the measured x86 costs above per frame and per record, plus an assumed "
        f"{HOST_SECONDS_PER_TRANSFER * 1e6:.0f} µs of pynq calls per DMA transfer (one per "
        f"{SEND_BUFFER_BYTES >> 20} MiB buffer and one per S2MM packet); the board's ARM cores are slower, "
        "so the host column is an upper bound. Expected = 1 / (1 / min(pipeline, HP port) + host seconds "
        "per message): the driver is one thread, its time does not overlap the stream's.",
    ]
    return lines


def rtl_state() -> str:
    """The RTL this run measured: the commit, the hw/rtl files that differ from it, a digest of hw/rtl."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "hw" / "rtl").iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    changed = subprocess.run(["git", "status", "--porcelain", "--", "hw/rtl"], cwd=ROOT,
                             capture_output=True, text=True).stdout.split("\n")
    files = [line[3:] for line in changed if line.strip()]
    return (f"commit {commit.stdout.strip() or '?'}"
            + (f" with uncommitted changes to {', '.join(files)}" if files else ", hw/rtl as committed")
            + f" (hw/rtl sha256 {digest.hexdigest()[:12]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="feed size for the packing figures")
    parser.add_argument("--sim-messages", type=int, default=10_000, help="feed size for the RTL simulations")
    parser.add_argument("--boards", nargs="+", choices=sorted(BOARDS), default=list(BOARDS))
    parser.add_argument("--before", metavar="COMMIT",
                        help="also time the packing and decoding of host/fpga as it was at COMMIT")
    args = parser.parse_args()
    if SIM_BOARD not in args.boards:
        parser.error(f"--boards must include {SIM_BOARD}, whose book the DMA simulation builds")
    state = rtl_state()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pack = measure_packing(args.messages, work, args.before and module_at(args.before, "layout"))
        sim_feed = write_feed(args.sim_messages, work)
        runs = {rpp: measure_stream(sim_feed, rpp, work)
                for rpp in (BOARDS[SIM_BOARD].records_per_packet, SMALL_PACKET)}
        decode = measure_decode(runs[BOARDS[SIM_BOARD].records_per_packet]["s2mm"],
                                args.before and module_at(args.before, "bbo_stream"))
        book = {}
        for name in args.boards:
            started = time.perf_counter()
            book[name] = measure_book(BOARDS[name].book, args.sim_messages, FEED_SYMBOLS)
            book[name]["wall_s"] = time.perf_counter() - started
        depths = measure_depths(args.boards, work)
    if rtl_state() != state:
        state += f" at the start, {rtl_state()} at the end"
    print("\n".join(report(args, pack, decode, runs, book, depths, state)))


if __name__ == "__main__":
    main()
