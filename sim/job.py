"""What the product hands a testbench it starts: one typed job, as JSON in one plusarg.

`tickaccel.batch.sim` and `tickaccel.fpga.sim_board` start the RTL under cocotb with a job
(`ReplayJob`, `BoardJob`) in ``runner.run(..., plusargs=job.plusargs())``; the testbench
reads it back with ``Job.from_plusargs(cocotb.plusargs)``. So the settings are checked
types on both sides, not environment variables the simulator process happens to inherit.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from tickaccel.hw.params import BookParams

PLUSARG = "tickaccel_job"


class Job:
    """A dataclass that travels as ``+tickaccel_job=<JSON of its fields>``."""

    def plusargs(self) -> list[str]:
        return [f"+{PLUSARG}={json.dumps(asdict(self), separators=(',', ':'))}"]

    @classmethod
    def from_plusargs(cls, plusargs: Mapping[str, object]):
        """The job in a testbench's `cocotb.plusargs`."""
        return cls.from_fields(json.loads(str(plusargs[PLUSARG])))

    @classmethod
    def from_fields(cls, fields: dict[str, Any]):
        return cls(**fields)


@dataclass(frozen=True)
class ReplayJob(Job):
    """tb_feed_to_book's test_replay: a feed's frames through feed_to_book, records and counters out.

    `frames` is a pcap whose frames are sent as they are; the BBO update records go to
    `output` (`bbo_records.to_bytes`), the counters by block to `counters` (JSON) and
    "frames sent, total" to `progress` as the replay goes.
    """

    frames: str
    output: str
    counters: str
    progress: str
    dest_ip: str
    dest_port: int
    params: BookParams

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> ReplayJob:
        return cls(**{**fields, "params": BookParams(**fields["params"])})


@dataclass(frozen=True)
class BoardJob(Job):
    """tb_sim_board: serve the host driver on `socket`; `backpressure` is the share of cycles S2MM stalls."""

    socket: str
    backpressure: float = 0.0
    seed: int = 1
