"""`oracle diff --wasi`: run a WASI command on several engines and compare what it did.

Problem: a program built for `wasm32-wasi` is one call, `_start`, whose effects are not
results but an exit code, its standard output and error, and the files it leaves in its
preopened directories.  `oracle diff`'s plan of calls and exported state sees none of that.

Algorithm: for each engine, every `--dir HOST[::GUEST]` template is copied into a fresh
temporary directory (symlinks kept as links) preopened as GUEST; the engine compiles the
module, instantiates it with its WASI (wasmtime and wasmtime-winch: wasmtime-py's own; ours:
`winch.host.wasi`) plus sightglass's no-op `bench.start`/`bench.end`, and runs `_start` with
the same arguments, environment and stdin.  Afterwards the exit code (or trap), stdout,
stderr and every copied tree (names, file bytes, directories, link targets) are compared
with the reference (the first engine); each aspect that differs is its own finding:
"wrong exit code", "missing trap" / "spurious trap" / "wrong trap", "wrong stdout",
"wrong stderr", "wrong files" (identity `kind|ref~other|_start|result`).

Determinism: our engines get a fixed clock (realtime from 2023-11-14, monotonic from 1 s,
both advancing 1 us per read) and seeded random bytes, and count those reads; wasmtime-py
has no hook for either.  So when any of our runs read a clock or random bytes, differences
between a run and the reference are inconclusive, and our runs are compared with the first
of ours instead (same sources: exact).

Invariants: the host directories given are never written (only copies are); every copy is
removed afterwards; exhaustion (the `timeout`, as fuel on wasmtime and as emulated time on
ours) and call-stack exhaustion are inconclusive, never findings; a module without an
exported `_start` function is bad input.
"""

from __future__ import annotations

import base64
import io
import os
import random as _random
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field

from oracle.compare import Finding, isa_of
from oracle.diff import Verdicts, compile_in
from oracle.engines.base import InstantiationTrapped, LinkError, Rejected, ResourceLimited
from oracle.outcomes import Exhausted, Trap, TrapKind

DEFAULT_TIMEOUT = 300.0  # seconds of work per engine run (wasmtime: as fuel)
EMBED_LIMIT = 4 << 20  # crash files embed directory templates up to this many bytes
REALTIME_START = 1_700_000_000_000_000_000
MONOTONIC_START = 1_000_000_000
TICK_NS = 1_000
RANDOM_SEED = 22
FINDING_KINDS = ("wrong exit code", "missing trap", "spurious trap", "wrong trap",
                 "wrong stdout", "wrong stderr", "wrong files")


@dataclass
class WasiSpec:
    """What the program sees: argv (args[0] is its name), environment pairs, directory
    templates [(host path, guest name)] and stdin.  `embedded`: guest name -> tree
    (`tree_to_json`) for templates a crash file carries itself."""

    args: list
    env: list = field(default_factory=list)
    dirs: list = field(default_factory=list)
    stdin: bytes = b""

    def to_json(self, embed: bool = True) -> dict:
        dirs = []
        for host, guest in self.dirs:
            d = {"host": os.path.abspath(host), "guest": guest}
            if embed:
                tree = snapshot(host)
                if sum(len(v) for v in tree.values() if isinstance(v, bytes)) <= EMBED_LIMIT:
                    d["tree"] = tree_to_json(tree)
            dirs.append(d)
        return {"args": list(self.args), "env": [list(kv) for kv in self.env], "dirs": dirs,
                "stdin": base64.b64encode(self.stdin).decode()}

    @classmethod
    def from_json(cls, obj: dict, workdir: str) -> "WasiSpec":
        """A crash file's spec: embedded trees are written below `workdir` and used as the
        templates; others name their host directory."""
        dirs = []
        for i, d in enumerate(obj.get("dirs", [])):
            host = d["host"]
            if "tree" in d:
                host = os.path.join(workdir, f"template{i}")
                os.mkdir(host)
                write_tree(host, tree_from_json(d["tree"]))
            dirs.append((host, d["guest"]))
        return cls([str(a) for a in obj["args"]], [(str(k), str(v)) for k, v in obj["env"]],
                   dirs, base64.b64decode(obj.get("stdin", "")))


# -- directory trees ---------------------------------------------------------------------------
def snapshot(root: str) -> dict:
    """{relative path: file bytes | "dir" | ("link", target)} below `root`."""
    out = {}
    for base, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            p = os.path.join(base, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = "dir"
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    out[rel] = f.read()
            else:
                out[rel] = "special"
    return out


def tree_to_json(tree: dict) -> dict:
    return {k: (["file", base64.b64encode(v).decode()] if isinstance(v, bytes) else
                ["link", v[1]] if isinstance(v, tuple) else [v]) for k, v in tree.items()}


def tree_from_json(obj: dict) -> dict:
    return {k: (base64.b64decode(v[1]) if v[0] == "file" else ("link", v[1]) if
                v[0] == "link" else v[0]) for k, v in obj.items()}


def write_tree(root: str, tree: dict) -> None:
    for rel in sorted(tree, key=lambda r: r.count(os.sep)):
        v, p = tree[rel], os.path.join(root, rel)
        if v == "dir":
            os.makedirs(p, exist_ok=True)
        elif isinstance(v, tuple):
            os.symlink(v[1], p)
        elif isinstance(v, bytes):
            with open(p, "wb") as f:
                f.write(v)


def tree_difference(a: dict, b: dict) -> str:
    """One line naming the first path whose presence, kind or bytes differ."""
    for rel in sorted(set(a) | set(b)):
        va, vb = a.get(rel), b.get(rel)
        if va == vb:
            continue
        if va is None or vb is None:
            return f"{rel}: only in {'the reference' if vb is None else 'the other'}"
        if isinstance(va, bytes) and isinstance(vb, bytes):
            at = next((i for i, (x, y) in enumerate(zip(va, vb)) if x != y),
                      min(len(va), len(vb)))
            return f"{rel}: {len(va)} vs {len(vb)} bytes, first difference at {at}"
        return f"{rel}: {_short(va)} vs {_short(vb)}"
    return ""


def _short(v) -> str:
    return f"{len(v)} bytes" if isinstance(v, bytes) else str(v)


# -- one engine's run --------------------------------------------------------------------------
@dataclass
class WasiRun:
    name: str
    status: str = "ok"  # ok | rejected | unsupported | crashed | link error | resource limit
    #                     | trapped at start | host crashed | unavailable | exhausted
    detail: str = ""
    exit: int | None = None  # the exit code, or None after a trap
    trap: Trap | None = None
    host_trap: bool = False  # the trap was raised by the WASI host (a bad pointer...)
    stdout: bytes = b""
    stderr: bytes = b""
    trees: dict = field(default_factory=dict)  # guest name -> snapshot
    nondeterministic: int = 0  # clock and random reads (ours; wasmtime's are unknown)
    seconds: float = 0.0

    def outcome(self) -> str:
        if self.status != "ok":
            return f"{self.status}" + (f": {self.detail.splitlines()[0]}" if self.detail else "")
        if self.trap is not None:
            return f"trap {self.trap.kind.value}" + (" (host)" if self.host_trap else "")
        return f"exit {self.exit}"


class _Dirs:
    """Fresh copies of the spec's templates for one run; removed by `close`."""

    def __init__(self, spec: WasiSpec):
        self.parent = tempfile.mkdtemp(prefix="oracle-wasi-")
        self.preopens = []
        try:
            for i, (host, guest) in enumerate(spec.dirs):
                copy = os.path.join(self.parent, f"d{i}")
                shutil.copytree(host, copy, symlinks=True)
                self.preopens.append((copy, guest))
        except BaseException:
            self.close()
            raise

    def trees(self) -> dict:
        return {guest: snapshot(copy) for copy, guest in self.preopens}

    def close(self) -> None:
        shutil.rmtree(self.parent, ignore_errors=True)


class WasmtimeWasi:
    """wasmtime (or wasmtime-winch) with wasmtime-py's WASI."""

    def __init__(self, name: str = "wasmtime"):
        self.name = name

    def run(self, data: bytes, spec: WasiSpec, timeout: float,
            canonicalize_nans: bool = False) -> WasiRun:
        import wasmtime

        from oracle.engines import get_engine
        from oracle.engines.wasmtime_engine import _trap_outcome

        run = WasiRun(self.name)
        session = get_engine(self.name, timeout, canonicalize_nans=canonicalize_nans).session()
        dirs = _Dirs(spec)
        io_dir = tempfile.mkdtemp(prefix="oracle-wasi-io-")
        t0 = time.perf_counter()
        try:
            cfg = wasmtime.WasiConfig()
            cfg.argv = list(spec.args)
            cfg.env = [list(kv) for kv in spec.env]
            for copy, guest in dirs.preopens:
                cfg.preopen_dir(copy, guest)
            paths = {k: os.path.join(io_dir, k) for k in ("stdin", "stdout", "stderr")}
            with open(paths["stdin"], "wb") as f:
                f.write(spec.stdin)
            cfg.stdin_file, cfg.stdout_file, cfg.stderr_file = \
                paths["stdin"], paths["stdout"], paths["stderr"]
            session.store.set_wasi(cfg)
            session.linker.define_wasi()
            for n in ("start", "end"):
                session.linker.define_func("bench", n, wasmtime.FuncType([], []), lambda: None)
            try:
                compiled = session.compile(data)
            except Rejected as e:
                run.status = "unsupported" if e.kind == "unsupported" else "rejected"
                run.detail = e.feature or e.message
                return run
            linker = session.linker = _ExitAtStart(session.linker)
            try:
                inst = session.instantiate(compiled)
            except InstantiationTrapped as t:
                run.status, run.detail = "trapped at start", str(t.outcome)
                return run
            except ResourceLimited as e:
                run.status, run.detail = "resource limit", str(e)
                return run
            except LinkError as e:
                run.status, run.detail = "link error", str(e)
                return run
            try:
                if linker.exit is not None:  # proc_exit in the start function
                    run.exit = linker.exit
                else:
                    inst.exports(session.store)["_start"](session.store)
                    run.exit = 0
            except wasmtime.ExitTrap as e:
                run.exit = e.code
            except wasmtime.Trap as t:
                out = _trap_outcome(t)
                if isinstance(out, Exhausted):
                    run.status, run.detail = "exhausted", out.reason
                else:
                    run.trap = out
            except wasmtime.WasmtimeError as e:  # WASI's own errors (a bad pointer)
                msg = str(e)
                if "stack overflow" in msg.lower():
                    run.trap = Trap(TrapKind.call_stack_exhausted, msg)
                else:
                    run.trap, run.host_trap = Trap(TrapKind.other, _cause(msg)), True
            for k in ("stdout", "stderr"):
                with open(paths[k], "rb") as f:
                    setattr(run, k, f.read())
            run.trees = dirs.trees()
            return run
        except Exception:  # noqa: BLE001 - the reference's host failing is a finding too
            run.status, run.detail = "host crashed", traceback.format_exc(limit=6)
            return run
        finally:
            run.seconds = time.perf_counter() - t0
            session.close()
            dirs.close()
            shutil.rmtree(io_dir, ignore_errors=True)


class _ExitAtStart:
    """A linker whose `instantiate` returns None after a `proc_exit` in the start function
    (`exit` holds the code): wasmtime-py raises that as an error the session would take
    for a link error."""

    def __init__(self, linker):
        self.linker = linker
        self.exit = None

    def __getattr__(self, name):
        return getattr(self.linker, name)

    def instantiate(self, store, module):
        import wasmtime

        try:
            return self.linker.instantiate(store, module)
        except wasmtime.ExitTrap as e:
            self.exit = e.code
            return None


def _cause(msg: str) -> str:
    from oracle.engines.wasmtime_engine import _cause as cause

    return cause(msg)


class WinchWasi:
    """Our compiler on one ISA under Unicorn, with `winch.host.wasi`, deterministic clocks
    and random bytes."""

    def __init__(self, isa: str):
        self.isa = isa
        self.name = f"winch-{isa}"

    def run(self, data: bytes, spec: WasiSpec, timeout: float,
            canonicalize_nans: bool = False) -> WasiRun:
        from oracle.engines import get_engine
        from oracle.engines.winch_engine import map_result
        from winch.host import instance as winst
        from winch.host import store as wstore
        from winch.host.wasi import WasiConfig, run_wasi

        run = WasiRun(self.name)
        session = get_engine(self.name, timeout, canonicalize_nans=canonicalize_nans).session()
        dirs = _Dirs(spec)
        t0 = time.perf_counter()
        clock = {0: REALTIME_START, 1: MONOTONIC_START}
        rng = _random.Random(RANDOM_SEED)

        def read_clock(clock_id):
            run.nondeterministic += 1
            now = clock[clock_id]
            clock[0] += TICK_NS
            clock[1] += TICK_NS
            return now

        def read_random(n):
            run.nondeterministic += 1
            return rng.randbytes(n)

        try:
            ok, compiled = compile_in(session, data, run)
            if not ok:
                return run
            out, err = io.BytesIO(), io.BytesIO()
            config = WasiConfig(args=spec.args, env=spec.env, preopens=dirs.preopens,
                                stdin=io.BytesIO(spec.stdin), stdout=out, stderr=err,
                                clock=read_clock, random=read_random)
            try:
                code, res = run_wasi(compiled, config, session.store)
            except wstore.ResourceLimit as e:
                run.status, run.detail = "resource limit", str(e)
                return run
            except wstore.LinkError as e:
                run.status, run.detail = "link error", str(e)
                return run
            except winst.InstantiationTrap as t:
                run.status, run.detail = "trapped at start", str(map_result(
                    session.store, (), t.outcome))
                return run
            if code is not None:
                run.exit = code
            else:
                mapped = map_result(session.store, (), res)
                if isinstance(mapped, Exhausted):
                    run.status, run.detail = "exhausted", mapped.reason
                elif isinstance(mapped, Trap):
                    run.trap, run.host_trap = mapped, res.func < 0
                else:  # a sandbox violation, or something the host did not expect
                    run.status, run.detail = "host crashed", str(mapped)
            run.stdout, run.stderr = out.getvalue(), err.getvalue()
            run.trees = dirs.trees()
            return run
        except Exception:  # noqa: BLE001
            run.status, run.detail = "host crashed", traceback.format_exc(limit=8)
            return run
        finally:
            run.seconds = time.perf_counter() - t0
            session.close()
            dirs.close()


class Unavailable:
    """An engine that cannot run WASI programs (the front end alone)."""

    def __init__(self, name: str):
        self.name = name

    def run(self, data, spec, timeout, canonicalize_nans=False) -> WasiRun:
        return WasiRun(self.name, "unavailable", "runs no WASI program")


def wasi_engine(name):
    """The WASI runner of an engine name (an object with `name` and `run` is kept as it is:
    tests pass deliberately broken doubles)."""
    if not isinstance(name, str):
        return name
    if name in ("wasmtime", "wasmtime-winch"):
        return WasmtimeWasi(name)
    if name.startswith("winch-"):
        return WinchWasi(name[len("winch-"):])
    return Unavailable(name)


# -- comparing ---------------------------------------------------------------------------------
@dataclass
class WasiDiffResult(Verdicts):
    engines: list
    spec: WasiSpec
    runs: dict
    findings: list = field(default_factory=list)
    inconclusive: dict = field(default_factory=dict)
    compared: dict = field(default_factory=dict)  # engine -> 1 if compared conclusively
    not_compared: dict = field(default_factory=dict)
    bad_input: str = ""
    nondeterministic: bool = False  # one of our runs read a clock or random bytes

    @property
    def reason(self) -> str:
        if self.verdict == "bad input":
            return self.bad_input
        if self.verdict != "nothing compared":
            return ""
        why = "; ".join(f"{n} {r}" for n, r in self.not_compared.items())
        return "nothing compared: " + (why or "no engine besides the reference")


def _inconclusive(result: WasiDiffResult, reason: str) -> None:
    result.count_inconclusive(reason)


def _finding(kind: str, ref: WasiRun, other: WasiRun, aspect: str, detail: str) -> Finding:
    return Finding(kind, (ref.name, other.name), isa_of(other.name), f"_start:{aspect}",
                   detail, "_start", "result")


def _bytes_detail(a: bytes, b: bytes) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"{len(a)} vs {len(b)} bytes, first difference at {at}: " \
           f"{a[at:at + 24]!r} vs {b[at:at + 24]!r}"


def compare_pair(result: WasiDiffResult, ref: WasiRun, other: WasiRun) -> None:
    """Append every difference between `other` and `ref` as a finding, or count the pair
    compared (`result.compared`), or say why not (`result.not_compared`)."""
    result.compared.setdefault(other.name, 0)
    engines, isa = (ref.name, other.name), isa_of(other.name)
    if other.status == "crashed":
        result.findings.append(Finding("compiler crash", engines, isa, "compile", other.detail))
        return
    if other.status == "host crashed":
        result.findings.append(Finding("host crash", engines, isa, "_start", other.detail))
        return
    for run in (ref, other):
        if run.status in ("unsupported", "unavailable", "resource limit", "exhausted",
                          "host crashed", "crashed"):
            first = run.detail.splitlines()[0] if run.detail else ""
            _inconclusive(result, f"{run.name}: {run.status}: {first}")
            result.not_compared[other.name] = (
                f"(the reference {run.name}: {run.status})" if run is ref else run.status)
            return
        if run.trap is not None and run.trap.kind == TrapKind.call_stack_exhausted:
            _inconclusive(result, f"{run.name}: call stack exhausted")
            result.not_compared[other.name] = "call stack exhausted"
            return
    if (ref.status == "rejected") != (other.status == "rejected"):
        result.findings.append(Finding("validation disagreement", engines, isa, "compile",
                                       f"{ref.name}: {ref.outcome()}; {other.name}: "
                                       f"{other.outcome()}"))
        return
    if ref.status != "ok" or other.status != "ok":
        if ref.status != other.status:
            kind = "wrong trap" if "trapped" in ref.status + other.status else "host crash"
            result.findings.append(Finding(kind, engines, isa, "instantiate",
                                           f"{ref.outcome()} vs {other.outcome()}"))
        else:
            result.not_compared[other.name] = f"{other.status} like the reference"
        return
    found = []
    if ref.trap is not None and other.trap is not None:
        # a trap the WASI host raised (wasmtime: an error, not a trap code) has no kind to
        # compare; two traps of compiled code compare by kind
        if ref.host_trap != other.host_trap or (
                not ref.host_trap and ref.trap.kind != other.trap.kind):
            found.append(_finding("wrong trap", ref, other, "exit",
                                  f"{ref.outcome()} vs {other.outcome()}"))
    elif ref.trap is not None:
        found.append(_finding("missing trap", ref, other, "exit",
                              f"{ref.outcome()} vs {other.outcome()}"))
    elif other.trap is not None:
        found.append(_finding("spurious trap", ref, other, "exit",
                              f"{ref.outcome()} vs {other.outcome()}"))
    elif ref.exit != other.exit:
        found.append(_finding("wrong exit code", ref, other, "exit",
                              f"{ref.outcome()} vs {other.outcome()}"))
    for aspect in ("stdout", "stderr"):
        a, b = getattr(ref, aspect), getattr(other, aspect)
        if a != b:
            found.append(_finding(f"wrong {aspect}", ref, other, aspect, _bytes_detail(a, b)))
    for guest in ref.trees:
        why = tree_difference(ref.trees[guest], other.trees.get(guest, {}))
        if why:
            found.append(_finding("wrong files", ref, other, "files", f"{guest}: {why}"))
            break
    ours = other.name.startswith("winch-") and ref.name.startswith("winch-")
    if found and result.nondeterministic and not ours:
        _inconclusive(result, "the program read a clock or random bytes (wasmtime's WASI "
                      f"cannot make them deterministic): {other.name} differs")
        result.not_compared[other.name] = "read a clock or random bytes"
        return
    result.findings.extend(found)
    if not found:
        result.compared[other.name] += 1


def run_wasi_diff(data: bytes, spec: WasiSpec, engines, *, timeout: float = DEFAULT_TIMEOUT,
                  canonicalize_nans: bool = False) -> WasiDiffResult:
    """Run `data`'s `_start` on every engine (names, or objects with `name` and `run`) and
    compare each with the first."""
    from oracle.engines.winch_engine import decoded
    from winch.errors import WinchError
    from winch.wasm.module import EXT_FUNC

    result = WasiDiffResult([], spec, {})
    try:
        module = decoded(bytes(data))
    except WinchError:
        module = None  # malformed for us: each engine says so for itself
    if module is not None and not any(e.name == "_start" and e.kind == EXT_FUNC
                                      for e in module.exports):
        result.bad_input = "no exported function _start (not a WASI command)"
        return result
    runners = [wasi_engine(e) for e in engines]
    for r in runners:
        run = r.run(bytes(data), spec, timeout, canonicalize_nans)
        result.runs[run.name] = run
    result.engines = list(result.runs)
    result.nondeterministic = any(r.nondeterministic for r in result.runs.values())
    ref = result.runs[result.engines[0]]
    for name in result.engines[1:]:
        compare_pair(result, ref, result.runs[name])
    if result.nondeterministic:  # ours against the first of ours, with the same sources
        ours = [result.runs[n] for n in result.engines if n.startswith("winch-")
                and result.runs[n].status == "ok"]
        if ref.name.startswith("winch-"):
            ours = [r for r in ours if r is not ref]
        elif ours:
            first, ours = ours[0], ours[1:]
            result.compared.setdefault(first.name, 0)
            for other in ours:
                compare_pair(result, first, other)
    if not result.findings and ref.status == "rejected":
        from oracle.diff import DiffResult, _check_bad_input

        probe = DiffResult([], None, {})
        _check_bad_input(probe, data, None)
        result.bad_input = probe.bad_input
    return result


# -- the command line --------------------------------------------------------------------------
def print_table(result: WasiDiffResult) -> None:
    spec = result.spec
    print(f"WASI: args {spec.args!r}" + (f", env {len(spec.env)}" if spec.env else "")
          + "".join(f", dir {h}::{g}" for h, g in spec.dirs)
          + (f", stdin {len(spec.stdin)} bytes" if spec.stdin else ""))
    for run in result.runs.values():
        files = sum(len(t) for t in run.trees.values())
        print(f"  {run.name:<15} {run.outcome():<28} stdout {len(run.stdout):6d} B  "
              f"stderr {len(run.stderr):5d} B  files {files:3d}  {run.seconds:7.2f} s"
              + (f"  clock/random reads {run.nondeterministic}" if run.nondeterministic
                 else ""))
    for f in result.findings:
        print(f"FINDING {f.kind}: {f.signature}\n  {f.detail.splitlines()[0] if f.detail else ''}")
    for reason, n in sorted(result.inconclusive.items()):
        print(f"inconclusive ({n}): {reason}")
    if result.verdict == "agree":
        n = sum(1 for c in result.compared.values() if c)
        print(f"all engines agree (exit code, stdout, stderr and files; {n} engine(s) "
              "compared)")
    elif result.verdict == "findings":
        print(f"{len(result.findings)} finding(s)")
    else:
        print(result.reason)


def result_json(result: WasiDiffResult) -> dict:
    return {
        "agree": result.agree,
        "verdict": result.verdict,
        "reason": result.reason,
        "compared": result.compared,
        "wasi": result.spec.to_json(embed=False),
        "engines": {n: {"status": r.status, "detail": r.detail, "outcome": r.outcome(),
                        "exit": r.exit, "trap": str(r.trap) if r.trap else None,
                        "stdout": r.stdout.decode("utf-8", "backslashreplace"),
                        "stderr": r.stderr.decode("utf-8", "backslashreplace"),
                        "files": {g: sorted(t) for g, t in r.trees.items()},
                        "clock_random_reads": r.nondeterministic,
                        "seconds": round(r.seconds, 3)}
                    for n, r in result.runs.items()},
        "findings": [f.to_json() for f in result.findings],
        "inconclusive": result.inconclusive,
    }


def spec_from_args(args, wasm_path: str) -> WasiSpec | str:
    """The spec of `oracle diff --wasi`'s options, or a one-line error."""
    dirs = []
    for d in args.dir or []:
        host, _, guest = d.partition("::")
        if not os.path.isdir(host):
            return f"--dir {d}: not a directory"
        dirs.append((host, guest or host))
    env = []
    for kv in args.env or []:
        k, eq, v = kv.partition("=")
        if not eq or not k:
            return f"--env {kv}: expected NAME=VALUE"
        env.append((k, v))
    stdin = b""
    if args.stdin:
        try:
            with open(args.stdin, "rb") as f:
                stdin = f.read()
        except OSError as e:
            return f"--stdin {args.stdin}: cannot read: {e.strerror}"
    spec = WasiSpec([os.path.basename(wasm_path)] + list(args.args or []), env, dirs, stdin)
    try:  # every engine copies the templates: one that cannot be copied is bad input
        _Dirs(spec).close()
    except (OSError, shutil.Error) as e:
        return f"--dir: cannot copy a template: {str(e).splitlines()[0][:200]}"
    return spec


def diff_command(args, module: bytes, engines: list, mutant) -> int:
    """`oracle diff --wasi`: exit 0 agree, 1 findings, 2 bad input, 3 nothing compared."""
    import json
    import sys

    from oracle.crashfile import write_crash
    from oracle.plan import Plan

    spec = spec_from_args(args, args.wasm)
    if isinstance(spec, str):
        print(f"oracle diff: {spec}", file=sys.stderr)
        return 2
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not timeout > 0:  # (also refuses nan)
        print(f"oracle diff: --timeout {timeout}: must be > 0", file=sys.stderr)
        return 2
    timeout = timeout or DEFAULT_TIMEOUT
    canon = bool(getattr(args, "canonicalize_nans", False))
    with mutant:
        result = run_wasi_diff(module, spec, engines, timeout=timeout, canonicalize_nans=canon)
    if result.verdict == "bad input":
        print(f"oracle diff: {args.wasm}: {result.bad_input}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result_json(result), indent=1, default=str))
    else:
        print_table(result)
    if args.save and result.findings:
        f = result.findings[0]
        extra = {"canonicalize_nans": True} if canon else {}
        with open(args.save, "wb") as out:
            out.write(write_crash(module, Plan(), f.signature, identity=str(f.identity),
                                  engines=engines, wasi=spec.to_json(), wasi_timeout=timeout,
                                  **extra))
    return {"findings": 1, "agree": 0}.get(result.verdict, 3)


def replay_command(args, module: bytes, meta: dict, engines: list, expected, mutant) -> int:
    """`oracle replay` of a crash file saved by `oracle diff --wasi`: its arguments,
    environment, stdin and directory templates (embedded ones recreated).  Exit 1: it still
    shows its finding (or another, said so); 0: fixed; 3: nothing compared."""
    import json
    import sys

    from oracle.compare import same_finding

    workdir = tempfile.mkdtemp(prefix="oracle-wasi-replay-")
    try:
        try:
            spec = WasiSpec.from_json(meta["wasi"], workdir)
        except (KeyError, TypeError, ValueError) as e:
            print(f"oracle replay: {args.wasm}: bad `wasi` section: {e}", file=sys.stderr)
            return 2
        missing = [h for h, _g in spec.dirs if not os.path.isdir(h)]
        if missing:
            print(f"oracle replay: {args.wasm}: directory template {missing[0]} is gone (not "
                  "embedded: bigger than 4 MiB)", file=sys.stderr)
            return 2
        with mutant:
            result = run_wasi_diff(module, spec, engines,
                                   timeout=float(meta.get("wasi_timeout", DEFAULT_TIMEOUT)),
                                   canonicalize_nans=bool(meta.get("canonicalize_nans")))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    same = [f for f in result.findings if expected is None or same_finding(expected, f)]
    verdict = ("reproduces" if same else "different finding" if result.findings
               else "nothing compared" if result.verdict in ("nothing compared", "bad input")
               else "fixed")
    if args.json:
        print(json.dumps({"expected": meta.get("signature", ""),
                          "expected_identity": str(expected) if expected else "",
                          "reproduces": verdict == "reproduces", "replay": verdict,
                          **result_json(result)}, indent=1, default=str))
    else:
        print_table(result)
        print(f"expected: {expected or '(any finding)'}")
        print({"reproduces": f"REPRODUCES: {same[0].identity}" if same else "",
               "different finding": "a DIFFERENT finding reproduces: "
               f"{result.findings[0].identity if result.findings else ''} (not the expected one)",
               "fixed": "fixed: the finding no longer reproduces",
               "nothing compared": result.reason or result.bad_input}[verdict])
    if verdict == "nothing compared":
        return 3
    return 0 if verdict == "fixed" else 1
