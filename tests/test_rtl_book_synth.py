"""The RTL order book synthesizes with Yosys: every memory becomes RAM (not flip-flops), no latch.

The fast test stops `synth_xilinx` right after memory mapping, which is where a
memory written from more than one place falls back to flip-flops; the slow
one runs the whole flow on the default parameters and reads the figures.
"""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
from tickaccel.sim import book_runner
from tickaccel.hw.params import BookParams

pytestmark = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys not installed")

RTL = book_runner.runner.RTL_DIR
# the order store's tables are a RAM per way (a write puts one way)
TABLES = tuple(f"order_store_inst.g_way[{way}].table{table}" for way in range(4) for table in (0, 1))
# sdp_ram's branch (in its one slice): g_block or g_ultra, "_any" where a read of the address
# written in the same cycle is not used (READ_OLD 0: no_rw_check; the head and level RAMs take the
# written word)
MEMORIES = (*(table + ".g_slice[0].{branch}_any.mem" for table in TABLES),
            "price_levels_inst.head_ram.g_slice[0].g_block_any.mem",
            "price_levels_inst.level_ram.g_slice[0].{branch}_any.mem",
            "price_levels_inst.free_ram.g_slice[0].g_block.mem",
            *(ram + ".g_slice[0].g_block.mem" for ram in ("bbo_ram", "stale_ram", "stale_csr_ram")), "symbol_ram")


def _bench():
    spec = importlib.util.spec_from_file_location(
        "rtl_book_bench", Path(__file__).resolve().parent.parent / "bench" / "rtl_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("ultra_ram,family", [(False, "xc7"), (True, "xcup")])
def test_every_memory_maps_to_ram_and_no_latch_is_inferred(tmp_path, ultra_ram, family):
    # with the top-N output on: its logic is the superset
    params = BookParams(max_symbols=1024, order_bucket_bits=12, order_ways=4, levels=32, top_n=4, depth_out=4,
                        ultra_ram=ultra_ram)
    files = " ".join(str(RTL / f) for f in book_runner.BOOK_TOPS["order_book"])
    sets = " ".join(f"-set {k} {v}" for k, v in params.verilog().items())
    (tmp_path / "infer.ys").write_text(
        f"read_verilog -I{RTL} {files}\n"
        f"chparam {sets} order_book\n"
        f"synth_xilinx -top order_book -flatten -family {family} -run :map_ffram\n"
        "select -assert-none t:$dlatch t:$_DLATCH_*\n")
    run = subprocess.run(["yosys", "-q", "-l", str(tmp_path / "yosys.log"), "-s", str(tmp_path / "infer.ys")],
                         check=False, capture_output=True, text=True)
    log = (tmp_path / "yosys.log").read_text()
    assert run.returncode == 0 and "End of script" in log, run.stderr[-2000:]
    assert "using FF mapping" not in log
    branch = "g_ultra" if ultra_ram else "g_block"
    for memory in MEMORIES:
        assert f"mapping memory order_book.{memory.format(branch=branch)} via $__XILINX_" in log, memory
    for memory in (*(table + ".g_slice[0].g_ultra_any" for table in TABLES),
                   "price_levels_inst.level_ram.g_slice[0].g_ultra_any"):
        in_uram = f"mapping memory order_book.{memory}.mem via $__XILINX_URAM_" in log
        assert in_uram == ultra_ram, memory


def test_ecp5_set_puts_each_level_pool_slice_in_one_block_ram(tmp_path):
    # the ECP5 set's pool of 4 096 levels, 128 bits each, in 4-bit slices: 32 DP16KD of 4096 x 4,
    # one a slice, where one memory was 2048 x 9 blocks stacked two deep behind a multiplexer
    params = _bench().ECP5_SET
    assert params.pool_blocks * params.pool_block_levels == 4096 and params.level_ram_slice == 4
    files = " ".join(str(RTL / f) for f in book_runner.BOOK_TOPS["order_book"])
    sets = " ".join(f"-set {k} {v}" for k, v in params.verilog().items())
    (tmp_path / "map.ys").write_text(
        f"read_verilog -I{RTL} {files}\n"
        f"chparam {sets} order_book\n"
        "synth_ecp5 -top order_book -run :map_ffram\n"
        "tee -q -o blocks.txt select -list t:DP16KD r:DATA_WIDTH_B=4 %i\n"
        "tee -q -o pool.txt select -list t:DP16KD\n")
    run = subprocess.run(["yosys", "-q", "-s", "map.ys"], cwd=tmp_path, check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    pool = [name for name in (tmp_path / "pool.txt").read_text().split() if ".level_ram." in name]
    narrow = [name for name in (tmp_path / "blocks.txt").read_text().split() if ".level_ram." in name]
    assert sorted(pool) == sorted(narrow) and len(pool) == 32, pool
    assert {name.split(".g_slice[")[1].split("]")[0] for name in pool} == {str(k) for k in range(32)}


@pytest.mark.slow
def test_default_book_synthesizes_to_block_ram_with_few_flip_flops(tmp_path):
    figures = _bench().synthesize(BookParams(), tmp_path / "yosys.log")
    # ~86 Mbit of tables: the order store, the per-symbol heads and levels, the BBO and symbol tables
    assert figures["RAMB36"] > 2000
    # flip-flops are the engine's registers only (the head and level RAMs' registered writes and
    # the words they replace in a read among them: ~3 800 here), nowhere near one per memory bit
    assert figures["FF"] < 25000, figures
    assert figures["logic_depth"] > 0


_board_figures: dict[str, dict] = {}


def _synthesize_board(board: str, family: str, tmp_path_factory) -> dict:
    """synth_xilinx figures of a board's book set, once per test session (minutes each)."""
    from tickaccel.fpga.boards import BOARDS

    if board not in _board_figures:
        log = tmp_path_factory.mktemp(f"synth-{board}") / "yosys.log"
        _board_figures[board] = _bench().synthesize(BOARDS[board].book, log, family)
    return _board_figures[board]


@pytest.mark.parametrize("board,family", [("pynq-z2", "xc7"),
                                          pytest.param("kv260", "xcup", marks=pytest.mark.slow)])
def test_ram_estimate_the_boards_are_sized_by_matches_yosys(tmp_path_factory, board, family):
    from tickaccel.fpga.boards import BOARDS

    figures = _synthesize_board(board, family, tmp_path_factory)
    mapped = figures["RAMB36"] + figures["RAMB18"] / 2
    estimate = BOARDS[board].book_ramb36()
    assert 0.9 * estimate <= mapped <= estimate, (mapped, estimate, figures)
    # Yosys packs the UltraRAM columns a little tighter than whole 72-bit columns
    assert 0.85 * BOARDS[board].book_uram() <= figures["URAM"] <= BOARDS[board].book_uram(), figures


# Logic depth of order_book at the PYNQ-Z2 set (ltp over LUT/CARRY4/MUXF cells between registers and
# RAM ports; a DSP slice that registers its product, in MREG or PREG, ends a path): 10, the target (31 before the
# compare and found stages, 13 before the hashed input register, 11 before the found entry was
# picked in parts and a level's difference chosen in P2). Paths at 10 remain in several stages
# (a cached level plus an add, the live-order count), so this guards the figure reached.
# feed_to_book (the feed handler in front, the CSR blocks beside) is held to the same budget: 10
# (12 while S5 compared the quote behind the quote RAM's write-first select and the choice of
# side; both are in S4 now, registered).
DEPTH_BUDGET = 10


def test_logic_depth_at_the_pynq_z2_set_stays_within_budget(tmp_path_factory):
    figures = _synthesize_board("pynq-z2", "xc7", tmp_path_factory)
    assert 0 < figures["logic_depth"] <= DEPTH_BUDGET, figures


@pytest.mark.slow
def test_feed_to_book_logic_depth_at_the_pynq_z2_set_stays_within_budget(tmp_path):
    from tickaccel.fpga.boards import BOARDS

    figures = _bench().synthesize(BOARDS["pynq-z2"].book, tmp_path / "yosys.log", "xc7", "feed_to_book")
    assert 0 < figures["logic_depth"] <= DEPTH_BUDGET, figures
