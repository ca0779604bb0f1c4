"""UDP sockets of the live receiver: big buffers, kernel receive timestamps, batched reads.

`DatagramSlots` drains the sockets without blocking into preallocated slots,
with the kernel's receive time of each datagram (``SO_TIMESTAMPNS``,
CLOCK_REALTIME); `Arrivals` keeps those times, and the time each later stage
was reached, for the datagrams of the chunk being built.
"""
from __future__ import annotations

import ipaddress
import socket
import struct
import time
from collections.abc import Sequence

import numpy as np

from tickaccel.live.metrics import STAGES

SLOT_BYTES = 2048  # a datagram longer than this is truncated, and counted malformed

# Linux: the kernel's receive time of each datagram, as ancillary data (struct timespec).
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("=qq")
_ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size)


def udp_socket(addr: tuple[str, int], rcvbuf: int, interface: str = "0.0.0.0") -> socket.socket:
    """A `timestamped` UDP socket bound to `addr`; a multicast address joins its group on `interface`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    timestamped(sock, rcvbuf)
    host = socket.gethostbyname(addr[0])
    sock.bind((host, addr[1]))
    if ipaddress.ip_address(host).is_multicast:
        mreq = socket.inet_aton(host) + socket.inet_aton(interface)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    return sock


def timestamped(sock: socket.socket, rcvbuf: int) -> None:
    """A big receive buffer, kernel receive timestamps, non-blocking."""
    try:  # root (CAP_NET_ADMIN) may exceed net.core.rmem_max; others get at most that
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUFFORCE, rcvbuf)
    except (OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    sock.setblocking(False)


class DatagramSlots:
    """Preallocated slots for one batch of datagrams, each with its length and receive times.

    `data` is (capacity, `SLOT_BYTES`); a truncated datagram's length is
    ``SLOT_BYTES + 1``. `arrived_ns` is the kernel's receive time, `read_ns`
    when the receiver took it off the socket (both CLOCK_REALTIME ns; plain
    lists, as the receiver reads them one element at a time).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data = np.zeros((capacity, SLOT_BYTES), np.uint8)
        self._views = [[memoryview(self.data[i])] for i in range(capacity)]
        self.lengths = np.zeros(capacity, np.int64)
        self.arrived_ns = [0] * capacity
        self.read_ns = [0] * capacity

    def receive(self, socks: Sequence[socket.socket]) -> int:
        """Drain `socks` in turn, non-blocking, until the slots are full; returns how many."""
        n = 0
        unpack = _TIMESPEC.unpack
        for sock in socks:
            recvmsg_into = sock.recvmsg_into
            while n < self.capacity:
                try:
                    size, ancillary, flags, _ = recvmsg_into(self._views[n], _ANCILLARY_BYTES)
                except BlockingIOError:
                    break
                read_ns = time.time_ns()
                self.lengths[n] = SLOT_BYTES + 1 if flags & socket.MSG_TRUNC else size
                if ancillary:
                    seconds, nanoseconds = unpack(ancillary[0][2])
                    self.arrived_ns[n] = seconds * 1_000_000_000 + nanoseconds
                else:
                    self.arrived_ns[n] = read_ns
                self.read_ns[n] = read_ns
                n += 1
        return n


class Arrivals:
    """Per datagram in the chunk being built: kernel receive time, stage times, message count.

    Row 0 of `times` is the kernel's receive time, rows 1.. the time each
    `STAGES` stage was reached; all CLOCK_REALTIME nanoseconds, the kernel's clock.
    """

    def __init__(self, capacity: int) -> None:
        self.times = np.zeros((1 + len(STAGES), capacity), np.int64)
        self.counts = np.zeros(capacity, np.int64)
        self.n = 0

    def add(self, arrived_ns: int, read_ns: int, count: int) -> None:
        if self.n == self.counts.shape[0]:
            times, counts = self.times, self.counts
            self.times = np.zeros((times.shape[0], 2 * times.shape[1]), np.int64)
            self.counts = np.zeros(2 * len(counts), np.int64)
            self.times[:, :self.n] = times
            self.counts[:self.n] = counts
        self.times[0, self.n] = arrived_ns
        self.times[1, self.n] = read_ns
        self.counts[self.n] = count
        self.n += 1
