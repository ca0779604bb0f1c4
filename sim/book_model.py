"""Host-side reference of the RTL order book: book-event records in, BBO update records out.

`BookModel` keeps the software books' semantics (host/book/oracle.py) and adds the
hardware's finite capacities, so it predicts the RTL's stream exactly, stale
records included: the order store (`OrderStore`, the RTL's cuckoo tables, kick
order and stash slot for slot), LEVELS live prices per symbol and side, the
market-wide level pool (each level's slot, the lowest free one when it was
made, as price_levels gives it; a side's blocks of BLOCK_LEVELS slots each
take a pool block while any of their slots is live), and MAX_SYMBOLS books.
Where no capacity is exceeded its BBO rows are the oracle's, which the
differential tests check separately against `tickaccel.book.oracle` itself. With
``depth_out`` > 0 it also predicts the RTL's top-N output (record layout and
rule in `tickaccel.schema.bbo_records`).
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass, field

from tickaccel.hw.params import BookParams
from tickaccel.schema import bbo_records, book_csr, itch, records

BOOK_KINDS = frozenset(records.BOOK_EVENT_TYPES)


# order_store.v's localparams (stash slots, moves per insert) and order_hash.vh's hash multipliers
STORE_STASH = 8
STORE_MAX_KICKS = 32
STORE_HASH = (0x9E3779B1, 0x85EBCA77)


def bucket_of(ref: int, table: int, bits: int) -> int:
    """order_store.v's bucket of `ref` in `table` (0 or 1) of 2**bits buckets: the top `bits` of
    the 32-bit product of the reference's two halves XORed and the table's multiplier."""
    folded = (ref ^ (ref >> 32)) & 0xFFFFFFFF
    return ((folded * STORE_HASH[table]) & 0xFFFFFFFF) >> (32 - bits)


class OrderStore:
    """order_store.v's placement of references: two tables of 2**(bucket_bits - 1) buckets of
    `ways` slots and a stash of STORE_STASH, filled exactly as the RTL fills them.

    An insert takes the first free way of its table-0 bucket, else of its table-1 bucket.
    When both are full it moves orders (cuckoo hashing): the new order takes the way a
    global kick counter points at in its table-0 bucket, the order there moves to its
    bucket in the other table (first free way, else it takes the counter's way there and
    that order moves on), at most STORE_MAX_KICKS times; the order still without a bucket
    goes to the first free stash slot. So an insert is refused only when both its
    buckets and the stash are full, before anything moved: no live order is ever lost.
    """

    def __init__(self, bucket_bits: int, ways: int) -> None:
        self.bits = bucket_bits - 1
        self.ways = ways
        self.tables = [[[None] * ways for _ in range(1 << self.bits)] for _ in range(2)]
        self.stash: list[int | None] = [None] * STORE_STASH
        self.where: dict[int, tuple[int, int, int]] = {}  # ref -> (table, bucket, way); table 2: stash
        self.kick_way = 0
        self.moves = 0  # orders moved to their other bucket by inserts (cuckoo kicks)

    @property
    def capacity(self) -> int:
        return 2 * len(self.tables[0]) * self.ways + STORE_STASH

    def __len__(self) -> int:
        return len(self.where)

    def has_room(self, ref: int) -> bool:
        return (None in self.tables[0][bucket_of(ref, 0, self.bits)]
                or None in self.tables[1][bucket_of(ref, 1, self.bits)] or None in self.stash)

    def _place(self, ref: int, table: int, bucket: int, way: int) -> int | None:
        """Puts `ref` in a slot; the reference that was there."""
        slots = self.tables[table][bucket]
        moved, slots[way] = slots[way], ref
        self.where[ref] = (table, bucket, way)
        return moved

    def insert(self, ref: int) -> None:
        assert ref not in self.where and self.has_room(ref)
        for table in (0, 1):
            bucket = bucket_of(ref, table, self.bits)
            if None in self.tables[table][bucket]:
                self._place(ref, table, bucket, self.tables[table][bucket].index(None))
                return
        moving, table, bucket = ref, 0, bucket_of(ref, 0, self.bits)
        for _ in range(STORE_MAX_KICKS):
            way, self.kick_way = self.kick_way, (self.kick_way + 1) % self.ways
            moving = self._place(moving, table, bucket, way)
            self.moves += 1
            table = 1 - table
            bucket = bucket_of(moving, table, self.bits)
            if None in self.tables[table][bucket]:
                self._place(moving, table, bucket, self.tables[table][bucket].index(None))
                return
        slot = self.stash.index(None)
        self.stash[slot] = moving
        self.where[moving] = (2, slot, 0)

    def delete(self, ref: int) -> None:
        table, bucket, way = self.where.pop(ref)
        if table == 2:
            self.stash[bucket] = None
        else:
            self.tables[table][bucket][way] = None


@dataclass
class BookModel:
    params: BookParams = field(default_factory=BookParams)

    def __post_init__(self) -> None:
        self.orders: dict[int, list] = {}  # ref -> [locate, sell, price, shares]
        self.store = OrderStore(self.params.order_bucket_bits, self.params.order_ways)
        self.levels: dict[tuple[int, bool], dict[int, list[int]]] = {}  # price -> [shares, orders]
        self.slots: dict[tuple[int, bool], dict[int, int]] = {}  # price -> its level's slot
        self.pool_free = self.params.pool_blocks  # pool blocks free
        self.bbo: dict[int, tuple[int, int, int, int]] = {}
        self.stale: set[int] = set()
        self.names: dict[int, int] = {}
        self.counters = {name: 0 for name in book_csr.COUNTERS}

    # ---- state ----

    def best(self, locate: int, sell: bool) -> tuple[int, int]:
        book = self.levels.get((locate, sell))
        if not book:
            return 0, 0
        price = min(book) if sell else max(book)
        return price, book[price][0]

    def side_levels(self, locate: int, sell: bool) -> tuple[tuple[int, int, int], ...]:
        """The best depth_out levels of one side as (price, shares, orders), zeros past the last."""
        book = self.levels.get((locate, sell), {})
        prices = sorted(book, reverse=not sell)[:self.params.depth_out]
        levels = [(p, book[p][0], book[p][1]) for p in prices]
        return tuple(levels + [(0, 0, 0)] * (self.params.depth_out - len(levels)))

    def _bbo_now(self, locate: int) -> tuple[int, int, int, int]:
        bid, bid_size = self.best(locate, False)
        ask, ask_size = self.best(locate, True)
        return bid, ask, bid_size, ask_size

    def check_invariants(self) -> None:
        """Every level is the sum of its orders; no empty level; no order without shares."""
        sums: dict[tuple[int, bool, int], list[int]] = {}
        for locate, sell, price, shares in self.orders.values():
            assert shares > 0
            entry = sums.setdefault((locate, sell, price), [0, 0])
            entry[0] += shares
            entry[1] += 1
        flat = {(loc, sell, price): level for (loc, sell), book in self.levels.items()
                for price, level in book.items()}
        assert flat == sums
        assert set(self.store.where) == set(self.orders)
        for book in self.levels.values():
            assert len(book) <= self.params.levels
        # every level has its own slot; the pool's blocks are the sides' blocks in use and the free ones
        assert {key: set(slots) for key, slots in self.slots.items() if slots} == \
            {key: set(book) for key, book in self.levels.items() if book}
        for slots in self.slots.values():
            assert len(set(slots.values())) == len(slots)
            assert all(0 <= slot < self.params.levels for slot in slots.values())
        assert 0 <= self.pool_free and self.pool_free + self.pool_used() == self.params.pool_blocks

    def blocks(self, locate: int, sell: bool) -> set[int]:
        """The side's blocks in use (holding a live level), by block number within the side."""
        size = self.params.pool_block_levels
        return {slot // size for slot in self.slots.get((locate, sell), {}).values()}

    def pool_used(self) -> int:
        """Pool blocks the sides hold."""
        return sum(len(self.blocks(*key)) for key in self.slots)

    # ---- changes ----

    def _add(self, ref: int, locate: int, sell: bool, price: int, shares: int) -> bool:
        """Returns True when the add found no room (the symbol becomes stale)."""
        if ref in self.orders:
            self.counters["duplicate_order_ref"] += 1
            return False
        if shares == 0:
            self.counters["zero_share_add"] += 1
            return False
        if not self.store.has_room(ref):
            self.counters["order_store_full"] += 1
            return True
        book = self.levels.setdefault((locate, sell), {})
        slots = self.slots.setdefault((locate, sell), {})
        if price not in book:
            if len(book) == self.params.levels:
                self.counters["level_store_full"] += 1
                return True
            # price_levels: the lowest free slot; a pool block when its block holds no level yet
            used = set(slots.values())
            slot = min(s for s in range(self.params.levels) if s not in used)
            size = self.params.pool_block_levels
            if not any(s // size == slot // size for s in used):
                if not self.pool_free:
                    self.counters["level_store_full"] += 1
                    return True
                self.pool_free -= 1
            slots[price] = slot
        self.orders[ref] = [locate, sell, price, shares]
        self.store.insert(ref)
        level = book.setdefault(price, [0, 0])
        level[0] += shares
        level[1] += 1
        return False

    def _reduce(self, ref: int, take: int) -> None:
        locate, sell, price, live = self.orders[ref]
        book = self.levels[(locate, sell)]
        book[price][0] -= take
        self.orders[ref][3] = live - take
        if live == take:
            del self.orders[ref]
            self.store.delete(ref)
            book[price][1] -= 1
            if book[price][1] == 0:
                del book[price]
                slots = self.slots[(locate, sell)]
                slot = slots.pop(price)
                size = self.params.pool_block_levels
                if not any(s // size == slot // size for s in slots.values()):
                    self.pool_free += 1  # the level's block holds no other: back to the pool

    def clear_stale(self, locate: int) -> None:
        self.stale.discard(locate)

    def apply(self, word: int) -> list[int]:
        """The output records (words) of one book-event record."""
        ev = records.unpack(word)
        kind = chr(ev["kind"])
        self.counters["events"] += 1
        locate = ev["stock_locate"]
        in_range = locate < self.params.max_symbols
        head = {"seq": ev["seq"], "timestamp": ev["timestamp"]}
        if kind in "AFR" and not in_range:
            self.counters["locate_out_of_range"] += 1
            return []
        if kind == "R":
            self.names[locate] = ev["new_order_ref"]
            self.counters["symbol_updates"] += 1
            return [bbo_records.pack({"kind": bbo_records.KIND_SYMBOL, "stock_locate": locate,
                                      "bid_size": ev["new_order_ref"], **head}, self.params.depth_out)]
        if kind not in "AFECXDU":
            return []
        stale_new = False
        depth = self.params.depth_out
        if kind in "AF":
            sell = ev["side"] == ord("S")
            before = self.bbo.get(locate, (0, 0, 0, 0))
            levels_before = self.side_levels(locate, sell) if depth else ()
            stale_new = self._add(ev["order_ref"], locate, ev["side"] == ord("S"),
                                  ev["price"], ev["shares"])
        else:
            order = self.orders.get(ev["order_ref"])
            if order is None:
                self.counters["unknown_order_ref"] += 1
                return []
            locate, sell, _, live = order
            before = self.bbo.get(locate, (0, 0, 0, 0))
            levels_before = self.side_levels(locate, sell) if depth else ()
            if kind in "DU":
                take = live
            else:
                take = min(ev["shares"], live)
                if ev["shares"] > live:
                    self.counters["overfill"] += 1
            self._reduce(ev["order_ref"], take)
            if kind == "U":
                stale_new = self._add(ev["new_order_ref"], locate, sell, ev["price"], ev["shares"])
        after = self._bbo_now(locate)
        levels_after = self.side_levels(locate, sell) if depth else ()
        depth_changed = levels_after != levels_before
        was_stale = locate in self.stale
        became_stale = stale_new and not was_stale
        if became_stale:
            self.stale.add(locate)
            self.counters["stale_raised"] += 1
        if after == before and not became_stale and not depth_changed:
            return []
        self.bbo[locate] = after
        self.counters["bbo_updates"] += 1
        flags = bbo_records.FLAG_STALE if locate in self.stale else 0
        bid, ask, bid_size, ask_size = after
        values = {"kind": bbo_records.KIND_BBO, "stock_locate": locate, "bid_price": bid,
                  "ask_price": ask, "bid_size": bid_size, "ask_size": ask_size, **head}
        if depth_changed:
            flags |= bbo_records.FLAG_DEPTH | (bbo_records.FLAG_ASK if sell else 0)
            if after == before:
                flags |= bbo_records.FLAG_DEPTH_ONLY
            for k, (price, size, orders) in enumerate(levels_after, 1):
                values.update({f"price_{k}": price, f"size_{k}": size, f"orders_{k}": orders})
        return [bbo_records.pack({**values, "flags": flags}, depth)]

    def run(self, words: list[int]) -> list[int]:
        out: list[int] = []
        for word in words:
            out += self.apply(word)
        return out


def first_refusal(words: list[int], params: BookParams) -> tuple[float | None, float]:
    """Order-store occupancy (live orders / slots, stash included) at the first add the store
    refused (None: no refusal), and the peak occupancy, over a run of the model."""
    model = BookModel(params)
    first, peak = None, 0.0
    for word in words:
        refused = model.counters["order_store_full"]
        model.apply(word)
        occupancy = len(model.store) / model.store.capacity
        peak = max(peak, occupancy)
        if first is None and model.counters["order_store_full"] > refused:
            first = occupancy
    return first, peak


def feed_events(feed: bytes, first_seq: int = 1) -> list[int]:
    """Book-event record words of a length-prefixed feed (what feed_handler sends the book)."""
    words, pos, seq = [], 0, first_seq
    data = bytes(feed)
    while pos + 2 <= len(data):
        length = int.from_bytes(data[pos:pos + 2], "big")
        message = data[pos + 2:pos + 2 + length]
        if length and itch.MESSAGE_LENGTHS.get(chr(message[0])) == length:
            word = records.from_message(message, seq)
            if word is not None:
                words.append(word)
        pos += 2 + length
        seq += 1
    return words


def event_word(seq: int, kind: str, locate: int, ref: int, side: str = "B", shares: int = 0,
               price: int = 0, new_ref: int = 0) -> int:
    """A book-event record word built by hand (tests' event sequences): timestamp seq * 10."""
    return records.pack({"kind": ord(kind), "stock_locate": locate, "timestamp": seq * 10, "seq": seq,
                         "order_ref": ref, "new_order_ref": new_ref, "side": ord(side),
                         "shares": shares, "price": price})


def event_sequence():
    """An empty list of event words and the function that appends one (event_word's arguments
    but seq), numbered in order from 1."""
    words: list[int] = []

    def emit(kind: str, locate: int, ref: int, **fields) -> None:
        words.append(event_word(len(words) + 1, kind, locate, ref, **fields))
    return words, emit


def write_stimulus(path, words: list[int], params: BookParams) -> None:
    with open(path, "wb") as out:
        pickle.dump({"words": words, "params": params}, out)


def read_stimulus(path) -> tuple[list[int], BookParams]:
    with open(path, "rb") as stream:
        data = pickle.load(stream)
    return data["words"], data["params"]
