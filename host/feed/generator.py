"""Seeded, deterministic synthetic TotalView-ITCH 5.0 feeds that build realistic books.

The public face of the generator: `generate` gives the messages as bytes,
`write_feed` writes them as BinaryFILE or as MoldUDP64-in-UDP pcap, optionally
with injected faults listed in a ``<out>.faults.json`` sidecar. The work is
done by `tickaccel.feed.market` (the simulated session), `tickaccel.feed.faults`
(what goes wrong, on purpose) and `tickaccel.feed.writers` (the output formats).
"""
from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from tickaccel.errors import TickaccelError
from tickaccel.feed.faults import ITCH_FAULTS, PCAP_FAULTS, check_faults, parse_faults
from tickaccel.feed.market import GeneratorConfig, generate_feed, min_messages
from tickaccel.feed.writers import (
    DEFAULT_UDP_PORT, FEED_FORMATS, feed_format_for, write_binaryfile_feed, write_pcap_feed, write_sidecar,
)

__all__ = [
    "DEFAULT_UDP_PORT", "FEED_FORMATS", "ITCH_FAULTS", "PCAP_FAULTS", "GeneratorConfig", "feed_format_for",
    "generate", "generate_feed", "min_messages", "parse_faults", "write_feed",
]


def generate(n_messages: int = 1_000_000, n_symbols: int = 1000, seed: int = 0, **config) -> np.ndarray:
    """A synthetic feed of exactly ``n_messages`` length-prefixed ITCH messages (uint8 array).

    Same arguments, same bytes. Extra keyword arguments are `GeneratorConfig` fields.
    """
    return generate_feed(GeneratorConfig(n_messages=n_messages, n_symbols=n_symbols, seed=seed, **config))


def write_feed(
    out_path: str | os.PathLike,
    config: GeneratorConfig | None = None,
    *,
    format: str | None = None,
    faults: str | dict[str, float] | None = None,
    session: str = "TICKACCEL",
    udp_port: int = DEFAULT_UDP_PORT,
    packet_messages: int | None = None,
    packet_bytes: int = 1400,
    heartbeat_every: int = 1000,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Generate a feed and write it as BinaryFILE (``itch``, ``itch.gz``) or MoldUDP64 pcap.

    With ``faults`` (a spec string or dict of rates) every injected fault is
    listed in ``<out>.faults.json`` with its position, the sequence numbers it
    affects and the error counts a reader must report. Returns a summary.
    """
    config = config or GeneratorConfig()
    format = format or feed_format_for(out_path)
    if format not in FEED_FORMATS:
        raise TickaccelError(f"unknown feed format {format!r}; use one of {', '.join(FEED_FORMATS)}")
    fault_rates = parse_faults(faults) if isinstance(faults, str) or faults is None else dict(faults)
    check_faults(fault_rates, format)
    say = progress or (lambda stage: None)
    say("generating")
    framed = generate_feed(config)
    fault_rng = np.random.default_rng([config.seed, 1])
    summary = {"path": os.fspath(out_path), "format": format, "messages": config.n_messages,
               "symbols": config.n_symbols, "seed": config.seed}
    sidecar: dict = {"format": format, "messages": config.n_messages, "seed": config.seed}
    if format == "pcap":
        written, injected = write_pcap_feed(out_path, framed, fault_rates, fault_rng, session=session,
                                            udp_port=udp_port, packet_messages=packet_messages,
                                            packet_bytes=packet_bytes, heartbeat_every=heartbeat_every, say=say)
    else:
        written, injected = write_binaryfile_feed(out_path, framed, fault_rates, fault_rng,
                                                  gzip=format == "itch.gz", say=say)
    summary.update(written)
    sidecar.update(injected)
    if fault_rates:
        summary.update(faults=len(sidecar["faults"]), sidecar=write_sidecar(out_path, sidecar))
    return summary
