"""Expected messages/s of feed_to_book over AXI DMA, per board, on paper.

Bytes per message on each stream are measured by packing a generated feed
exactly as the driver does (`tickaccel.fpga.layout`: MoldUDP64 in UDP frames,
one header beat per frame, 48-byte record slots); the rest are the board
table's clock and port widths and the stated assumptions below. Writes
bench/RESULTS_fpga.md.

    python bench/fpga_dma.py [--messages 200000]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from tickaccel import generator
from tickaccel.capture import udp_frame
from tickaccel.fpga import BOARDS, layout
from tickaccel.moldudp64 import build_packets
from tickaccel.replay import replay

# Assumptions, not measurements.
HOST_SECONDS_PER_TRANSFER = 30e-6  # PYNQ: a few MMIO writes and status polls from Python per DMA transfer
HP_EFFICIENCY = 0.8               # sustained fraction of HP port bandwidth with 64-beat bursts
SEND_BUFFER_BYTES = 4 << 20       # the driver's default send buffer


def measure(messages: int, workdir: Path) -> dict:
    feed = generator.generate(messages, 500, 7).tobytes()
    frames = [udp_frame(p, ident=i) for i, p in enumerate(build_packets(feed, "BENCH", first_seq=1))]
    sent = sum(layout.slot_bytes(len(f)) for f in frames)
    path = workdir / "bench.itch"
    path.write_bytes(feed)
    rows = replay(path, workdir / "cpu")["rows"]["bbo"]
    return {"messages": messages, "frames": len(frames), "bytes_in_per_message": sent / messages,
            "records_per_message": rows / messages}


def board_rates(m: dict) -> list[dict]:
    out = []
    for b in BOARDS.values():
        clock = b.pl_clock_mhz * 1e6
        stream_in = layout.STREAM_BYTES * clock / m["bytes_in_per_message"]  # MM2S beats, 1 per cycle
        out_bytes = m["records_per_message"] * layout.RECORD_SLOT_BYTES
        stream_out = layout.STREAM_BYTES * clock / out_bytes
        hp = b.hp_width / 8 * clock * HP_EFFICIENCY / (m["bytes_in_per_message"] + out_bytes)
        per_send = SEND_BUFFER_BYTES / m["bytes_in_per_message"]
        per_recv = b.records_per_packet / m["records_per_message"]
        host = 1 / (HOST_SECONDS_PER_TRANSFER * (1 / per_send + 1 / per_recv))
        limits = {"MM2S stream": stream_in, "S2MM stream": stream_out, "HP port (both ways)": hp,
                  "host per-transfer cost": host}
        bound = min(limits, key=limits.get)
        out.append({"board": b.name, "clock_mhz": b.pl_clock_mhz, "hp_width": b.hp_width,
                    "limits": limits, "bound": bound, "rate": limits[bound]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        m = measure(args.messages, Path(tmp))
    lines = [
        "# feed_to_book over AXI DMA: expected throughput on paper",
        "",
        f"Command: `python bench/fpga_dma.py --messages {args.messages}`. Generated feed (seed 7, 500 symbols), "
        f"{m['frames']:,} MoldUDP64 frames of <= 1400 B payload.",
        "",
        f"- Measured by packing the feed as the driver does: {m['bytes_in_per_message']:.2f} B per message "
        f"into MM2S (frame headers, 8-byte frame header beat, padding to 8 B); "
        f"{m['records_per_message']:.3f} BBO records per message out, {layout.RECORD_SLOT_BYTES} B each on S2MM.",
        "- Streams: 64-bit at the PL clock, one beat per cycle (feed_to_book takes one input beat per cycle: "
        "bench/RESULTS_rtl.md; the packetizer sends 6 beats per record).",
        f"- Assumed: HP port sustains {HP_EFFICIENCY:.0%} of width x clock; the host spends "
        f"{HOST_SECONDS_PER_TRANSFER * 1e6:.0f} us of Python per DMA transfer (transfer + polls + wait); "
        f"{SEND_BUFFER_BYTES >> 20} MiB send buffers; receive packets of RECORDS_PER_PACKET records.",
        "- Not included: the order book's cycles per event (level scans stall it; see bench/RESULTS_rtl.md) and "
        "timing closure at these clocks, which the RTL has not met yet. Per-transfer overhead was not measured "
        "in simulation (the simulated board's polls advance time in 64-cycle steps, too coarse for it).",
        "",
        "| board | PL clock | HP width | MM2S stream | S2MM stream | HP port | host per transfer | bound | msg/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in board_rates(m):
        lim = r["limits"]
        lines.append(f"| {r['board']} | {r['clock_mhz']} MHz | {r['hp_width']} | {lim['MM2S stream']:,.0f} | "
                     f"{lim['S2MM stream']:,.0f} | {lim['HP port (both ways)']:,.0f} | "
                     f"{lim['host per-transfer cost']:,.0f} | {r['bound']} | **{r['rate']:,.0f}** |")
    lines += ["", "All columns are messages per second."]
    path = Path(__file__).resolve().parent / "RESULTS_fpga.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
