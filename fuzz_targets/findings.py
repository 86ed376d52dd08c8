"""Where the fuzz targets put what they find: the crash-file store of `oracle.findings_store`
(one file per signature, written atomically; see there), re-exported for the targets, and
the counters a target reports while it runs.
"""

from __future__ import annotations

import json
import os
import time

from oracle.findings_store import (  # noqa: F401 (re-exported for the targets)
    FindingError, atomic_write, findings_dir, keep_going, record, signature_hash)


def report_stats_at_exit(stats: dict, every: float = 10.0) -> None:
    """Print the target's counters as a JSON line on stderr every `every` seconds (libFuzzer
    ends the process with C `exit()`, so Python's atexit would not run), and keep
    `$ORACLE_STATS_FILE` (if set) updated every 2 s for a campaign's report."""
    import sys
    import threading

    started = time.time()
    path = os.environ.get("ORACLE_STATS_FILE")

    def loop():
        last_print = started
        while True:
            time.sleep(2.0)
            line = json.dumps({**stats, "seconds": round(time.time() - started, 1)})
            if path:
                try:
                    atomic_write(path, line.encode())
                except OSError:
                    pass
            if time.time() - last_print >= every:
                last_print = time.time()
                print("fuzz-stats: " + line, file=sys.stderr, flush=True)

    threading.Thread(target=loop, daemon=True).start()
