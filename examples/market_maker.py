"""A small market-making strategy on the BBO stream: an example of wiring, not a trading claim.

For one symbol it quotes one lot on each side around the microprice,
skewed by the order-book imbalance and by its own inventory, and stops
quoting the side that would take inventory past its limit. Fills are
simulated against the book: a resting bid fills only when the ask trades
through it (ask <= bid quote), a resting ask only when the bid trades
through it (bid >= ask quote), at the quote's price. No queue position, no
partial fills, no fees, no latency: the report is an illustration.

It runs as a Ray actor fed BBO record batches (the live ZeroMQ records, see
docs/live.md), or on a replayed BBO table:

    python examples/market_maker.py feed.itch --symbol AAPL
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from tickaccel.schema.units import PRICE_SCALE


@dataclass
class MarketMaker:
    """Quotes around the microprice with an inventory limit; fills when the book trades through."""

    symbol: str
    lot: int = 100
    max_inventory: int = 500
    half_spread: int = 100  # quote distance from fair value, in price units ($0.01)
    skew_per_lot: int = 50  # fair value moves this far against each lot held
    imbalance_skew: int = 100  # and this far with a fully one-sided book
    inventory: int = 0
    cash: int = 0  # price units x shares
    bid_quote: int = 0
    ask_quote: int = 0
    fills: list[tuple[int, str, int]] = field(default_factory=list)  # (seq, side, price)
    last_mid: float = 0.0
    updates: int = 0

    def on_bbo(self, records: np.ndarray) -> None:
        """Process one batch of BBO records (any symbols; others are ignored)."""
        name = self.symbol.encode().ljust(8)
        mine = records[records["symbol"] == name]
        stale = (mine["flags"] & 1).astype(bool)
        for row, is_stale in zip(mine, stale):
            self._on_quote(int(row["seq"]), int(row["bid_price"]), int(row["ask_price"]),
                           int(row["bid_size"]), int(row["ask_size"]), bool(is_stale))

    def _on_quote(self, seq: int, bid: int, ask: int, bid_size: int, ask_size: int,
                  stale: bool) -> None:
        self.updates += 1
        if bid == 0 or ask == 0 or ask <= bid:
            return
        # Fills first: the new book trades through a quote that was resting.
        if self.bid_quote and ask <= self.bid_quote:
            self._fill(seq, "B", self.bid_quote)
        if self.ask_quote and bid >= self.ask_quote:
            self._fill(seq, "S", self.ask_quote)
        self.last_mid = (bid + ask) / 2
        if stale:  # never quote on a book that may be wrong
            self.bid_quote = self.ask_quote = 0
            return
        microprice = (bid * ask_size + ask * bid_size) / (bid_size + ask_size)
        imbalance = (bid_size - ask_size) / (bid_size + ask_size)
        fair = (microprice + self.imbalance_skew * imbalance
                - self.skew_per_lot * self.inventory / self.lot)
        self.bid_quote = int(fair - self.half_spread) if self.inventory < self.max_inventory else 0
        self.ask_quote = int(fair + self.half_spread) + 1 \
            if self.inventory > -self.max_inventory else 0

    def _fill(self, seq: int, side: str, price: int) -> None:
        sign = 1 if side == "B" else -1
        self.inventory += sign * self.lot
        self.cash -= sign * self.lot * price
        self.fills.append((seq, side, price))
        if side == "B":
            self.bid_quote = 0
        else:
            self.ask_quote = 0

    def report(self) -> dict:
        """P&L marked to the last mid, in dollars, with inventory and fill counts."""
        pnl = (self.cash + self.inventory * self.last_mid) / PRICE_SCALE
        return {"symbol": self.symbol, "updates": self.updates, "fills": len(self.fills),
                "buys": sum(1 for f in self.fills if f[1] == "B"),
                "sells": sum(1 for f in self.fills if f[1] == "S"),
                "inventory": self.inventory, "pnl_usd": round(pnl, 2)}


def bbo_batches(table: pa.Table, batch_rows: int = 4096):
    """A replayed BBO table as the record batches the live publisher sends."""
    from tickaccel.live.wire import wire_records

    for start in range(0, table.num_rows, batch_rows):
        yield wire_records(table.slice(start, batch_rows), stale=False)


def run_on_ray(table: pa.Table, symbol: str, **params) -> dict:
    """Run the strategy as a Ray actor fed the BBO batches; Ray must be initialised."""
    import ray

    actor = ray.remote(num_cpus=0)(MarketMaker).remote(symbol, **params)
    for batch in bbo_batches(table):
        actor.on_bbo.remote(batch)
    return ray.get(actor.report.remote())


def main() -> None:
    parser = argparse.ArgumentParser(description="Market maker on a replayed feed, as a Ray actor.")
    parser.add_argument("feed")
    parser.add_argument("--symbol", required=True)
    args = parser.parse_args()
    import ray
    from tickaccel.book.fast import FastBook
    from tickaccel.errors import ErrorLog
    from tickaccel.feed.source import open_feed

    book = FastBook(symbols=[args.symbol])
    table = pa.concat_tables([book.process(c)["bbo"]
                              for c in open_feed(args.feed, errors=ErrorLog())])
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        print(run_on_ray(table, args.symbol))
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
