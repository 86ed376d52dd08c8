"""NaN-inconclusive calls over generated modules, with and without NaN canonicalization.

    python scripts/nan_inconclusive.py [--modules 200] [--seed 21] [--engines a,b,...]

Each module is `oracle.gen.generate` on random bytes (4 KiB, seeded), diffed twice with the
default plan: as today (a finding that NaN bits may explain is re-run on a rewritten module
and, if it goes away, counted as "NaN sign/payload (spec-nondeterministic)", inconclusive),
and with `--canonicalize-nans` on every engine (NaN bits compared exactly).  Prints, per
setting, the NaN-inconclusive calls, the other inconclusive calls, the findings and the calls
compared conclusively.  Exit 1 if there is a finding or a NaN-inconclusive call with the
option (issue 21's target: 0).
"""

from __future__ import annotations

import argparse
import pathlib
import random
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from oracle.diff import run_diff  # noqa: E402
from oracle.gen import generate  # noqa: E402

NAN_REASON = "NaN sign/payload"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", type=int, default=200)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--engines", default="wasmtime,winch-x64,winch-aarch64,winch-s390x")
    args = ap.parse_args(argv)
    engines = args.engines.split(",")
    rng = random.Random(args.seed)
    mods = [generate(rng.randbytes(4096)) for _ in range(args.modules)]
    totals = {}
    for canon in (False, True):
        t = {"nan_inconclusive": 0, "modules_with_nan_inconclusive": 0, "other_inconclusive": 0,
             "findings": 0, "compared_calls": 0}
        t0 = time.monotonic()
        for wasm in mods:
            r = run_diff(wasm, engines, determinism="none", canonicalize_nans=canon)
            nan = sum(n for k, n in r.inconclusive.items() if k.startswith(NAN_REASON))
            t["nan_inconclusive"] += nan
            t["modules_with_nan_inconclusive"] += bool(nan)
            t["other_inconclusive"] += sum(n for k, n in r.inconclusive.items()
                                           if not k.startswith(NAN_REASON))
            t["findings"] += len(r.findings)
            for f in r.findings:
                print(f"  finding ({'with' if canon else 'without'} the option): {f.signature}")
            t["compared_calls"] += sum(r.compared.values())
        t["seconds"] = round(time.monotonic() - t0, 1)
        totals[canon] = t
        print(f"{'with' if canon else 'without'} --canonicalize-nans: "
              + ", ".join(f"{k} {v}" for k, v in t.items()))
    bad = totals[True]["nan_inconclusive"] or totals[True]["findings"]
    print(f"{args.modules} modules (seed {args.seed}), engines {','.join(engines)}: "
          f"NaN-inconclusive calls {totals[False]['nan_inconclusive']} without the option, "
          f"{totals[True]['nan_inconclusive']} with it")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
