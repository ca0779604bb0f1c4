"""The live path: a MoldUDP64 receiver that keeps the book and publishes BBO records, the feed
player with its re-request server, and the pipeline's metrics."""
from tickaccel.lazy import exports

__all__ = ["LiveReceiver", "BookSink", "TableSink", "run_live", "Publisher", "LiveMetrics"]
__getattr__, __dir__ = exports(__name__, {
    "LiveReceiver": "tickaccel.live.receiver",
    "BookSink": "tickaccel.live.receiver",
    "TableSink": "tickaccel.live.receiver",
    "run_live": "tickaccel.live.receiver",
    "Publisher": "tickaccel.live.player",
    "LiveMetrics": "tickaccel.live.metrics",
})
del exports
