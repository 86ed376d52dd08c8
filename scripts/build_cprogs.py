"""Build the C test programs: tests/cprogs/NAME.c -> tests/cprogs/build/NAME-O{0,2,s}.wasm.

    python scripts/build_cprogs.py [--clang clang-16]

Needs Debian's `clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32` (apt-get install -y
...). The output directory is git-ignored; tests/test_wasi.py skips the C programs when it
is missing.  A program is rebuilt only when its source is newer than its module.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys

SRC = pathlib.Path(__file__).resolve().parent.parent / "tests" / "cprogs"
OUT = SRC / "build"
LEVELS = ("O0", "O2", "Os")
APT = "clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32"


def find_clang(name: str | None = None) -> str | None:
    for cand in ([name] if name else ["clang-16", "clang"]):
        path = shutil.which(cand)
        if path:
            return path
    return None


def toolchain_missing(clang: str | None) -> str | None:
    """Why `clang` cannot build a wasm32-wasi program (no clang-16, no wasi-libc, no
    compiler-rt for wasm32), or None when it can: a one-line probe build."""
    if clang is None:
        return "no clang-16"
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        src = pathlib.Path(d, "probe.c")
        src.write_text("#include <stdio.h>\nint main(void) { puts(\"ok\"); return 0; }\n")
        r = subprocess.run([clang, "--target=wasm32-wasi", "-O2", "-o", str(src) + ".wasm",
                            str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        first = (r.stderr.strip().splitlines() or ["failed"])[0]
        return f"{clang} cannot build for wasm32-wasi (wasi-libc or " \
               f"libclang-rt-16-dev-wasm32 missing?): {first}"
    return None


def outputs() -> list:
    """[(program name, level, module path)] for every source and level."""
    return [(src.stem, lvl, OUT / f"{src.stem}-{lvl}.wasm")
            for src in sorted(SRC.glob("*.c")) for lvl in LEVELS]


def build(clang: str) -> int:
    OUT.mkdir(exist_ok=True)
    failed = 0
    for name, lvl, out in outputs():
        src = SRC / f"{name}.c"
        if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
            continue
        cmd = [clang, "--target=wasm32-wasi", f"-{lvl}", "-Wall", "-o", str(out), str(src),
               "-lm"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            failed += 1
            print(f"{src}: {' '.join(cmd)} failed:\n{r.stderr}", file=sys.stderr)
        else:
            print(f"built {out.relative_to(SRC.parent.parent)}")
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clang", default=None, help="the clang to use (default: clang-16)")
    args = ap.parse_args(argv)
    clang = find_clang(args.clang)
    if clang is None:
        print(f"build_cprogs: no clang-16; apt-get install -y {APT}", file=sys.stderr)
        return 2
    return build(clang)


if __name__ == "__main__":
    sys.exit(main())
