"""UDP sockets of the live receiver: big buffers, kernel receive timestamps, batched reads.

`DatagramSlots` drains the sockets without blocking into preallocated slots,
with the kernel's receive time of each datagram (``SO_TIMESTAMPNS``,
CLOCK_REALTIME); `Arrivals` keeps those times, and the time each later stage
was reached, for the datagrams of the chunk being built. `AddressFilter`
admits datagrams from listed senders only; `local_networks` is this host's
own IPv4 subnets, the re-request server's default allow list. `receive_timestamps`
turns on the NIC's hardware receive timestamps where it offers them.
"""
from __future__ import annotations

import ctypes
import fcntl
import ipaddress
import logging
import socket
import struct
import time
from collections.abc import Sequence

import numpy as np

from tickaccel.errors import TickaccelError
from tickaccel.live.metrics import STAGES

# The largest datagram taken whole: a 9000-byte jumbo frame's payload fits. Longer ones are
# truncated and counted malformed. 256 slots of it are 2.3 MB, touched only as far as each
# datagram reaches, so a slot's size costs nothing per datagram.
SLOT_BYTES = 9000

# Linux: the kernel's receive time of each datagram, as ancillary data (struct timespec).
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("=qq")
_ANCILLARY_BYTES = socket.CMSG_SPACE(_TIMESPEC.size)
# Linux SO_TIMESTAMPING: the NIC's raw hardware receive time, the software one beside it
# (three timespecs: software, legacy, hardware).
_SO_TIMESTAMPING = 37
_SOF_RX_HARDWARE, _SOF_RX_SOFTWARE, _SOF_SOFTWARE, _SOF_RAW_HARDWARE = 1 << 2, 1 << 3, 1 << 4, 1 << 6
_SIOCETHTOOL, _SIOCSHWTSTAMP = 0x8946, 0x89B0
_ETHTOOL_GET_TS_INFO = 0x41
_TS_INFO = struct.Struct("=IIiI3II3I")  # struct ethtool_ts_info
_HWTSTAMP_CONFIG = struct.Struct("=iii")  # flags, tx_type (off), rx_filter
_HWTSTAMP_FILTER_ALL = 1
_IFREQ_POINTER = struct.Struct("16sQ16x")  # interface name, then a pointer (ifr_data)

log = logging.getLogger("tickaccel.live.sockets")


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


def _ioctl_with_data(sock: socket.socket, request: int, name: str, data: bytes) -> bytes:
    """An interface ioctl whose ifreq points at `data`; returns the data as the kernel left it."""
    buffer = ctypes.create_string_buffer(data, len(data))
    fcntl.ioctl(sock.fileno(), request,
                _IFREQ_POINTER.pack(name.encode()[:15], ctypes.addressof(buffer)))
    return buffer.raw


def interface_of(host: str) -> str | None:
    """The name of the interface holding IPv4 address `host`, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                raw = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, _IFREQ.pack(name.encode()[:15]))
            except OSError:
                continue
            if socket.inet_ntoa(raw[_SOCKADDR_IN_ADDR]) == host:
                return name
    return None


def receive_timestamps(sock: socket.socket, interface: str | None) -> str:
    """Ask for the NIC's hardware receive timestamps on `sock` where `interface` offers them
    (``SO_TIMESTAMPING``); returns "hardware", or "kernel" (``SO_TIMESTAMPNS``, already on)
    with one log line saying why.

    Hardware timestamps are in the NIC's clock (PTP hardware clock): they compare with
    CLOCK_REALTIME only where that clock is synchronised to it (phc2sys).
    """
    why = "no single interface for the listen address"
    if interface is not None:
        try:
            info = _TS_INFO.unpack(_ioctl_with_data(sock, _SIOCETHTOOL, interface, _TS_INFO.pack(
                _ETHTOOL_GET_TS_INFO, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0)))
            so_timestamping, rx_filters = info[1], info[7]
            wanted = _SOF_RX_HARDWARE | _SOF_RAW_HARDWARE
            if so_timestamping & wanted != wanted or not rx_filters & (1 << _HWTSTAMP_FILTER_ALL):
                why = f"{interface} does not offer hardware receive timestamps"
            else:
                _ioctl_with_data(sock, _SIOCSHWTSTAMP, interface,
                                 _HWTSTAMP_CONFIG.pack(0, 0, _HWTSTAMP_FILTER_ALL))
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPING,
                                wanted | _SOF_RX_SOFTWARE | _SOF_SOFTWARE)
                log.info("hardware receive timestamps", extra={"interface": interface})
                return "hardware"
        except OSError as exc:
            why = f"{interface}: {exc.strerror or exc}"
    log.info("kernel receive timestamps", extra={"reason": why})
    return "kernel"


class AddressFilter:
    """Admits datagrams from listed IPv4 addresses or networks only: ``ADDR[/PREFIX][,...]``.

    Verdicts are remembered per sender address (the socket hands over a new
    string per datagram; a dictionary look-up is cheaper than parsing it).
    """

    _REMEMBERED = 1024  # distinct senders remembered; forgetting only costs a re-parse

    def __init__(self, spec: str | Sequence[ipaddress.IPv4Network]) -> None:
        if isinstance(spec, str):
            try:
                spec = [ipaddress.IPv4Network(part.strip(), strict=False)
                        for part in spec.split(",") if part.strip()]
            except ValueError:
                raise TickaccelError(f"not IPv4 ADDR[/PREFIX][,...]: {spec!r}") from None
        self.networks = list(spec)
        self._verdicts: dict[str, bool] = {}

    def __call__(self, host: str) -> bool:
        verdict = self._verdicts.get(host)
        if verdict is None:
            if len(self._verdicts) >= self._REMEMBERED:
                self._verdicts.clear()
            address = ipaddress.IPv4Address(host)
            verdict = self._verdicts[host] = any(address in n for n in self.networks)
        return verdict


# Linux ioctls reading an interface's IPv4 address and netmask (struct ifreq).
_SIOCGIFADDR = 0x8915
_SIOCGIFNETMASK = 0x891B
_IFREQ = struct.Struct("16s24x")  # interface name, then the union the kernel fills in
_SOCKADDR_IN_ADDR = slice(20, 24)  # the IPv4 address inside the returned ifreq


def local_networks() -> list[ipaddress.IPv4Network]:
    """Loopback and the IPv4 subnet (address and netmask) of every interface of this host.

    Read from the kernel per interface (``SIOCGIFADDR``, ``SIOCGIFNETMASK``);
    an interface without IPv4 adds nothing.
    """
    networks = [ipaddress.IPv4Network("127.0.0.0/8")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = _IFREQ.pack(name.encode()[:15])
            try:
                address = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)[_SOCKADDR_IN_ADDR]
                mask = fcntl.ioctl(probe.fileno(), _SIOCGIFNETMASK, request)[_SOCKADDR_IN_ADDR]
            except OSError:
                continue
            network = ipaddress.IPv4Network(
                f"{socket.inet_ntoa(address)}/{socket.inet_ntoa(mask)}", strict=False)
            if network not in networks:
                networks.append(network)
    return networks


class DatagramSlots:
    """Preallocated slots for one batch of datagrams, each with its length and receive times.

    `data` is (capacity, `SLOT_BYTES`); a truncated datagram's length is
    ``SLOT_BYTES + 1``. `arrived_ns` is the kernel's receive time, `read_ns`
    when the receiver took it off the socket (both CLOCK_REALTIME ns; plain
    lists, as the receiver reads them one element at a time). A datagram its
    socket's `AddressFilter` refuses takes no slot and is counted in `foreign`.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.data = np.zeros((capacity, SLOT_BYTES), np.uint8)
        self._views = [[memoryview(self.data[i])] for i in range(capacity)]
        self.lengths = np.zeros(capacity, np.int64)
        self.arrived_ns = [0] * capacity
        self.read_ns = [0] * capacity
        self.foreign = 0

    def receive(self, socks: Sequence[tuple[socket.socket, AddressFilter | None]]) -> int:
        """Drain `socks` (each with its source filter or None) in turn, non-blocking, until
        the slots are full; returns how many datagrams were kept."""
        n = 0
        unpack = _TIMESPEC.unpack
        for sock, admit in socks:
            recvmsg_into = sock.recvmsg_into
            while n < self.capacity:
                try:
                    size, ancillary, flags, sender = recvmsg_into(self._views[n],
                                                                  _ANCILLARY_BYTES)
                except BlockingIOError:
                    break
                if admit is not None and not admit(sender[0]):
                    self.foreign += 1
                    continue
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
