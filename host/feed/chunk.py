"""The unit every feed reader yields and every book consumes: whole length-prefixed messages."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FeedChunk:
    """Whole messages, each as a 2-byte big-endian length then the message bytes.

    ``seqs`` holds the feed sequence number of each message (MoldUDP64
    sequence for packet captures); it is None for BinaryFILE input, where the
    n-th record of the chunk is message ``first_seq + n``. ``base_offset`` is
    the file offset of ``data[0]`` for BinaryFILE input and -1 otherwise.
    """

    data: np.ndarray
    first_seq: int
    seqs: np.ndarray | None
    base_offset: int
