"""Order books: the oracle (plain Python, one message at a time) and the fast Numba book,
and `Book`, the fast book queried by symbol between any two messages (`book_at`).

Both apply the same semantics (`tickaccel.schema.itch`'s book rules, the error kinds in
`oracle.BOOK_ERROR_KINDS`) and hand their rows to the same table builders, so a test can
compare them with ``Table.equals``.
"""
from tickaccel.lazy import exports

__all__ = ["Book", "book_at", "FastBook", "OracleBook", "BOOK_ERROR_KINDS", "iter_messages"]
__getattr__, __dir__ = exports(__name__, {
    "Book": "tickaccel.book.book",
    "book_at": "tickaccel.book.book",
    "FastBook": "tickaccel.book.fast",
    "OracleBook": "tickaccel.book.oracle",
    "BOOK_ERROR_KINDS": "tickaccel.book.oracle",
    "iter_messages": "tickaccel.book.oracle",
})
del exports
