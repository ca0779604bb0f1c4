"""Batch replay: a feed file into Parquet tables and a JSON summary, on any backend.

`replay(feed, out, backend=...)` is the one entry point: ``cpu`` (the fast or oracle book),
``sim`` (the feed_to_book RTL under cocotb), ``fpga`` (feed_to_book on a PYNQ board) and
``cluster`` (Ray, sharded by file and symbol) all write the same tables and one summary.
`replay_tables` hands the cpu backend's tables back in memory instead; `export_lobster` and
`export_hftbacktest` write one symbol's book events for LOBSTER and hftbacktest users.
"""
from tickaccel.lazy import exports

__all__ = ["replay", "replay_tables", "BACKENDS", "ENGINES", "feed_outdirs", "make_book",
           "export_lobster", "export_hftbacktest", "symbol_events"]
__getattr__, __dir__ = exports(__name__, {
    "replay": "tickaccel.batch.backends",
    "BACKENDS": "tickaccel.batch.backends",
    "ENGINES": "tickaccel.batch.backends",
    "feed_outdirs": "tickaccel.batch.backends",
    "make_book": "tickaccel.batch.cpu",
    "replay_tables": "tickaccel.batch.cpu",
    "export_lobster": "tickaccel.batch.export",
    "export_hftbacktest": "tickaccel.batch.export",
    "symbol_events": "tickaccel.batch.export",
})
del exports
