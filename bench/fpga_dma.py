"""Expected messages/s of feed_to_book over AXI DMA, per board: stream cycles measured in simulation.

Two measurements, then arithmetic:

- packing a generated feed exactly as the driver does (`tickaccel.fpga.layout`)
  gives MM2S bytes and S2MM records per message;
- ``sim/tb_dma_overhead.py`` runs feed_to_book_dma (pynq-z2's book) under
  cocotb with an ideal DMA and counts cycles: the first MM2S beat of a buffer
  to the first frame into feed_to_book, the gap between buffers sent back to
  back, the packetizer's flush of a burst's tail, S2MM packets for two
  RECORDS_PER_PACKET values, and messages per cycle end to end.

Per board, the measured messages per cycle times the PL clock, the HP port and
the host's time per DMA transfer (an assumption: nothing here runs on an ARM
core) give the estimate. Prints the Markdown section for bench/RESULTS.md.

    python bench/fpga_dma.py [--messages 200000] [--sim-messages 10000]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import re
import tempfile
import time
from pathlib import Path

from tickaccel.feed import generator
from tickaccel.feed.capture import udp_frame
from tickaccel.fpga import BOARDS, layout, tcl
from tickaccel.fpga.sim_board import simulate
from tickaccel.feed.moldudp64 import build_packets
from tickaccel.batch import replay
from tickaccel.feed.framing import DEST_IP, DEST_PORT

BENCH = Path(__file__).resolve().parent
# Assumptions, not measurements.
HOST_SECONDS_PER_TRANSFER = 30e-6  # PYNQ on the ARM cores: a few MMIO writes and status polls from Python
HP_EFFICIENCY = 0.8               # sustained fraction of HP port bandwidth with 64-beat bursts
SEND_BUFFER_BYTES = 4 << 20       # the driver's default send buffer
SIM_BATCH_BYTES = 16 << 10        # small buffers, so one simulated feed makes several transfers
SIM_BOARD = "pynq-z2"             # whose book parameters the simulation builds
SMALL_PACKET = 64                 # RECORDS_PER_PACKET of the comparison run


def feed_frames(messages: int) -> list[bytes]:
    feed = generator.generate(messages, 500, 7).tobytes()
    return [udp_frame(p, dst_ip=DEST_IP, dst_port=DEST_PORT, ident=i)
            for i, p in enumerate(build_packets(feed, "BENCH", first_seq=1))]


def measure_packing(messages: int, workdir: Path) -> dict:
    feed = generator.generate(messages, 500, 7).tobytes()
    frames = feed_frames(messages)
    sent = sum(layout.slot_bytes(len(f)) for f in frames)
    path = workdir / "bench.itch"
    path.write_bytes(feed)
    rows = replay(path, workdir / "cpu")["rows"]["bbo"]
    return {"messages": messages, "frames": len(frames), "bytes_in_per_message": sent / messages,
            "records_per_message": rows / messages}


def measure_stream(messages: int, records_per_packet: int, workdir: Path) -> dict:
    """One simulation of feed_to_book_dma over `messages` generated messages; the testbench's figures."""
    board = dataclasses.replace(BOARDS[SIM_BOARD], records_per_packet=records_per_packet)
    buffers = [b.tobytes() for b, _ in layout.batch_frames(feed_frames(messages), SIM_BATCH_BYTES)]
    stimulus, result = workdir / f"buffers{records_per_packet}.pkl", workdir / f"result{records_per_packet}.json"
    stimulus.write_bytes(pickle.dumps(buffers))
    parameters = {"DATA_WIDTH": layout.STREAM_WIDTH, **board.rtl_parameters()}
    started = time.perf_counter()
    simulate(tcl.TOP, tcl.RTL_SOURCES, "tickaccel.sim.tb_dma_overhead", parameters,
             env={"TB_BUFFERS": str(stimulus), "TB_RESULT": str(result), "TB_IDLE_CYCLES": str(board.idle_cycles)})
    out = json.loads(result.read_text())
    out.update(records_per_packet=records_per_packet, idle_cycles=board.idle_cycles,
               wall_s=time.perf_counter() - started)
    return out


def book_events_per_cycle() -> float:
    """The order book's sustained events per cycle, as bench/RESULTS.md's RTL order book section states it."""
    text = (BENCH / "RESULTS.md").read_text()
    section = text[text.index("## RTL order book"):]
    found = re.search(r"([0-9.]+) events per cycle", section)
    if not found:
        raise SystemExit("bench/RESULTS.md's RTL order book section states no 'N events per cycle' figure")
    return float(found.group(1))


def board_rates(pack: dict, stream: dict, book_epc: float) -> list[dict]:
    burst = stream["burst"]
    msgs_per_cycle = burst["messages"] / burst["cycles"]
    events_per_message = stream["book_events"] / stream["messages"]
    out = []
    for b in BOARDS.values():
        clock = b.pl_clock_mhz * 1e6
        out_bytes = pack["records_per_message"] * layout.RECORD_SLOT_BYTES
        hp = b.hp_width / 8 * clock * HP_EFFICIENCY / (pack["bytes_in_per_message"] + out_bytes)
        pipeline = min(msgs_per_cycle * clock, hp)
        bound = "pipeline (measured)" if msgs_per_cycle * clock <= hp else "HP port"
        # the driver is one Python thread: its time per transfer adds to the stream's, it does not overlap
        transfers_per_message = (pack["bytes_in_per_message"] / SEND_BUFFER_BYTES
                                 + pack["records_per_message"] / b.records_per_packet)
        host_seconds = HOST_SECONDS_PER_TRANSFER * transfers_per_message
        out.append({
            "board": b.name, "clock_mhz": b.pl_clock_mhz, "hp_width": b.hp_width,
            "mm2s_stream": clock * layout.STREAM_BYTES / pack["bytes_in_per_message"],
            "s2mm_stream": clock * layout.STREAM_BYTES / out_bytes,
            "book_paper": book_epc * clock / events_per_message,
            "measured": msgs_per_cycle * clock, "hp": hp, "host_only": 1 / host_seconds,
            "rate": 1 / (1 / pipeline + host_seconds), "bound": bound,
        })
    return out


def report(args, pack: dict, runs: dict[int, dict], book_epc: float) -> list[str]:
    main = runs[BOARDS[SIM_BOARD].records_per_packet]
    lone, burst = main["lone_transfer"], main["burst"]
    msgs_per_cycle = burst["messages"] / burst["cycles"]
    beats_per_message = burst["beats"] / burst["messages"]
    events_per_message = main["book_events"] / main["messages"]
    gaps = burst["gaps_between_buffers"]
    lines = [
        "# feed_to_book over AXI DMA: expected throughput per board",
        "",
        f"Command: `.venv/bin/python bench/fpga_dma.py --messages {args.messages} --sim-messages "
        f"{args.sim_messages}` (Icarus 11 + cocotb 2.1; simulations took "
        f"{sum(r['wall_s'] for r in runs.values()):.0f} s).",
        "",
        "## Measured in simulation (cycles)",
        "",
        f"`sim/tb_dma_overhead.py` runs `feed_to_book_dma` with {SIM_BOARD}'s book "
        f"({', '.join(f'{k}={v}' for k, v in BOARDS[SIM_BOARD].rtl_parameters().items() if k not in ('RECORDS_PER_PACKET', 'IDLE_CYCLES'))}), "
        f"64-bit streams, IDLE_CYCLES={main['idle_cycles']}, on a generated feed of {main['messages']:,} messages "
        f"(seed 7, 500 symbols) packed by the driver's code into {SIM_BATCH_BYTES >> 10} KiB MM2S buffers. "
        "The DMA is ideal (MM2S never pauses, S2MM always ready), so every cycle counted is the RTL's. "
        "The first buffer is sent alone and drained; the other "
        f"{burst['buffers']} follow back to back.",
        "",
        "| figure | cycles |",
        "|---|---|",
        f"| first MM2S beat of a buffer → first frame beat into feed_to_book (the header beat) | "
        f"{lone['first_beat_to_first_frame']} |",
        f"| first MM2S beat → first BBO record out of the book | {lone['first_beat_to_first_record']} |",
        f"| gap between buffers sent back to back (last beat of one to first of the next, minus one; "
        f"{len(gaps)} boundaries) | min {min(gaps)}, max {max(gaps)} |",
        f"| last MM2S beat of a lone buffer → its last record out of the book | {lone['last_beat_to_last_record']} |",
        f"| last record → S2MM tlast (packetizer flush of a burst's tail: RECORD_BEATS + IDLE_CYCLES) | "
        f"{lone['last_record_to_tlast']} |",
        f"| one lone transfer, first MM2S beat → last S2MM tlast ({lone['beats']:,} beats in) | "
        f"{lone['first_beat_to_last_tlast']:,} |",
        f"| back-to-back buffers: first MM2S beat to the last beat or record, {burst['messages']:,} messages | "
        f"{burst['cycles']:,} |",
        f"| after reset, once per bitstream load: the book clears its RAMs (not in any figure above) | "
        f"{main['clear_after_reset_cycles']:,} |",
        f"| of which MM2S stalled by feed_to_book (tvalid, no tready) | {burst['mm2s_stalls']:,} "
        f"({burst['mm2s_stalls'] / burst['cycles_mm2s']:.0%} of the MM2S cycles) |",
        "",
        f"- **{msgs_per_cycle:.3f} messages per cycle end to end** ({1 / msgs_per_cycle:.2f} cycles per message). "
        f"The MM2S stream alone needs {beats_per_message:.2f} cycles per message (one 8-byte beat per cycle, "
        f"this feed's {beats_per_message * layout.STREAM_BYTES:.1f} B per message with headers and padding); "
        f"the book alone, at the {book_epc} events per cycle the RTL order book section of bench/RESULTS.md measures "
        f"(order_book by itself, its own feed and parameters) and {events_per_message:.3f} book events per "
        f"message, needs {events_per_message / book_epc:.2f}. The two nearly tie and mostly overlap; the book's "
        "slow events (level refills, deep-add searches) stall MM2S for the rest. A wider stream would leave "
        "the book engine as the limit.",
        "- S2MM packets for the same feed (records per packet: packets in the burst, records "
        "in it; a packet closes by count or by the idle timeout):",
    ]
    for rpp, run in sorted(runs.items()):
        b = run["burst"]
        lines.append(f"  - RECORDS_PER_PACKET={rpp}: {b['s2mm_packets']} packets for {b['records']:,} records "
                     f"(ceil(records / {rpp}) = {-(-b['records'] // rpp)}); the lone buffer's "
                     f"{run['lone_transfer']['records']} records took "
                     f"{-(-run['lone_transfer']['records'] // rpp)} by count plus the idle close.")
    lines += [
        f"- Checked in the run: records counted by the book's CSRs = records into the packetizer = "
        f"S2MM bytes / {layout.RECORD_SLOT_BYTES}; order-store-full events: {main['order_store_full']}.",
        "",
        "## Assumed, not measured",
        "",
        "- PL clock: the board table's target (`tickaccel.fpga.boards`); the RTL has not closed timing there "
        "(the RTL sections of bench/RESULTS.md).",
        f"- Host cost per DMA transfer on the ARM cores: {HOST_SECONDS_PER_TRANSFER * 1e6:.0f} µs of Python "
        "(pynq transfer call, status polls, cache flush/invalidate). It adds to the stream time: the driver is "
        f"one thread. Transfers per message: one per {SEND_BUFFER_BYTES >> 20} MiB send buffer plus one per S2MM "
        "packet of RECORDS_PER_PACKET records. The DMA's own start latency (register write to first beat, "
        "DDR reads) is inside this figure.",
        f"- HP port: {HP_EFFICIENCY:.0%} of width × clock sustained, carrying both directions.",
        f"- Bytes per message, measured by packing a {args.messages:,}-message feed as the driver does: "
        f"{pack['bytes_in_per_message']:.2f} B into MM2S, {pack['records_per_message']:.3f} records "
        f"({layout.RECORD_SLOT_BYTES} B slots) out of S2MM.",
        "- The measured cycles per message hold at every board's clock: all boards use 64-bit DMA streams "
        f"and the simulation used {SIM_BOARD}'s book; the larger books of zcu104/kv260 have more levels to "
        "scan on a refill, so their cycles per message can only be higher.",
        "",
        "## Per board (messages/s)",
        "",
        "| board | PL clock | HP width | MM2S stream alone | S2MM stream alone | book alone (paper) | "
        "**pipeline (measured cycles × clock)** | HP port | host per transfer alone | bound | **expected** |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in board_rates(pack, main, book_epc):
        lines.append(f"| {r['board']} | {r['clock_mhz']} MHz | {r['hp_width']} | {r['mm2s_stream'] / 1e6:,.1f} M | "
                     f"{r['s2mm_stream'] / 1e6:,.1f} M | {r['book_paper'] / 1e6:,.1f} M | "
                     f"{r['measured'] / 1e6:,.1f} M | {r['hp'] / 1e6:,.1f} M | {r['host_only'] / 1e6:,.1f} M | "
                     f"{r['bound']} + host | **{r['rate'] / 1e6:,.1f} M** |")
    lines += [
        "",
        "Expected = 1 / (1 / min(pipeline, HP port) + host seconds per message): the host's time per "
        "transfer does not overlap the stream's. The \"alone\" columns are each part by itself, for "
        "comparison; the pipeline column is measured with all of them (but the host and the HP port) "
        "working together. The DMA framing's own cost per transfer is what the cycle table shows: one "
        "header beat per frame, no gap between buffers, and the packetizer's IDLE_CYCLES at the end of a burst.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="feed size for the packing figures")
    parser.add_argument("--sim-messages", type=int, default=10_000, help="feed size for the RTL simulations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pack = measure_packing(args.messages, Path(tmp))
        runs = {rpp: measure_stream(args.sim_messages, rpp, Path(tmp))
                for rpp in (BOARDS[SIM_BOARD].records_per_packet, SMALL_PACKET)}
    lines = report(args, pack, runs, book_events_per_cycle())
    print("\n".join(lines))


if __name__ == "__main__":
    main()
