"""An engine's epoch counter, as wasmtime's `Engine::increment_epoch`: shared by every store.

Problem: compiled code (`compile_module(..., epoch=True)`) compares the engine's epoch with its
store's deadline at function entry and loop headers; the host increments the epoch, possibly
from another thread (a wall-clock ticker) while a store's Unicorn is running code, and every
store of the engine must see the new value at its next check, on every ISA.

Algorithm: the counter lives in one page of host memory (an anonymous mmap) that each store
maps into its emulated address space with Unicorn's `mem_map_ptr` (read-only, at
`EPOCH_ADDR`).  Emulated loads read that host memory directly, so an increment is seen at the
next check without stopping the emulator or any Unicorn call from the ticker's thread.  The
page holds the value twice: little-endian at offset 0 and big-endian at offset 8; a store
points its instances at the copy in its ISA's byte order.

Invariants: the value only grows (`increment`); each copy is written with one aligned 8-byte
store, so a check never reads a torn value.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
import threading

PAGE = 0x1000
EPOCH_ADDR = 0x3000_2000  # where stores map the page (winch/host/store.py's address space)


class Epoch:
    """An engine-wide epoch counter (module docstring)."""

    def __init__(self) -> None:
        self.page = mmap.mmap(-1, PAGE)
        self._le = ctypes.c_uint64.from_buffer(self.page, 0)
        self._be = ctypes.c_uint64.from_buffer(self.page, 8)
        self.host_address = ctypes.addressof(self._le)
        self._value = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value

    def increment(self, n: int = 1) -> int:
        """Advance the epoch by n (from any thread); returns the new value."""
        with self._lock:
            v = (self._value + n) & 0xFFFF_FFFF_FFFF_FFFF
            self._value = v
            self._le.value = int.from_bytes(v.to_bytes(8, "little"), sys.byteorder)
            self._be.value = int.from_bytes(v.to_bytes(8, "big"), sys.byteorder)
            return v

    def cell(self, byteorder: str) -> int:
        """The emulated address of the copy in `byteorder` ("little" or "big")."""
        return EPOCH_ADDR + (0 if byteorder == "little" else 8)


DEFAULT = Epoch()  # the engine of stores made without one


class Ticker:
    """A thread incrementing `epoch` every `interval` seconds until `stop()` (a context
    manager): wasmtime's usual way to bound a call's wall-clock time."""

    def __init__(self, epoch: Epoch, interval: float) -> None:
        self.epoch = epoch
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.ticks: list = []  # time.monotonic() of each increment

    def _run(self) -> None:
        import time

        while not self._stop.wait(self.interval):
            self.epoch.increment()
            self.ticks.append(time.monotonic())

    def start(self) -> "Ticker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> "Ticker":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
