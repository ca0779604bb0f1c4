"""tickaccel: ITCH 5.0 feeds to order books and trading signals on CPU, GPU and FPGA."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tickaccel")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
