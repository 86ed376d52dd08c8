"""What makes a candidate "interesting" while reducing.

`SignaturePredicate`: the oracle still reports the same finding (same kind, engines, ISA and
export; the call's position in the plan may change as calls are removed).
`CommandPredicate`: a user command run on the candidate file, exit 0 = interesting (the
`wasm-reduce` / `wasm-tools shrink` convention).

Both are wrapped by `Cached`, which never runs the same (module, plan) twice and counts calls.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import tempfile

from oracle.plan import Plan

_CALL_INDEX = re.compile(r"#\d+")


def loose_signature(signature: str) -> str:
    """A signature without the call's position in the plan."""
    return _CALL_INDEX.sub("", signature)


class SignaturePredicate:
    # finding kinds for which a candidate our validator rejects cannot be interesting
    _NEEDS_VALID = ("wrong value", "wrong trap", "missing trap", "spurious trap",
                    "sandbox violation", "host crash", "nondeterministic compile")

    def __init__(self, signature: str, engines=None):
        self.signature = signature
        self.target = loose_signature(signature)
        parts = signature.split("|")
        self.kind = parts[0]
        if engines is None:
            engines = parts[1].split("~") if len(parts) > 1 and "~" in parts[1] else None
        self.engines = engines

    def __call__(self, wasm: bytes, plan: Plan) -> bool:
        from oracle.diff import DEFAULT_ENGINES, run_diff
        from winch.errors import WinchError
        from winch.wasm import validate

        if self.kind in self._NEEDS_VALID:
            try:
                validate(wasm)
            except WinchError:
                return False
            except Exception:  # noqa: BLE001 - a validator crash: let the oracle judge
                pass
        determinism = "all" if self.kind == "nondeterministic compile" else "none"
        r = run_diff(wasm, self.engines or DEFAULT_ENGINES, plan, determinism=determinism)
        return any(loose_signature(f.signature) == self.target for f in r.findings)


class CommandPredicate:
    """`command` gets the candidate's path appended (or substituted for `{}`)."""

    def __init__(self, command: str, timeout: float = 60.0):
        self.argv = shlex.split(command)
        self.timeout = timeout

    def __call__(self, wasm: bytes, plan: Plan) -> bool:
        from oracle.crashfile import write_crash

        fd, path = tempfile.mkstemp(suffix=".wasm", prefix="reduce-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(write_crash(wasm, plan, ""))
            argv = [a.replace("{}", path) for a in self.argv]
            if not any("{}" in a for a in self.argv):
                argv.append(path)
            try:
                r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=self.timeout)
            except subprocess.TimeoutExpired:
                return False
            return r.returncode == 0
        finally:
            os.unlink(path)


class Cached:
    def __init__(self, predicate):
        self.predicate = predicate
        self.cache: dict = {}
        self.calls = 0  # predicate runs (cache misses)

    def __call__(self, wasm: bytes, plan: Plan) -> bool:
        key = hashlib.sha1(wasm + b"\0" + plan.to_json().encode()).digest()
        hit = self.cache.get(key)
        if hit is None:
            self.calls += 1
            hit = self.cache[key] = bool(self.predicate(wasm, plan))
        return hit
