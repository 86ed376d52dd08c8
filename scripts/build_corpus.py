"""Rebuild the seed corpus: oracle/corpus/src/NAME.wat -> oracle/corpus/NAME.wasm.

    python scripts/build_corpus.py [--check]

`--check` only verifies that every .wasm is up to date with its source (exit 1 if not).
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import wasmtime

ROOT = pathlib.Path(__file__).resolve().parent.parent / "oracle" / "corpus"


def build(check: bool) -> int:
    stale = 0
    for src in sorted((ROOT / "src").glob("*.wat")):
        wasm = bytes(wasmtime.wat2wasm(src.read_text()))
        out = ROOT / (src.stem + ".wasm")
        if out.exists() and out.read_bytes() == wasm:
            continue
        stale += 1
        if check:
            print(f"{out} is out of date with {src}")
        else:
            out.write_bytes(wasm)
            print(f"wrote {out} ({len(wasm)} bytes)")
    return 1 if check and stale else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    sys.exit(build(ap.parse_args().check))
