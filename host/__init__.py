"""tickaccel: ITCH 5.0 feeds to order books and trading signals on CPU, GPU and FPGA.

The names a notebook needs are here, each imported on first use (`tickaccel.lazy`), so
``import tickaccel`` stays cheap; docs/architecture.md maps the subpackages they come from.
"""
from tickaccel.lazy import exports

__all__ = [
    "__version__", "TickaccelError", "BackendUnavailable", "ErrorLog", "discover",
    "FeedChunk", "open_feed", "feed_format", "generate", "write_feed", "GeneratorConfig",
    "Book", "book_at", "FastBook", "OracleBook", "replay", "replay_tables", "replay_cluster", "LiveReceiver", "Publisher",
    "compute_signals", "SignalSpec", "export_lobster", "export_hftbacktest",
]
__getattr__, __dir__ = exports(__name__, {
    "__version__": "tickaccel.version",
    "TickaccelError": "tickaccel.errors",
    "BackendUnavailable": "tickaccel.errors",
    "ErrorLog": "tickaccel.errors",
    "discover": "tickaccel.backends",
    "FeedChunk": "tickaccel.feed.chunk",
    "open_feed": "tickaccel.feed.source",
    "feed_format": "tickaccel.feed.source",
    "generate": "tickaccel.feed.generator",
    "write_feed": "tickaccel.feed.generator",
    "GeneratorConfig": "tickaccel.feed.market",
    "Book": "tickaccel.book.book",
    "book_at": "tickaccel.book.book",
    "FastBook": "tickaccel.book.fast",
    "OracleBook": "tickaccel.book.oracle",
    "replay": "tickaccel.batch.backends",
    "replay_tables": "tickaccel.batch.cpu",
    "replay_cluster": "tickaccel.batch.cluster",
    "export_lobster": "tickaccel.batch.export",
    "export_hftbacktest": "tickaccel.batch.export",
    "LiveReceiver": "tickaccel.live.receiver",
    "Publisher": "tickaccel.live.player",
    "compute_signals": "tickaccel.kernels:compute",
    "SignalSpec": "tickaccel.kernels.spec",
})
del exports
