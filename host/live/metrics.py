"""Live-pipeline observability: HDR latency histograms, Prometheus metrics and JSON logs.

Latencies are recorded without a Python call per datagram or message: the
compiled receive loop adds each datagram's messages to the histograms itself
(`record_latency`), and the portable loop hands one array of datagram
timestamps and one of message counts per batch to one Numba call. The histograms have HdrHistogram's layout (3 significant
digits, 1 ns - 60 s) and answer percentiles as it does; a test holds them to
`hdrh`. Prometheus reads them through a collector that builds the exposition
at scrape time, so nothing is observed twice.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
from numba import njit
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

# Latency stages, each measured from the kernel's receive timestamp of a message's datagram:
# read = taken off the socket, book = book applied and records built, publish = records in
# the BBO ring (visible to ring readers, handed to the ZeroMQ publisher thread).
STAGES = ("read", "book", "publish")
PERCENTILES = (50.0, 99.0, 99.9)
# Prometheus bucket bounds (seconds) derived from the HDR histograms at scrape time.
BUCKETS_S = (1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 5e-3, 1e-2, 0.1, 1.0)
_HIGHEST_NS = 60 * 1_000_000_000
# HdrHistogram layout for 3 significant digits: 2048 sub-buckets, the upper half of each
# further bucket doubling the width; index = bucket * 1024 + sub-bucket.
_SUB_BUCKETS = 2048
_HALF_MAGNITUDE = 10
_N_COUNTS = (_HIGHEST_NS.bit_length() - _HALF_MAGNITUDE) * (_SUB_BUCKETS // 2) + _SUB_BUCKETS // 2


@njit(cache=True, inline="always")
def _bucket(value):
    """Bucket number of `value`: how far it must shift right to fit the sub-bucket range."""
    b = 0
    while (value >> b) >= _SUB_BUCKETS:
        b += 1
    return b


@njit(cache=True, inline="always")
def record_latency(counts, extremes, stage, latency_ns, weight):
    """Add `weight` messages at `latency_ns` to stage `stage`'s histogram (the compiled
    receive loop calls this per datagram; `LatencyRecorder` holds the arrays)."""
    value = min(max(latency_ns, 1), _HIGHEST_NS)
    b = _bucket(value)
    counts[stage, (b << _HALF_MAGNITUDE) + (value >> b)] += weight
    extremes[stage, 0] += weight
    extremes[stage, 1] = max(extremes[stage, 1], value)


@njit(cache=True)
def _record_batch(counts, extremes, stage_ends, starts, weights, n):
    """Add datagram i's `weights[i]` messages at latency ``stage_ends[s, i] - starts[i]``, every stage."""
    for s in range(counts.shape[0]):
        for i in range(n):
            record_latency(counts, extremes, s, stage_ends[s, i] - starts[i], weights[i])


def _highest_equivalent(index: np.ndarray) -> np.ndarray:
    """Largest value counted at each histogram index (what HdrHistogram reports)."""
    index = np.asarray(index, np.int64)
    b = np.maximum((index >> _HALF_MAGNITUDE) - 1, 0)
    sub = index - (b << _HALF_MAGNITUDE)
    return ((sub + 1) << b) - 1


class LatencyRecorder:
    """Per-message latencies in nanoseconds, one HDR-layout histogram per stage in `STAGES`.

    The compiled receive loop adds to `counts` and `extremes` itself, without the lock (a
    scrape may then see one datagram half recorded: a count off by its messages).
    """

    def __init__(self) -> None:
        self.counts = np.zeros((len(STAGES), _N_COUNTS), np.int64)
        self.extremes = np.zeros((len(STAGES), 2), np.int64)  # total count, max value
        self._lock = threading.Lock()  # scrapes read from another thread

    def record_batch(self, stage_ends: np.ndarray, starts: np.ndarray, weights: np.ndarray,
                     n: int) -> None:
        """Record the first `n` datagrams: `weights[i]` messages received at `starts[i]` that
        reached stage s at `stage_ends[s, i]` (all nanoseconds on one clock)."""
        with self._lock:
            _record_batch(self.counts, self.extremes, stage_ends, starts, weights, n)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per stage: count and p50/p99/p99.9/max in microseconds."""
        out = {}
        with self._lock:
            for s, stage in enumerate(STAGES):
                total, highest = (int(v) for v in self.extremes[s])
                row = {"count": total}
                cumulative = np.cumsum(self.counts[s])
                for p in PERCENTILES:
                    target = max(int(p / 100 * total + 0.5), 1)
                    index = int(np.searchsorted(cumulative, target)) if total else 0
                    row[f"p{p:g}_us"] = int(_highest_equivalent(index)) / 1000.0 if total else 0.0
                row["max_us"] = highest / 1000.0
                out[stage] = row
        return out

    def bucket_counts(self, stage: str) -> tuple[list[tuple[str, float]], float, int]:
        """Cumulative Prometheus buckets, sum in seconds and count of one stage's histogram."""
        with self._lock:
            counts = self.counts[STAGES.index(stage)].copy()
        values = _highest_equivalent(np.arange(len(counts)))
        total = int(counts.sum())
        running = np.cumsum(counts)[np.searchsorted(values, [int(b * 1e9) for b in BUCKETS_S],
                                                    side="right") - 1]
        buckets = [(repr(bound), float(n)) for bound, n in zip(BUCKETS_S, running)]
        buckets.append(("+Inf", float(total)))
        return buckets, float(counts @ values) / 1e9, total


class _LatencyCollector(Collector):
    """Exposes a `LatencyRecorder` as Prometheus histograms and percentile gauges."""

    def __init__(self, recorder: LatencyRecorder) -> None:
        self.recorder = recorder

    def collect(self) -> Iterator:
        hist = HistogramMetricFamily(
            "tickaccel_latency_seconds",
            "Latency from the kernel's datagram receive to the stage, per message",
            labels=["stage"])
        quant = GaugeMetricFamily(
            "tickaccel_latency_percentile_seconds",
            "Latency percentiles from the HDR histogram", labels=["stage", "quantile"])
        summary = self.recorder.summary()
        for stage in STAGES:
            buckets, total_s, _ = self.recorder.bucket_counts(stage)
            hist.add_metric([stage], buckets, total_s)
            for p in PERCENTILES:
                quant.add_metric([stage, f"{p / 100:g}"], summary[stage][f"p{p:g}_us"] / 1e6)
            quant.add_metric([stage, "1"], summary[stage]["max_us"] / 1e6)
        yield hist
        yield quant


class _SnapshotCollector(Collector):
    """Counters and gauges read from the pipeline's own statistics at scrape time."""

    def __init__(self, snapshot: Callable[[], dict]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator:
        snap = self.snapshot()
        for name, (kind, help_text, label, values) in snap.items():
            family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(
                f"tickaccel_{name}", help_text, labels=[label] if label else None)
            if label:
                for key, value in sorted(values.items()):
                    family.add_metric([key], value)
            else:
                family.add_metric([], values)
            yield family


class LiveMetrics:
    """The live pipeline's Prometheus registry: latency histograms plus a statistics snapshot.

    The hot path only updates plain Python counters and the histograms' arrays;
    Prometheus reads both when it scrapes, so a scrape costs the receiver nothing.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = LatencyRecorder()
        self.registry.register(_LatencyCollector(self.latency))
        self._server = None

    def attach(self, snapshot: Callable[[], dict]) -> None:
        """Expose `snapshot()` at each scrape.

        It returns {name: (kind, help, label, value)}: kind "counter" or
        "gauge"; with a label name, value is a {label value: number} dict.
        """
        self.registry.register(_SnapshotCollector(snapshot))

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve /metrics over HTTP on `port` (0 picks a free one); returns the bound port."""
        server, _thread = start_http_server(port, addr=addr, registry=self.registry)
        self._server = server
        return server.server_address[1]

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def json_logging(level: int = logging.INFO, stream=None) -> logging.Handler:
    """Send the `tickaccel` loggers' records to `stream` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tickaccel")
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler
