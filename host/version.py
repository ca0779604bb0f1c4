"""The installed tickaccel's version, from its package metadata.

A module of its own so that reading the metadata (tens of milliseconds) happens when the
version is first asked for, not on every ``import tickaccel``.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tickaccel")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
