"""The crash-file store: where findings are written, once per signature, atomically.

A finding is written the moment it is found, atomically (a temporary file renamed into
place), into `$ORACLE_FINDINGS_DIR` (default `./findings`), one file per signature:

    <dir>/<sha1(signature)[:16]>.wasm   the module (a crash file: `oracle.plan` section with
                                        the plan and the signature), or .bin for raw inputs
    <dir>/<sha1(signature)[:16]>.json   signature, target, kind, detail, first-seen time
    <dir>/hits.log                      one line per hit (signature hash, time), appended

A second hit of a known signature only appends to `hits.log`, so a bug hit a thousand times
is one finding.  With `ORACLE_FUZZ_KEEP_GOING=1` (what campaigns set) a fuzz target records
and continues; otherwise `record` raises `FindingError` after recording, which libFuzzer
reports as a crash (what OSS-Fuzz and ClusterFuzzLite expect).

The fuzz targets (`fuzz_targets`) write through this module; the campaign runner, its report
and the reducer read and write the same files, so the store belongs to `oracle`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time

__all__ = ["FindingError", "atomic_write", "findings_dir", "keep_going", "record",
           "signature_hash"]


class FindingError(Exception):
    """Raised after a finding is recorded, unless ORACLE_FUZZ_KEEP_GOING is set."""


def findings_dir() -> str:
    return os.environ.get("ORACLE_FINDINGS_DIR", "findings")


def keep_going() -> bool:
    return os.environ.get("ORACLE_FUZZ_KEEP_GOING", "") not in ("", "0")


def signature_hash(signature: str) -> str:
    return hashlib.sha1(signature.encode()).hexdigest()[:16]


def atomic_write(path: str, data: bytes) -> None:
    d = os.path.dirname(path) or "."
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def record(target: str, kind: str, signature: str, payload: bytes, *, suffix: str = ".wasm",
           detail: str = "", directory: str | None = None, raise_error: bool | None = None
           ) -> bool:
    """Record a finding in `directory` (default `findings_dir()`); True if its signature is
    new.  Raises FindingError afterwards unless keep-going (or `raise_error` is False)."""
    d = directory or findings_dir()
    h = signature_hash(signature)
    path = os.path.join(d, h + suffix)
    new = not os.path.exists(path)
    now = time.time()
    if new:
        atomic_write(path, payload)
        meta = {"signature": signature, "target": target, "kind": kind, "file": h + suffix,
                "first_seen": now, "detail": detail[:4000]}
        atomic_write(os.path.join(d, h + ".json"), json.dumps(meta, indent=1).encode())
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "hits.log"), "a") as f:
        f.write(f"{h} {now:.3f} {target}\n")
    if (not keep_going()) if raise_error is None else raise_error:
        raise FindingError(f"{signature}\n{detail[:2000]}\nsaved as {path}")
    return new
