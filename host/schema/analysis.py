"""Analysis-ready forms of the book tables, chosen per replay; the default is the tables as the books build them.

- ``prices="float"``: every price column in dollars (float64), null where the book has
  no price (an empty side, a level beyond the book's depth, a broken-trade row), so
  ``ask_price - bid_price`` never wraps around in pandas or polars;
- ``date``: a ``time`` column after ``timestamp``, the trading date's wall-clock time
  in America/New_York (timezone-aware, ns), the clock ITCH timestamps count from;
- ``dictionary=True``: the ``symbol`` column dictionary-encoded (pandas reads a
  categorical);
- metadata on every table, whatever the form (`table_metadata`): the units of each
  column, the trading date, the source file and its SHA-256, tickaccel's version and
  the backend.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from tickaccel.errors import TickaccelError
from tickaccel.schema.units import NS_PER_SECOND, PRICE_SCALE

PRICE_FORMS = ("int", "float")
EXCHANGE_TIMEZONE = "America/New_York"


def midnight_epoch_ns(date: dt.date) -> int:
    """Nanoseconds since the epoch of midnight starting `date` in America/New_York, the instant
    ITCH timestamps (ns after midnight) count from."""
    return int(dt.datetime.combine(date, dt.time(), ZoneInfo(EXCHANGE_TIMEZONE)).timestamp()) * NS_PER_SECOND


def _is_price(name: str) -> bool:
    """price, bid_price, ask_price, and the depth table's bid_price_1, ask_price_3, ..."""
    return name == "price" or name.endswith("_price") or "_price_" in name


@dataclass(frozen=True)
class TableForm:
    """How a replay's tables are laid out for analysis (see the module doc)."""

    prices: str = "int"
    date: dt.date | None = None
    dictionary: bool = False

    @classmethod
    def make(cls, prices: str = "int", date: str | dt.date | None = None,
             dictionary: bool = False) -> TableForm:
        """A checked form; raises `TickaccelError` for an unknown price form or a date not YYYY-MM-DD."""
        if prices not in PRICE_FORMS:
            raise TickaccelError(f"unknown price form {prices!r}; use one of {', '.join(PRICE_FORMS)}")
        if isinstance(date, str):
            try:
                date = dt.date.fromisoformat(date)
            except ValueError:
                raise TickaccelError(f"a trading date is YYYY-MM-DD, e.g. 2026-12-03; not {date!r}") from None
        return cls(prices, date, dictionary)

    @property
    def is_default(self) -> bool:
        return self == TableForm()

    def schema(self, schema: pa.Schema) -> pa.Schema:
        """The schema of a table of `schema` in this form."""
        fields = []
        for field in schema:
            if self.prices == "float" and _is_price(field.name):
                field = pa.field(field.name, pa.float64())
            elif self.dictionary and field.name == "symbol":
                field = pa.field("symbol", pa.dictionary(pa.int32(), pa.string()))
            fields.append(field)
            if self.date is not None and field.name == "timestamp":
                fields.append(pa.field("time", pa.timestamp("ns", tz=EXCHANGE_TIMEZONE)))
        return pa.schema(fields, metadata=schema.metadata)

    def apply(self, table: pa.Table) -> pa.Table:
        """`table` (as a book builds it) in this form."""
        if self.is_default:
            return table
        columns, names = [], []
        for name, column in zip(table.column_names, table.columns):
            if self.prices == "float" and _is_price(name):
                ticks = column.to_numpy()
                column = pa.array(ticks / PRICE_SCALE, pa.float64(), mask=ticks == 0)
            elif self.dictionary and name == "symbol":
                import pyarrow.compute as pc  # 40 ms to import: only for this form

                column = pc.dictionary_encode(column).cast(pa.dictionary(pa.int32(), pa.string()))
            columns.append(column)
            names.append(name)
            if self.date is not None and name == "timestamp":
                since_epoch = column.to_numpy().astype(np.int64) + midnight_epoch_ns(self.date)
                columns.append(pa.array(since_epoch, pa.timestamp("ns", tz=EXCHANGE_TIMEZONE)))
                names.append("time")
        return pa.Table.from_arrays(columns, schema=self.schema(table.schema))

    def units(self) -> dict[str, str]:
        """What the columns of a table in this form count, for its metadata."""
        price = ("US dollars (float64); null where there is no price (an empty side, a level "
                 "past the book's depth, a broken trade)" if self.prices == "float" else
                 f"1/{PRICE_SCALE:,} US dollar (ITCH Price(4)); 0 where there is no price")
        units = {"price": price, "timestamp": "ns after midnight, exchange time (America/New_York)",
                 "size": "shares", "shares": "shares", "orders": "orders resting at the level"}
        if self.date is not None:
            units["time"] = f"wall-clock time on {self.date.isoformat()}, {EXCHANGE_TIMEZONE}"
        return units


def as_built(table: pa.Table) -> pa.Table:
    """A table in any form back as the books build it: Price(4) integers with 0 for no price,
    plain string symbols, no ``time`` column; what the signal kernels read."""
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns):
        if field.name == "time" and pa.types.is_timestamp(field.type):
            continue
        if _is_price(field.name) and pa.types.is_floating(field.type):
            dollars = column.to_numpy(zero_copy_only=False)
            column = pa.array(np.nan_to_num(np.round(dollars * PRICE_SCALE)).astype(np.uint32), pa.uint32())
            field = pa.field(field.name, pa.uint32())
        elif pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)
            field = pa.field(field.name, field.type.value_type)
        columns.append(column)
        fields.append(field)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def file_sha256(path: str | os.PathLike, block: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in blocks (hashlib lets other threads run meanwhile)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while piece := stream.read(block):
            digest.update(piece)
    return digest.hexdigest()


def file_sha256_started(path: str | os.PathLike) -> Callable[[], str]:
    """Start hashing `path` on a daemon thread (an interrupted replay need not wait for it);
    returns the function that waits for the hex digest."""
    digest: list[str] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            digest.append(file_sha256(path))
        except OSError as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="tickaccel-sha256", daemon=True)
    thread.start()

    def result() -> str:
        thread.join()
        if failure:
            raise failure[0]
        return digest[0]

    return result


def table_metadata(form: TableForm, *, source: str | os.PathLike, source_sha256: str, backend: str,
                   version: str) -> dict[str, str]:
    """Parquet key-value metadata of a replay's tables: units, date, source, version, backend."""
    return {
        "tickaccel.version": version,
        "tickaccel.backend": backend,
        "tickaccel.source": os.fspath(source),
        "tickaccel.source_sha256": source_sha256,
        "tickaccel.trading_date": form.date.isoformat() if form.date else "",
        "tickaccel.prices": form.prices,
        "tickaccel.units": json.dumps(form.units()),
    }
