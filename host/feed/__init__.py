"""Feed input and output: BinaryFILE (plain or gzip), pcap/pcapng, MoldUDP64, and the generator.

`open_feed` reads any supported file as `FeedChunk`s of whole length-prefixed messages, so
every consumer frames, sequences and counts errors the same way; `framing` turns a feed back
into the UDP frames a wire carries; `generator` writes synthetic feeds with injected faults.
"""
from tickaccel.lazy import exports

__all__ = ["FeedChunk", "feed_format", "open_feed", "generate", "write_feed", "GeneratorConfig"]
__getattr__, __dir__ = exports(__name__, {
    "FeedChunk": "tickaccel.feed.chunk",
    "feed_format": "tickaccel.feed.source",
    "open_feed": "tickaccel.feed.source",
    "generate": "tickaccel.feed.generator",
    "write_feed": "tickaccel.feed.generator",
    "GeneratorConfig": "tickaccel.feed.market",
})
del exports
