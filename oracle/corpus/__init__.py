"""The seed corpus: small hand-written modules, one per operator family (see README.md
here), that seed the fuzz targets, the campaign and the ClusterFuzzLite seed corpora.

Each `NAME.wasm` is built from `src/NAME.wat` by `python scripts/build_corpus.py`.  The
binaries are package data: an installed `oracle` finds them with `importlib.resources`,
with no checkout beside it.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["seeds"]


def seeds() -> list[tuple[str, bytes]]:
    """Every seed module as (file name, bytes), sorted by name; empty if the package was
    bundled without its data (a frozen fuzz target: callers have a fallback)."""
    try:
        return sorted((p.name, p.read_bytes()) for p in resources.files(__name__).iterdir()
                      if p.name.endswith(".wasm") and p.is_file())
    except OSError:
        return []
