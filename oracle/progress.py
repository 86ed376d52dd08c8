"""A progress line on stderr for long commands (`oracle reduce`), terminal or not.

    with Heartbeat("reduce") as hb:   # hb(status) sets what the line says
        ...

A thread writes `[LABEL m:ss] STATUS` every `every` seconds (the first after `every`
seconds: a command done sooner prints nothing), also while the caller is stuck in one long
step, so a log or CI sees the command move.  On a terminal the line is redrawn in place, and
the status is shown at once when it changes (at most 10 times a second); otherwise each is a
whole line.
"""

from __future__ import annotations

import sys
import threading
import time


class Heartbeat:
    def __init__(self, label: str, every: float = 5.0, stream=None):
        self.label, self.every = label, every
        self.stream = stream if stream is not None else sys.stderr
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.status = "starting"
        self.t0 = time.monotonic()
        self.printed = False
        self._last_draw = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def __call__(self, status: str) -> None:
        self.status = status.strip()
        if self.tty and time.monotonic() - self._last_draw >= 0.1:
            self._write()

    def _write(self) -> None:
        with self._lock:
            now = time.monotonic()
            s = int(now - self.t0)
            line = f"[{self.label} {s // 60}:{s % 60:02d}] {self.status}"
            try:
                self.stream.write(f"\r{line}\033[K" if self.tty else line + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed or broken stderr: go quiet
                self._stop.set()
                return
            self._last_draw, self.printed = now, True

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            self._write()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        if self.tty and self.printed:
            with self._lock:
                self.stream.write("\n")
                self.stream.flush()

    def __enter__(self) -> "Heartbeat":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
