"""Live-pipeline observability: HDR latency histograms, Prometheus metrics and JSON logs.

Latencies are recorded per datagram with a message count (one call per
datagram, not per message), so the hot path pays a few Python calls per
packet. Prometheus sees the HDR histograms through a collector that builds
the exposition at scrape time, so nothing is observed twice.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

from hdrh.histogram import HdrHistogram
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

# Latency stages, each measured from the receive of a message's datagram.
STAGES = ("book", "publish")
PERCENTILES = (50.0, 99.0, 99.9)
# Prometheus bucket bounds (seconds) derived from the HDR histograms at scrape time.
BUCKETS_S = (1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 5e-3, 1e-2, 0.1, 1.0)
_HIGHEST_NS = 60 * 1_000_000_000


class LatencyRecorder:
    """Receive-to-book and receive-to-publish latencies in nanoseconds, one HDR histogram each."""

    def __init__(self) -> None:
        self.histograms = {stage: HdrHistogram(1, _HIGHEST_NS, 3) for stage in STAGES}
        self._lock = threading.Lock()

    def record(self, stage: str, latency_ns: int, count: int = 1) -> None:
        """Record `count` messages that all saw `latency_ns` (clamped into the histogram's range)."""
        value = min(max(int(latency_ns), 1), _HIGHEST_NS)
        with self._lock:
            self.histograms[stage].record_value(value, count)

    def summary(self) -> dict[str, dict[str, float]]:
        """Per stage: count and p50/p99/p99.9/max in microseconds."""
        out = {}
        with self._lock:
            for stage, h in self.histograms.items():
                row = {"count": int(h.get_total_count())}
                for p in PERCENTILES:
                    row[f"p{p:g}_us"] = h.get_value_at_percentile(p) / 1000.0
                row["max_us"] = h.get_max_value() / 1000.0 if row["count"] else 0.0
                out[stage] = row
        return out

    def bucket_counts(self, stage: str) -> tuple[list[tuple[str, float]], float, int]:
        """Cumulative Prometheus buckets, sum in seconds and count of one stage's histogram."""
        with self._lock:
            h = self.histograms[stage]
            total = int(h.get_total_count())
            buckets, running, sum_ns = [], 0, 0
            bounds_ns = [int(b * 1e9) for b in BUCKETS_S]
            counts = [0] * (len(bounds_ns) + 1)
            for item in h.get_recorded_iterator():
                value = item.value_iterated_to
                sum_ns += value * item.count_added_in_this_iter_step
                index = next((i for i, b in enumerate(bounds_ns) if value <= b), len(bounds_ns))
                counts[index] += item.count_added_in_this_iter_step
        for bound, n in zip(BUCKETS_S, counts):
            running += n
            buckets.append((repr(bound), float(running)))
        buckets.append(("+Inf", float(total)))
        return buckets, sum_ns / 1e9, total


class _LatencyCollector(Collector):
    """Exposes a `LatencyRecorder` as Prometheus histograms and percentile gauges."""

    def __init__(self, recorder: LatencyRecorder) -> None:
        self.recorder = recorder

    def collect(self) -> Iterator:
        hist = HistogramMetricFamily(
            "tickaccel_latency_seconds",
            "Latency from datagram receive to the stage, per message", labels=["stage"])
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

    The hot path only updates plain Python counters and the HDR histograms;
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
