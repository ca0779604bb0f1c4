"""The signal spec: which signal columns to compute and with what parameters.

A spec is data (TOML, read with `tomllib`): a list of ``[[signal]]`` tables,
each with a `kind` from `KINDS`, an optional column `name` and the kind's
parameters. Several signals may share a kind (e.g. EMAs of two half-lives).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from tickaccel.errors import TickaccelError

# kind -> (parameter it needs, input table it needs beyond BBO)
KINDS: dict[str, tuple[str | None, str | None]] = {
    "mid": (None, None),
    "spread": (None, None),
    "spread_bps": (None, None),
    "microprice": (None, None),
    "imbalance": (None, None),
    "depth_imbalance": ("weights", "depth"),
    "ofi": (None, None),
    "ofi_sum": ("window_ns", None),
    "ema_mid": ("half_life_ns", None),
    "realized_variance": ("window_ns", None),
    "trade_vwap": ("window_ns", "trades"),
    "trade_imbalance": ("window_ns", "trades"),
}
QUOTE_KINDS = ("mid", "spread", "spread_bps", "microprice", "imbalance")

DEFAULT_SPEC_PATH = Path(__file__).with_name("default_spec.toml")


@dataclass(frozen=True)
class Signal:
    """One output column: its name, kind and the kind's parameter."""

    name: str
    kind: str
    window_ns: int = 0
    half_life_ns: int = 0
    weights: tuple[float, ...] = ()

    @property
    def needs(self) -> str | None:
        """The extra input table this signal needs ("depth", "trades") or None."""
        return KINDS[self.kind][1]


@dataclass(frozen=True)
class SignalSpec:
    """An ordered list of signals; column order in the output follows it."""

    signals: tuple[Signal, ...]

    def of_kind(self, *kinds: str) -> list[Signal]:
        return [s for s in self.signals if s.kind in kinds]

    def max_window_ns(self, *kinds: str) -> int:
        return max((s.window_ns for s in self.of_kind(*kinds)), default=0)

    def without(self, missing_tables: set[str]) -> "SignalSpec":
        """The spec less the signals whose extra input table is missing."""
        return SignalSpec(tuple(s for s in self.signals if s.needs not in missing_tables))


def parse_spec(data: dict) -> SignalSpec:
    """Build a spec from parsed TOML; unknown kinds or bad parameters are a TickaccelError."""
    signals = []
    for entry in data.get("signal", []):
        kind = entry.get("kind")
        if kind not in KINDS:
            raise TickaccelError(f"signal spec: unknown kind {kind!r} (known: {', '.join(KINDS)})")
        param = KINDS[kind][0]
        unknown = set(entry) - {"kind", "name", param}
        if unknown:
            raise TickaccelError(f"signal spec: {kind} does not take {', '.join(sorted(unknown))}")
        values: dict = {}
        if param == "weights":
            weights = tuple(float(w) for w in entry.get("weights", [1.0]))
            if not weights or any(w < 0 for w in weights):
                raise TickaccelError("signal spec: depth_imbalance weights must be non-negative")
            values["weights"] = weights
        elif param is not None:
            value = entry.get(param)
            if not isinstance(value, int) or value <= 0:
                raise TickaccelError(f"signal spec: {kind} needs a positive integer {param}")
            values[param] = value
        signals.append(Signal(name=str(entry.get("name", kind)), kind=kind, **values))
    names = [s.name for s in signals]
    if len(set(names)) != len(names):
        raise TickaccelError("signal spec: column names must be unique")
    if not signals:
        raise TickaccelError("signal spec: no [[signal]] entries")
    return SignalSpec(tuple(signals))


def load_spec(path: str | Path) -> SignalSpec:
    """Read a spec from a TOML file."""
    path = Path(path)
    if not path.is_file():
        raise TickaccelError(f"signal spec not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise TickaccelError(f"signal spec {path}: {exc}") from None
    return parse_spec(data)


def default_spec() -> SignalSpec:
    """The spec shipped with the package (default_spec.toml)."""
    return load_spec(DEFAULT_SPEC_PATH)
