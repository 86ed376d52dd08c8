"""Fetch real-world Wasm modules for benchmarks from the npm registry (`npm pack`), cached.

    python scripts/fetch_module.py            # prints the path of sql.js's dist/sql-wasm.wasm
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile

CACHE = pathlib.Path(__file__).resolve().parent.parent / ".cache" / "modules"
KNOWN = {"sql-wasm.wasm": ("sql.js", "package/dist/sql-wasm.wasm")}


def fetch(name: str = "sql-wasm.wasm") -> pathlib.Path:
    """The cached path of module `name`, downloading its npm package on first use."""
    package, member = KNOWN[name]
    target = CACHE / name
    if target.exists():
        return target
    if shutil.which("npm") is None:
        raise SystemExit(f"fetch_module: npm is needed to fetch {package} (apt-get install npm)")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["npm", "pack", package, "--silent"], cwd=tmp, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()[-1]
        with tarfile.open(pathlib.Path(tmp) / out) as tar:
            data = tar.extractfile(member).read()
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


if __name__ == "__main__":
    print(fetch(sys.argv[1] if len(sys.argv) > 1 else "sql-wasm.wasm"))
