"""feed_to_book on an FPGA board (PYNQ) and on the simulated board, through one driver.

`open_device("fpga", bitstream=...)` opens the overlay on a PYNQ board;
`open_device("sim", board_name=...)` starts the same RTL under cocotb behind a
stand-in for PYNQ. Both give a `FeedToBook` whose transport is `PynqTransport`;
`tickaccel.batch.fpga.replay_fpga` replays a feed file through either.
"""
from __future__ import annotations

import os
from pathlib import Path

from tickaccel.backends import require
from tickaccel.errors import BackendUnavailable, TickaccelError
from tickaccel.fpga.boards import BOARDS, Board, board
from tickaccel.fpga.driver import FeedToBook
from tickaccel.fpga.pynq_transport import SEND_BUFFER_BYTES, PynqTransport

BACKENDS = ("fpga", "sim")

__all__ = ["BACKENDS", "BOARDS", "Board", "FeedToBook", "PynqTransport", "board", "open_device",
           "require_bitstream"]


def require_bitstream(bitstream: str | os.PathLike | None) -> Path:
    """The bitstream path, checked to exist with its .hwh beside it (PYNQ reads both)."""
    if bitstream is None:
        raise BackendUnavailable("backend 'fpga' needs a bitstream: pass --bitstream "
                                 "path/to/feed_to_book.bit (build it with `make bitstream BOARD=...`)")
    path = Path(bitstream)
    if not path.is_file():
        raise BackendUnavailable(f"backend 'fpga': no bitstream at {path}")
    if not path.with_suffix(".hwh").is_file():
        raise BackendUnavailable(f"backend 'fpga': {path.with_suffix('.hwh').name} must sit beside "
                                 f"{path.name} (PYNQ reads the design from it)")
    return path


def open_device(backend: str, *, bitstream: str | os.PathLike | None = None,
                board_name: str = "pynq-z2", sim_board: Board | None = None,
                simulator: str | None = None, backpressure: float = 0.0, seed: int = 1,
                send_buffer_bytes: int = SEND_BUFFER_BYTES, batch_bytes: int | None = None) -> FeedToBook:
    """A `FeedToBook` on the board (`fpga`) or on the simulated `board_name` (`sim`).

    Raises `BackendUnavailable` naming what is missing: pynq, an FPGA device,
    a bitstream, or an HDL simulator.
    """
    if backend == "fpga":
        require("fpga")  # pynq importable and an FPGA manager present
        transport = PynqTransport(require_bitstream(bitstream), send_buffer_bytes=send_buffer_bytes)
    elif backend == "sim":
        from tickaccel.fpga.sim_board import SimTransport

        transport = SimTransport(sim_board or board(board_name), simulator=simulator,
                                 backpressure=backpressure, seed=seed,
                                 send_buffer_bytes=send_buffer_bytes)
    else:
        raise TickaccelError(f"unknown FPGA backend {backend!r}; use one of {', '.join(BACKENDS)}")
    try:
        return FeedToBook(transport, batch_bytes=batch_bytes)
    except BaseException:
        transport.close()
        raise
