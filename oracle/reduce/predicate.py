"""What makes a candidate "interesting" while reducing.

`SignaturePredicate`: the oracle still reports the same finding (`oracle.compare.same_finding`:
same kind, engines, export and thing that differs; the call's position in the plan and the
name of a differing global may change as calls and globals are removed).  It runs in this
process; its time bound (`deadline`) is checked before every compile, instantiation and call.
`IsolatedPredicate`: the same in a worker process (`oracle.reduce.worker`) that is killed at the
deadline, so that one long predicate call cannot overrun the bound (`oracle reduce` uses it).
`CommandPredicate`: a user command run on the candidate file, exit 0 = interesting (the
`wasm-reduce` / `wasm-tools shrink` convention), killed at the deadline.

Each records in `last` what its last run saw (`RunInfo`: the calls that showed the finding,
the calls that ran out of budget), which the reducer uses to drop calls first.  All are
wrapped by `Cached`, which never runs the same (module, plan) twice and counts calls.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import select
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from oracle.plan import Plan

_WHERE_CALL = re.compile(r"(.*)#(\d+)(?::.*)?", re.S)


class OutOfTime(BaseException):
    """The reduction's time bound was reached inside a predicate call.  A BaseException, so
    that no `except Exception` of the oracle (which turns engine errors into findings) stops
    it on its way out."""


def signature_call(signature: str):
    """(export, call index) a call finding's exact signature names, or None."""
    parts = signature.split("|")
    m = _WHERE_CALL.fullmatch("|".join(parts[3:])) if len(parts) >= 4 else None
    return (m.group(1), int(m.group(2))) if m else None


@dataclass(frozen=True)
class RunInfo:
    finding_calls: tuple = ()  # indices of the calls at which the finding showed
    out_of_budget: tuple = ()  # indices of calls some engine did not finish (fuel, time)


def run_info(result, matches) -> RunInfo:
    """What a `DiffResult` says about its plan's calls; `matches(finding)` picks the finding."""
    hits = set()
    for f in result.findings:
        if matches(f):
            m = _WHERE_CALL.fullmatch(f.where)
            if m:
                hits.add(int(m.group(2)))
    from oracle.outcomes import Exhausted

    slow = set()
    for run in result.runs.values():
        for i, out in enumerate(run.outcomes):
            if isinstance(out, (str, Exhausted)):
                slow.add(i)
    return RunInfo(tuple(sorted(hits)), tuple(sorted(slow)))


class _Bounded:
    """An engine whose sessions raise OutOfTime past `clock.deadline` before each compile,
    instantiation and call (so a diff stops within one call's work bound of the deadline)."""

    def __init__(self, engine, clock):
        self.engine, self.clock, self.name = engine, clock, engine.name

    def session(self):
        return _BoundedSession(self.engine.session(), self.clock)


class _BoundedSession:
    def __init__(self, inner, clock):
        self._inner, self._clock = inner, clock

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _check(self):
        d = self._clock.deadline
        if d is not None and time.monotonic() > d:
            raise OutOfTime

    def compile(self, wasm):
        self._check()
        return self._inner.compile(wasm)

    def instantiate(self, compiled):
        self._check()
        return self._inner.instantiate(compiled)

    def invoke(self, instance, export, args):
        self._check()
        return self._inner.invoke(instance, export, args)


def _engines(names, clock, canonicalize_nans: bool = False, limits=(None, None)) -> list:
    """`oracle diff`'s engines (built once per process), bounded by `clock.deadline`;
    `limits`: (fuel, epoch deadline), as `run_diff` takes them."""
    from oracle.diff import _engine

    if limits == (None, None):  # (the call tests replace `_engine` with)
        return [_Bounded(_engine(n, canonicalize_nans), clock) for n in names]
    return [_Bounded(_engine(n, canonicalize_nans, limits), clock) for n in names]


def out_of_budget_calls(wasm: bytes, plan: Plan, deadline: float | None = None) -> tuple:
    """Indices of the calls of `plan` that run out of their work bound on the reference
    engine (wasmtime: fuel runs out in a fraction of a second, where our emulated engines
    take seconds).  Raises OutOfTime past `deadline`."""
    from oracle.diff import run_diff

    clock = _Clock(deadline)
    r = run_diff(wasm, _engines(["wasmtime"], clock), plan, determinism="none")
    return run_info(r, lambda f: False).out_of_budget


@dataclass
class _Clock:
    deadline: float | None = None


class SignaturePredicate:
    # finding kinds for which a candidate our validator rejects cannot be interesting
    _NEEDS_VALID = ("wrong value", "wrong trap", "missing trap", "spurious trap",
                    "sandbox violation", "host crash", "nondeterministic compile")

    def __init__(self, signature: str, engines=None, identity=None,
                 canonicalize_nans: bool = False, fuel: int | None = None,
                 epoch_deadline: int | None = None):
        """`identity`: the finding's `oracle.compare.Identity` (or its string); derived from
        the exact `signature` if not given.  `engines`: those to run (default: the finding's
        two).  `canonicalize_nans`: the finding was made with NaN canonicalization (its crash
        file says so): the engines compile with it and NaN bits compare exactly.  `fuel`,
        `epoch_deadline`: the finding was made with wasmtime's fuel / epoch interruption (its
        crash file says so): every candidate runs with them (`run_diff`'s keywords)."""
        from oracle.compare import Identity

        self.signature = signature
        self.canonicalize_nans = canonicalize_nans
        self.fuel, self.epoch_deadline = fuel, epoch_deadline
        if identity is None:
            identity = Identity.from_signature(signature)
        elif isinstance(identity, str):
            identity = Identity.parse(identity)
        self.identity = identity
        self.kind = identity.kind
        self.engines = list(engines) if engines else list(identity.engines)
        self.deadline = None
        self.last = RunInfo()

    @classmethod
    def for_finding(cls, finding, engines=None, **options):
        """`options`: `canonicalize_nans`, `fuel`, `epoch_deadline` (the finding's)."""
        return cls(finding.signature, engines, finding.identity, **options)

    def matches(self, finding) -> bool:
        from oracle.compare import same_finding

        return same_finding(self.identity, finding)

    def finding_call(self, plan: Plan):
        """The index of the call of `plan` the exact signature names, if it is still there."""
        hit = signature_call(self.signature)
        if hit is None:
            return None
        export, i = hit
        return i if i < len(plan.calls) and plan.calls[i].export == export else None

    def out_of_budget(self, wasm: bytes, plan: Plan) -> tuple:
        return out_of_budget_calls(wasm, plan, self.deadline)

    def __call__(self, wasm: bytes, plan: Plan) -> bool:
        from oracle.diff import run_diff
        from winch.errors import WinchError
        from winch.wasm import validate

        self.last = RunInfo()
        if self.kind in self._NEEDS_VALID:
            try:
                validate(wasm)
            except WinchError:
                return False
            except Exception:  # noqa: BLE001 - a validator crash: let the oracle judge
                pass
        determinism = "all" if self.kind == "nondeterministic compile" else "none"
        limits = (self.fuel, self.epoch_deadline)
        extra = {k: v for k, v in zip(("fuel", "epoch_deadline"), limits) if v is not None}
        r = run_diff(wasm, _engines(self.engines, self, self.canonicalize_nans, limits), plan,
                     determinism=determinism, canonicalize_nans=self.canonicalize_nans,
                     **extra)
        self.last = run_info(r, self.matches)
        return any(self.matches(f) for f in r.findings)


def _send(f, obj) -> None:
    data = pickle.dumps(obj)
    f.write(struct.pack("<I", len(data)) + data)
    f.flush()


def _recv(f):
    """The next message from a blocking stream, or None at its end."""
    head = f.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack("<I", head)
    data = f.read(n)
    return pickle.loads(data) if len(data) == n else None


class IsolatedPredicate:
    """A `SignaturePredicate` run by a worker process (started on first use, kept for the
    next candidates): the reducer waits for its answer until the deadline and kills it then.
    A worker that dies on a candidate (the engines crashed the process) makes that candidate
    uninteresting; the next one gets a new worker.  `mutant`: a deliberate bug of
    `oracle.mutants` to plant in the worker.  Call `close()` when done."""

    def __init__(self, signature: str, engines=None, identity=None, mutant=None,
                 canonicalize_nans: bool = False, fuel: int | None = None,
                 epoch_deadline: int | None = None):
        self.inner = SignaturePredicate(signature, engines, identity, canonicalize_nans,
                                        fuel, epoch_deadline)  # for its helpers
        self.config = {"signature": signature, "engines": self.inner.engines,
                       "identity": str(self.inner.identity), "mutant": mutant,
                       "canonicalize_nans": canonicalize_nans, "fuel": fuel,
                       "epoch_deadline": epoch_deadline}
        self.signature = signature
        self.deadline = None
        self.last = RunInfo()
        self.worker_deaths = 0
        self.answers = 0
        self._proc = None

    def finding_call(self, plan: Plan):
        return self.inner.finding_call(plan)

    def out_of_budget(self, wasm: bytes, plan: Plan) -> tuple:
        return out_of_budget_calls(wasm, plan, self.deadline)

    def _start(self):
        import oracle

        root = os.path.dirname(os.path.dirname(os.path.abspath(oracle.__file__)))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
        self._proc = subprocess.Popen([sys.executable, "-m", "oracle.reduce.worker"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, env=env, bufsize=0)
        _send(self._proc.stdin, self.config)

    def close(self) -> None:
        p, self._proc = self._proc, None
        if p is not None:
            p.kill()
            p.wait()
            for f in (p.stdin, p.stdout):
                f.close()

    def __call__(self, wasm: bytes, plan: Plan) -> bool:
        self.last = RunInfo()
        try:
            if self._proc is None:
                self._start()
            _send(self._proc.stdin, (bytes(wasm), plan.to_json()))
            answer = self._answer()
        except (BrokenPipeError, EOFError):
            answer = None
        if answer is None:  # the worker died on this candidate
            self.worker_deaths += 1
            self.close()
            if not self.answers and self.worker_deaths >= 2:
                raise RuntimeError("the reducer's worker process (python -m oracle.reduce."
                                   "worker) died twice before its first answer")
            return False
        self.answers += 1
        ok, self.last = answer
        return ok

    def _answer(self):
        fd = self._proc.stdout.fileno()
        buf, need = b"", 4
        while len(buf) < need:
            wait = None if self.deadline is None else self.deadline - time.monotonic()
            if wait is not None and wait <= 0 or not select.select([fd], [], [], wait)[0]:
                self.close()
                raise OutOfTime
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            buf += chunk
            if need == 4 and len(buf) >= 4:
                need = 4 + struct.unpack("<I", buf[:4])[0]
        return pickle.loads(buf[4:need])


class BadCommand(ValueError):
    """`--command` names nothing that can run."""


class CommandPredicate:
    """`command` gets the candidate's path appended (or substituted for `{}`)."""

    def __init__(self, command: str, timeout: float = 60.0):
        try:
            self.argv = shlex.split(command)
        except ValueError as e:
            raise BadCommand(f"cannot parse {command!r}: {e}") from None
        if not self.argv:
            raise BadCommand("empty command")
        if shutil.which(self.argv[0]) is None:
            why = "not executable" if os.path.exists(self.argv[0]) else "no such command"
            raise BadCommand(f"{self.argv[0]}: {why}")
        self.timeout = timeout
        self.deadline = None
        self.last = RunInfo()

    def out_of_budget(self, wasm: bytes, plan: Plan) -> tuple:
        return out_of_budget_calls(wasm, plan, self.deadline)

    def __call__(self, wasm: bytes, plan: Plan) -> bool:
        from oracle.crashfile import write_crash

        timeout = self.timeout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
            if timeout <= 0:
                raise OutOfTime
        fd, path = tempfile.mkstemp(suffix=".wasm", prefix="reduce-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(write_crash(wasm, plan, ""))
            argv = [a.replace("{}", path) for a in self.argv]
            if not any("{}" in a for a in self.argv):
                argv.append(path)
            try:
                r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=timeout)
            except subprocess.TimeoutExpired:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    raise OutOfTime from None
                return False
            except OSError:
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
