"""The market-wide level pool (price_levels: LEVEL_BLOCKS blocks of BLOCK_LEVELS levels): pools
small enough to run out, against the model record for record, refusals and stale flags included
(tb_book also compares the pool's free blocks at the end)."""
from __future__ import annotations

import pytest
from tickaccel.feed import generator
from tickaccel.hw.params import BookParams
from tickaccel.sim import book_model, book_runner, runner
from tickaccel.sim.book_model import BookModel

needs_simulator = pytest.mark.skipif(not runner.available_simulators(),
                                     reason="no HDL simulator (iverilog or verilator) installed")

# 32 levels a side in blocks of 4; 64 blocks (256 levels) for 20 symbols' 40 sides
SMALL_POOL = BookParams(max_symbols=64, order_bucket_bits=11, order_ways=4, levels=32, top_n=4,
                        block_levels=4, level_blocks=64)


def _run(tmp_path, words, params: BookParams, **env: str) -> None:
    stimulus = tmp_path / "stimulus.pkl"
    book_model.write_stimulus(stimulus, words, params)
    book_runner.run("order_book", "tb_book", params.verilog(), testcase="test_events_match_model",
                    env={"TB_STIMULUS": str(stimulus), **env})


def _feed_words(n: int, symbols: int, seed: int) -> list[int]:
    return book_model.feed_events(generator.generate(n, symbols, seed).tobytes())


def _pool_trace(words: list[int], params: BookParams) -> tuple[BookModel, list[int]]:
    """The model after the words, and the pool's free blocks after each word."""
    model = BookModel(params)
    free = []
    for word in words:
        model.apply(word)
        free.append(model.pool_free)
    return model, free


def test_the_default_pool_holds_every_sides_levels():
    # the default: as many blocks as every side's LEVELS fill, so the pool refuses nothing
    params = BookParams(max_symbols=64, order_bucket_bits=11, order_ways=4, levels=32, top_n=4)
    assert params.pool_block_levels == 8 and params.pool_blocks == 2 * 64 * 32 // 8
    model, free = _pool_trace(_feed_words(3000, 20, 22), params)
    assert not model.counters["level_store_full"] and min(free) > 0


@needs_simulator
def test_small_pool_runs_out_and_recovers_exactly_as_modelled(tmp_path):
    words = _feed_words(3000, 20, 22)
    model, free = _pool_trace(words, SMALL_POOL)
    unlimited = BookModel(BookParams(**{**SMALL_POOL.__dict__, "level_blocks": 0}))
    unlimited.run(words)
    # every refusal is the pool's: with blocks for every side none is refused
    assert model.counters["level_store_full"] > 100 and not unlimited.counters["level_store_full"]
    empty = [i for i, n in enumerate(free) if n == 0]
    assert empty and any(free[i] > 0 for i in range(empty[0], len(free)))  # blocks come back
    _run(tmp_path, words, SMALL_POOL, TB_BACKPRESSURE="1", TB_IDLE="1", TB_SEED="11")


@needs_simulator
@pytest.mark.parametrize("seed", [5, 3])
def test_nearly_full_pool_refuses_only_without_a_free_block(tmp_path, seed):
    # 64 blocks of 8 levels for 20 symbols: seed 5 takes every block and is refused nothing, seed 3
    # is refused one add, when the last block is gone
    params = BookParams(**{**SMALL_POOL.__dict__, "block_levels": 8, "level_blocks": 64})
    words = _feed_words(3000, 20, seed)
    model, free = _pool_trace(words, params)
    assert min(free) == 0
    assert model.counters["level_store_full"] == (0 if seed == 5 else 1)
    _run(tmp_path, words, params, TB_BACKPRESSURE="1", TB_SEED=str(seed))


def pool_hazard_words() -> list[int]:
    """A pool of 8 blocks of 2 levels, taken and freed on consecutive events: new levels back to
    back on different symbols (a block each), a new level after a scan that made one (tags shared,
    price not found), adds refused when the pool is empty while a side's block in use still takes
    one, a block freed and taken by the next event, a U whose remove frees the block its add takes,
    and a refill (a cached level goes on a side with more levels) that frees a block."""
    words, emit = book_model.event_sequence()

    # symbol 0, bids: 1000 and 999 (cached, TOP_N 2; block 0), 100 and 50 (block 1)
    for ref, price in ((1, 1000), (2, 999), (3, 100), (4, 50)):
        emit("A", 0, ref, shares=10, price=price)
    # 871 has the tag of 100 (0x03 ^ 0x67 = 0x64): the side is searched, the price is not found,
    # and the new level takes slot 4, a new block (the scan's last cycle takes it); symbol 1's new
    # level takes the next block in the cycle after
    emit("A", 0, 5, shares=10, price=871)
    emit("A", 1, 6, shares=10, price=500)
    # symbols 2-5: a new level each, back to back, a block each: the pool is empty after them
    for locate in range(2, 6):
        emit("A", locate, 10 + locate, shares=10, price=200 + locate)
    emit("A", 6, 20, shares=10, price=300)             # refused: no block (symbol 6 stale)
    emit("A", 2, 21, shares=10, price=199)             # slot 1 of symbol 2's block: taken
    emit("A", 6, 22, side="S", shares=10, price=301)   # refused again
    # a block freed and taken by the next event
    emit("D", 5, 15)
    emit("A", 7, 23, shares=10, price=400)
    # a U whose remove frees the block its add takes again (the pool is empty)
    emit("U", 3, 13, shares=20, price=210, new_ref=24)
    emit("A", 8, 25, shares=10, price=400)             # refused
    # symbol 0: 999 goes (cached; the refill brings 871), then 1000 (block 0 empties during the
    # refill), and symbol 8 takes the block
    emit("D", 0, 2)
    emit("D", 0, 1)
    emit("A", 8, 26, shares=10, price=401)
    # 100 goes (block 1 keeps 50), then 50: block 1 is free and taken at once
    emit("X", 0, 3, shares=10)
    emit("E", 0, 4, shares=10)
    emit("A", 9, 27, side="S", shares=10, price=402)
    emit("A", 9, 28, side="S", shares=10, price=403)   # the block's second slot
    emit("A", 9, 29, side="S", shares=10, price=404)   # refused: a third block's worth
    return words


@needs_simulator
@pytest.mark.parametrize("idle", [False, True])
def test_blocks_taken_and_freed_back_to_back_follow_the_model(tmp_path, idle):
    params = BookParams(max_symbols=64, order_bucket_bits=8, order_ways=4, levels=8, top_n=2, depth_out=2,
                        block_levels=2, level_blocks=8)
    words = pool_hazard_words()
    model, free = _pool_trace(words, params)
    assert model.counters["level_store_full"] == 4 and model.stale == {6, 8, 9}
    assert free[10] == 0 and free[13] == 1 and free[14] == 0  # the D frees, the next add takes
    assert free[-1] == 0
    _run(tmp_path, words, params, **({"TB_IDLE": "1", "TB_BACKPRESSURE": "1"} if idle else {}))
