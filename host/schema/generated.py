"""Files generated from the Python tables (Verilog headers): one entry point to print or write them.

Each table module (`records`, `bbo_records`, `csr`, `book_csr`) calls
`header_main` from its ``__main__``, so ``python -m tickaccel.schema.<module> --write``
regenerates its header the same way everywhere.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path


def header_main(path: Path, render: Callable[[], str], argv: list[str] | None = None) -> int:
    """Print the generated text, or write it to `path` with ``--write``."""
    parser = argparse.ArgumentParser(description=f"Generate {path.name} from its Python table.")
    parser.add_argument("--write", action="store_true", help="write the header (default: print it)")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        path.write_text(text)
        print(f"wrote {path}")
    else:
        sys.stdout.write(text)
    return 0


def verilog_case_function(name: str, result: str, argument: str,
                          cases: Iterable[tuple[str, str, str]], default: str) -> list[str]:
    """Lines of a Verilog function mapping its one input to constants through a case table.

    `result` is the return range (``"[7:0]"``, or ``""`` for one bit), `argument` the input
    declaration (``"[7:0] message_type"``); each case is (label, value, comment).
    """
    selector = argument.split()[-1]
    lines = [f"function {result + ' ' if result else ''}{name};",
             f"    input {argument};",
             "    begin",
             f"        case ({selector})"]
    lines += [f"            {label}: {name} = {value};  // {comment}" for label, value, comment in cases]
    lines += [f"            default: {name} = {default};",
              "        endcase",
              "    end",
              "endfunction"]
    return lines
