"""Run `oracle diff` (default plan) over every module of the spec suite; print findings.

    python scripts/diff_suite.py [--engines a,b,...] [--limit N] [--save-dir corpus/]

Modules that no engine can run (invalid, malformed, unsupported everywhere) are counted, not
compared.  Exit status 1 if any finding.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
from collections import Counter

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from oracle.crashfile import write_crash  # noqa: E402
from oracle.diff import DEFAULT_ENGINES, run_diff  # noqa: E402
from tests.suite_modules import suite_modules  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default=",".join(DEFAULT_ENGINES))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--save-dir", default=None)
    args = ap.parse_args(argv)
    engines = args.engines.split(",")
    mods = [m for m in suite_modules() if m.expect in ("valid", "unlinkable", "uninstantiable")]
    if args.limit:
        mods = mods[:args.limit]
    counts, findings = Counter(), []
    t0 = time.monotonic()
    for i, m in enumerate(mods):
        r = run_diff(m.wasm, engines)
        statuses = {run.status for run in r.runs.values()}
        counts["compared" if statuses == {"ok"} else "not all ok"] += 1
        counts.update(r.inconclusive.keys() and ["with inconclusive calls"])
        for f in r.findings:
            findings.append((m, f))
            print(f"FINDING {m}: {f.signature}\n  {f.detail.splitlines()[0] if f.detail else ''}",
                  flush=True)
            if args.save_dir:
                os.makedirs(args.save_dir, exist_ok=True)
                name = f"{os.path.basename(m.file)}-{m.line}.wasm"
                pathlib.Path(args.save_dir, name).write_bytes(
                    write_crash(m.wasm, r.plan, f.signature, engines=engines))
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{len(mods)} modules, {time.monotonic() - t0:.0f}s", file=sys.stderr,
                  flush=True)
    print(f"{len(mods)} modules in {time.monotonic() - t0:.0f}s: {dict(counts)}; "
          f"{len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
