"""Feed input: any supported capture as a stream of length-prefixed ITCH messages.

Every consumer (oracle book, fast book, decoder, RTL testbench) reads feeds
through `open_feed`, so framing, gap handling and error counting are done once.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator

from tickaccel.errors import ErrorLog, TickaccelError
from tickaccel.feed.binaryfile import GZIP_MAGIC, count_good_records, open_stream, read_chunks
from tickaccel.feed.capture import capture_format, open_reader, read_capture
from tickaccel.feed.chunk import FeedChunk

_SNIFF_BYTES = 1 << 16
_SNIFF_RECORDS = 16


def _looks_like_binaryfile(head: bytes) -> bool:
    """Whether the first records are ITCH messages: known types with their exact lengths.

    At least three in four of the first records, framed as the reader frames
    them (a damaged record or a skipped stretch counting as one bad record),
    must be, so a text or random file is not read as a feed while one bad
    record at the start does not reject a good one.
    """
    good, seen = count_good_records(head, _SNIFF_RECORDS)
    return seen > 0 and 4 * good >= 3 * seen


def check_input_file(path: str | os.PathLike) -> str:
    """The path of a regular file this process can read, as a string.

    Raises `TickaccelError` naming the real reason otherwise: no such file, a
    directory, not a regular file (a FIFO, a device such as /dev/null, a socket),
    permission denied.
    """
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise TickaccelError(f"no such file: {name}") from None
    except OSError as exc:
        raise TickaccelError(f"cannot read {name}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise TickaccelError(f"is a directory, not a feed file: {name}")
    if not stat.S_ISREG(mode):
        raise TickaccelError(f"not a regular file ({_file_kind(mode)}): {name}")
    if not os.access(name, os.R_OK):
        raise TickaccelError(f"permission denied: {name}")
    return name


def _file_kind(mode: int) -> str:
    """What a non-regular, non-directory file is, in words."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def feed_format(path: str | os.PathLike) -> str:
    """'pcap', 'pcapng', 'binaryfile' or 'binaryfile.gz', judged by content.

    Raises `TickaccelError` for an input that is not a readable regular file
    (`check_input_file`), an empty file or one in no supported format.
    """
    name = check_input_file(path)
    try:
        with open(name, "rb") as raw:
            head = raw.read(4)
    except OSError as exc:
        raise TickaccelError(f"unreadable file: {name} ({exc.strerror})") from None
    if not head:
        raise TickaccelError(f"empty file: {name}")
    kind = capture_format(head)
    if kind is not None:
        with open(name, "rb") as raw:  # a cut file header or a link type not Ethernet: unusable
            open_reader(raw, name).close()
        return kind
    gzipped = head[:2] == GZIP_MAGIC
    sniff_errors = ErrorLog()  # the reader counts them again when it reads the feed
    try:
        with open_stream(name, errors=sniff_errors) as stream:
            sniff = stream.read(_SNIFF_BYTES)
    except OSError as exc:
        raise TickaccelError(f"unreadable file: {name} ({exc})") from None
    if not sniff and sniff_errors.counts:
        raise TickaccelError(f"unreadable gzip file: {name} (nothing decompresses)")
    if not sniff:
        raise TickaccelError(f"empty file: {name}")
    if not _looks_like_binaryfile(sniff):
        raise TickaccelError(
            f"not an ITCH feed (BinaryFILE, gzip BinaryFILE, pcap or pcapng): {name}")
    return "binaryfile.gz" if gzipped else "binaryfile"


def open_feed(
    path: str | os.PathLike,
    *,
    errors: ErrorLog,
    chunk_bytes: int = 32 << 20,
    udp_port: int | None = None,
    file_read: Callable[[int], None] | None = None,
) -> Iterator[FeedChunk]:
    """Stream any supported feed file as `FeedChunk`s of about ``chunk_bytes``.

    BinaryFILE (plain or gzip), pcap and pcapng are told apart by content;
    ``udp_port`` filters captures by UDP destination port. Input problems are
    counted in ``errors``; an unusable file raises `TickaccelError` before
    anything is yielded. ``file_read`` is told the bytes of the file read so far
    (compressed bytes for gzip) before each chunk and at the end: progress
    against the file's size.
    """
    kind = feed_format(path)
    if kind.startswith("binaryfile"):
        return read_chunks(path, chunk_bytes, errors=errors, file_read=file_read)
    return read_capture(path, errors=errors, chunk_bytes=chunk_bytes, udp_port=udp_port,
                        file_read=file_read)
