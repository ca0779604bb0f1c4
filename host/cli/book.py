"""`tickaccel book`: one symbol's order book at a time of day, as L2 levels and optionally L3 orders."""
from __future__ import annotations

from pathlib import Path

import typer


def book_command(
    feed: Path = typer.Argument(..., help="ITCH 5.0 feed: BinaryFILE (.gz too), pcap or pcapng."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol whose book to show."),
    at: str = typer.Option("16:00:00", "--at",
                           help="Time of day: the book after every message stamped at or before it "
                                "(HH:MM[:SS[.fraction]])."),
    levels: int = typer.Option(10, "--levels", "-n", min=1, help="Price levels per side."),
    orders: bool = typer.Option(False, "--orders", help="Also list the resting orders (L3) of those levels."),
) -> None:
    """Show one symbol's book at a time of day: the best levels of each side, and with --orders its orders."""
    from rich.console import Console
    from rich.table import Table

    from tickaccel.book.book import Book
    from tickaccel.schema.units import format_time_of_day, time_of_day_ns

    time_of_day_ns(at)  # a bad time is refused before the feed is read
    book = Book(feed)
    book.advance_to(at)
    bids, asks = book.levels(symbol, "B", levels), book.levels(symbol, "S", levels)
    console = Console(highlight=False)
    console.print(f"{symbol} at {at}: {book.messages:,} messages applied, the last stamped "
                  f"{format_time_of_day(book.time)}")
    ladder = Table("bid orders", "bid shares", "bid", "ask", "ask shares", "ask orders")
    for i in range(max(len(bids), len(asks), 1)):
        bid = [f"{bids[i].orders:,}", f"{bids[i].shares:,}", f"{bids[i].price:.4f}"] if i < len(bids) else ["", "", ""]
        ask = [f"{asks[i].price:.4f}", f"{asks[i].shares:,}", f"{asks[i].orders:,}"] if i < len(asks) else ["", "", ""]
        ladder.add_row(*bid, *ask)
    console.print(ladder)
    if orders:
        shown = {("B", level.price) for level in bids} | {("S", level.price) for level in asks}
        queue = Table("side", "price", "order ref", "shares", title="resting orders, in priority order")
        for order in book.orders(symbol):
            if (order.side, order.price) in shown:
                queue.add_row(order.side, f"{order.price:.4f}", str(order.ref), f"{order.shares:,}")
        console.print(queue)
    if book.errors.total():
        counted = ", ".join(f"{kind} {count:,}" for kind, count in sorted(book.errors.counts.items()))
        console.print(f"input problems counted and skipped: {counted}", style="yellow", markup=False)
