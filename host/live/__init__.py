"""The live path: a MoldUDP64 receiver that keeps the book and publishes BBO records, the feed
player with its re-request server, and the pipeline's metrics.

Modules, imports going one way (receiver -> rx_loop, sinks, zmq_bus, segments, sockets ->
shm_ring, wire; player -> sockets):
`receiver` (supervision: sequencing, reorder, re-request, staleness; the portable loop),
`rx_loop` (the compiled receive loop and datagram validation), `sinks` (book stages),
`shm_ring` (the BBO ring, shared memory for local readers), `zmq_bus` (ZeroMQ publisher,
its ring-fed thread, and subscriber), `segments` (Parquet segment writer),
`sockets` (UDP sockets, kernel timestamps, sender filters), `wire` (the published record and frame),
`player` (the feed publisher and its rate-limited re-request server), `metrics` (latency histograms, Prometheus, JSON logs).
"""
from tickaccel.lazy import exports

__all__ = [
    "LiveReceiver", "LiveStats", "run_live", "format_latency",
    "BookSink", "TableSink",
    "BboPublisher", "BboSubscriber", "RingPublisher", "BboRing", "BboRingReader",
    "SegmentWriter", "read_segments",
    "BBO_RECORD", "FRAME_HEADER", "MAGIC", "VERSION", "KIND_BBO", "KIND_END", "FLAG_STALE",
    "decode_frame", "wire_records", "records_table",
    "Publisher", "FaultSpec", "RequestLimiter",
    "AddressFilter", "local_networks",
    "LiveMetrics",
]
__getattr__, __dir__ = exports(__name__, {
    "LiveReceiver": "tickaccel.live.receiver",
    "LiveStats": "tickaccel.live.receiver",
    "run_live": "tickaccel.live.receiver",
    "format_latency": "tickaccel.live.receiver",
    "BookSink": "tickaccel.live.sinks",
    "TableSink": "tickaccel.live.sinks",
    "BboPublisher": "tickaccel.live.zmq_bus",
    "BboSubscriber": "tickaccel.live.zmq_bus",
    "RingPublisher": "tickaccel.live.zmq_bus",
    "BboRing": "tickaccel.live.shm_ring",
    "BboRingReader": "tickaccel.live.shm_ring",
    "SegmentWriter": "tickaccel.live.segments",
    "read_segments": "tickaccel.live.segments",
    "BBO_RECORD": "tickaccel.live.wire",
    "FRAME_HEADER": "tickaccel.live.wire",
    "MAGIC": "tickaccel.live.wire",
    "VERSION": "tickaccel.live.wire",
    "KIND_BBO": "tickaccel.live.wire",
    "KIND_END": "tickaccel.live.wire",
    "FLAG_STALE": "tickaccel.live.wire",
    "decode_frame": "tickaccel.live.wire",
    "wire_records": "tickaccel.live.wire",
    "records_table": "tickaccel.live.wire",
    "Publisher": "tickaccel.live.player",
    "FaultSpec": "tickaccel.live.player",
    "RequestLimiter": "tickaccel.live.player",
    "AddressFilter": "tickaccel.live.sockets",
    "local_networks": "tickaccel.live.sockets",
    "LiveMetrics": "tickaccel.live.metrics",
})
del exports
