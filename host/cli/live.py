"""`tickaccel publish` and `tickaccel live`: a feed over MoldUDP64/UDP, and the live book on it."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from tickaccel.cli.console import console
from tickaccel.errors import TickaccelError
from tickaccel.feed.endpoints import SESSION

log = logging.getLogger("tickaccel.cli")


def publish_command(
    feed: Path = typer.Argument(..., help="BinaryFILE (plain or gzip), pcap or pcapng feed."),
    to: str = typer.Option(..., "--to", help="Destination HOST:PORT (unicast or multicast)."),
    rate: float = typer.Option(None, "--rate", help="Messages per second (default: as fast as possible)."),
    realtime: bool = typer.Option(False, "--realtime", help="Keep the feed's own timing."),
    speed: float = typer.Option(1.0, "--speed", help="With --realtime: play this many times faster."),
    faults: str = typer.Option("", "--faults", help="Inject faults, e.g. drop=0.01,duplicate=0.01,reorder=0.01,seed=1 (the names generate --faults uses)."),
    rerequest_port: int = typer.Option(None, "--rerequest-port", help="Serve MoldUDP64 re-requests on this UDP port."),
    rerequest_host: str = typer.Option("127.0.0.1", "--rerequest-host", help="Address the re-request server binds."),
    session: str = typer.Option(SESSION, "--session", help="MoldUDP64 session name (10 chars max)."),
    buffer: int = typer.Option(1_000_000, "--retransmit-buffer", help="Messages kept for re-requests."),
    linger: float = typer.Option(5.0, "--linger", help="Seconds to keep answering re-requests after the end."),
    burst_ms: float = typer.Option(1.0, "--burst-ms", help="With --rate/--realtime: send what is due within this many ms at once, then sleep."),
    allow: str = typer.Option(None, "--allow", help="Answer re-requests only from these comma-separated ADDR or ADDR/PREFIX (default: loopback and the IPv4 subnets of this host's interfaces)."),
    max_request: int = typer.Option(None, "--max-rerequest", help="Messages one re-request may get at most (default 8192)."),
    rerequest_rate: float = typer.Option(None, "--rerequest-rate", help="Messages per second each requester may get (default 1 000 000)."),
    rerequest_burst: int = typer.Option(None, "--rerequest-burst", help="Messages a requester may get at once above its rate (default 250 000)."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics as JSON."),
) -> None:
    """Play FEED as a MoldUDP64 stream over UDP, with fault injection and a re-request server."""
    from tickaccel.live.player import FaultSpec, Publisher, parse_address

    publisher = Publisher.from_file(
        feed, parse_address(to), rate=rate, realtime=realtime, speed=speed,
        faults=FaultSpec.parse(faults), rerequest_port=rerequest_port,
        rerequest_host=rerequest_host, session=session, retransmit_capacity=buffer,
        linger=linger, burst_seconds=burst_ms / 1000, allow=allow,
        **{name: value for name, value in (("max_request", max_request),
                                           ("rerequest_rate", rerequest_rate),
                                           ("rerequest_burst", rerequest_burst))
           if value is not None})
    try:
        stats = publisher.run()
    except KeyboardInterrupt:
        publisher.stop()
        stats = publisher.stats
    finally:
        publisher.close()
    if as_json:
        print(json.dumps(stats.to_dict(), indent=2))
        return
    console().print(
        f"sent {stats.messages} messages in {stats.packets} packets, {stats.seconds:.2f}s "
        f"({stats.messages / max(stats.seconds, 1e-9):,.0f} msg/s, CPU "
        f"{100 * stats.cpu_seconds / max(stats.seconds, 1e-9):.0f}%); faults: {stats.dropped} "
        f"dropped, {stats.duplicated} duplicated, {stats.reordered} reordered; re-requests: "
        f"{stats.rerequests} ({stats.messages_resent} resent, {stats.messages_unavailable} "
        f"unavailable), {stats.refused_rerequests} refused (source not allowed), "
        f"{stats.rate_limited_rerequests} rate-limited, {stats.capped_rerequests} capped",
        highlight=False)


def live_command(
    listen: str = typer.Option(..., "--listen", help="HOST:PORT to receive MoldUDP64 on (multicast joins the group)."),
    outdir: Path = typer.Option(..., "--output", "-o", help="Folder for Parquet segments and summary.json."),
    rerequest: str = typer.Option(None, "--rerequest", help="Re-request server HOST:PORT."),
    pub: str = typer.Option(None, "--pub", help="ZeroMQ endpoint to publish BBO updates on, e.g. tcp://127.0.0.1:5556."),
    metrics_port: int = typer.Option(None, "--metrics-port", help="Serve Prometheus /metrics on this port."),
    metrics_host: str = typer.Option("127.0.0.1", "--metrics-host", help="Address the metrics server binds."),
    duration: float = typer.Option(None, "--duration", help="Stop after this many seconds (default: at end of session)."),
    recovery_timeout: float = typer.Option(2.0, "--recovery-timeout", help="Seconds to recover a gap before marking the book stale."),
    symbols: str = typer.Option(None, "--symbols", help="Comma-separated symbols to output (default: all)."),
    depth: int = typer.Option(0, "--depth", help="Levels kept per side for the book (BBO output only)."),
    session: str = typer.Option(None, "--session", help="Accept only this MoldUDP64 session (default: the first whole packet's)."),
    source: str = typer.Option(None, "--source", help="Accept feed datagrams only from this sender: ADDR or ADDR/PREFIX."),
    log_json: bool = typer.Option(True, "--log-json/--no-log-json", help="Structured JSON log lines on stderr."),
    spin: bool = typer.Option(False, "--spin", help="Busy-poll the sockets instead of sleeping in poll (takes a whole core)."),
    cpu: int = typer.Option(None, "--cpu", help="Pin the receive loop's thread to this CPU core."),
    rcvbuf: int = typer.Option(64 << 20, "--rcvbuf", help="Socket receive buffer to ask for, in bytes (capped by net.core.rmem_max without CAP_NET_ADMIN)."),
    shm: Path = typer.Option(None, "--shm", help="Also share the BBO records as a ring in this file (e.g. /dev/shm/tickaccel-bbo) for local readers."),
) -> None:
    """Receive MoldUDP64, keep the book in sequence, publish BBO updates and write Parquet segments."""
    from tickaccel.live.metrics import LiveMetrics, json_logging
    from tickaccel.live.player import parse_address
    from tickaccel.live.receiver import LiveReceiver, format_latency, run_live
    from tickaccel.live.sinks import BookSink

    if log_json:
        json_logging()
    metrics = LiveMetrics()
    wanted = [s for s in symbols.split(",") if s] if symbols else None
    receiver = LiveReceiver(
        parse_address(listen), outdir,
        rerequest=parse_address(rerequest) if rerequest else None,
        pub=pub, sink=BookSink(depth=depth, symbols=wanted), metrics=metrics,
        recovery_timeout=recovery_timeout, session=session, source=source, spin=spin, cpu=cpu,
        rcvbuf=rcvbuf, shm=shm)
    if metrics_port is not None:
        try:
            port = metrics.serve(metrics_port, metrics_host)
        except OSError as exc:
            raise TickaccelError(f"cannot serve metrics on port {metrics_port}: {exc}") from None
        log.info("metrics", extra={"port": port})
    try:
        summary = run_live(receiver, duration)
    finally:
        metrics.close()
    console().print(
        f"applied {summary['messages']} messages, {summary['rows']['bbo']} BBO updates; gaps "
        f"{summary['gaps_detected']} detected, {summary['gaps_recovered']} recovered, "
        f"{summary['gaps_unrecovered']} unrecovered; malformed packets "
        f"{summary['malformed_packets']}, foreign {summary['foreign_datagrams']}; receive loop CPU {summary['cpu_seconds']:.2f}s"
        + ("; BOOK STALE" if summary["stale"] else ""),
        highlight=False)
    console().print(format_latency(summary), highlight=False)
