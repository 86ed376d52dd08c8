"""`oracle diff`: run one module's plan on several engines and compare after every call.

For every engine: compile (a Python exception there is a *compiler crash*; our compilers
are also run twice and must give identical code), instantiate with deterministic host
imports, then run the plan.  After each call the results (or trap) and every exported
global and memory are compared against the reference engine (the first one).
"""

from __future__ import annotations

import atexit
import dataclasses
import platform
import time
import traceback
import zlib
from dataclasses import dataclass, field

from oracle.compare import Finding, MemoryState, compare_outcomes, isa_of, memory_difference
from oracle.engines import get_engine
from oracle.engines.base import (InstantiationTrapped, LinkError, NotRun, Rejected,
                                 ResourceLimited)
from oracle.outcomes import HostError
from oracle.plan import TYPE_NAMES, Plan, default_plan
from winch.wasm.module import EXT_FUNC, EXT_GLOBAL, EXT_MEMORY

# wasmtime's Winch only targets x86-64 hosts here
DEFAULT_ENGINES = ("wasmtime",) + (("wasmtime-winch",) if platform.machine() in (
    "x86_64", "AMD64") else ()) + ("winch-x64", "winch-aarch64", "winch-s390x")


@dataclass
class EngineRun:
    name: str
    status: str = "ok"  # ok | rejected | unsupported | crashed | link error | trapped at start
    detail: str = ""
    outcomes: list = field(default_factory=list)  # per call: Outcome or a NotRun reason
    states: list = field(default_factory=list)  # per call: {export: value or digest}
    host_calls: list = field(default_factory=list)
    fuel: list = field(default_factory=list)  # per call: the store's fuel left (--fuel)


class Verdicts:
    """The verdict of a comparison result (a `DiffResult`, or oracle/wasi_diff.py's), from its
    `findings`, `bad_input` and `compared` (DESIGN.md §6)."""

    @property
    def verdict(self) -> str:
        """"findings", "bad input", "nothing compared" (no engine compared a single call
        conclusively with the reference) or "agree"."""
        if self.findings:
            return "findings"
        if self.bad_input:
            return "bad input"
        if not any(self.compared.values()):
            return "nothing compared"
        return "agree"

    @property
    def agree(self) -> bool:
        """No finding, and the reference and at least one other engine compared at least one
        call conclusively."""
        return self.verdict == "agree"

    def count_inconclusive(self, reason: str) -> None:
        self.inconclusive[reason] = self.inconclusive.get(reason, 0) + 1


@dataclass
class DiffResult(Verdicts):
    engines: list
    plan: Plan
    runs: dict
    findings: list = field(default_factory=list)
    inconclusive: dict = field(default_factory=dict)
    # per engine besides the reference: calls compared conclusively against the reference
    compared: dict = field(default_factory=dict)
    # per engine that compared nothing: why ("unsupported (simd)", "had no call to make ...")
    not_compared: dict = field(default_factory=dict)
    # the module is malformed or invalid for our front end and the reference alike: the
    # front end's one-line error ("" otherwise)
    bad_input: str = ""
    bad_input_offset: int | None = None
    # every engine compiled with NaN canonicalization: NaN bits compared exactly
    canonicalize_nans: bool = False
    # every engine ran with wasmtime's fuel (the store's fuel left compared after every call)
    # and/or epoch interruption at this deadline: running out is compared, not inconclusive
    fuel: int | None = None
    epoch_deadline: int | None = None

    @property
    def reason(self) -> str:
        """One line: why nothing was compared, or what makes the module bad input."""
        if self.verdict == "bad input":
            return self.bad_input
        if self.verdict != "nothing compared":
            return ""
        groups: dict = {}
        for name in self.engines[1:]:
            groups.setdefault(self.not_compared.get(name, "compared nothing"), []).append(name)
        if not groups:
            return "nothing compared: no engine besides the reference"
        return "nothing compared: " + "; ".join(f"{', '.join(names)} {why}"
                                                for why, names in groups.items())


def _nan_bits(t: str, a) -> bool:
    if t == "f32" and isinstance(a, int):
        return (a & 0x7F80_0000) == 0x7F80_0000 and a & 0x7F_FFFF
    if t == "f64" and isinstance(a, int):
        return (a >> 52 & 0x7FF) == 0x7FF and a & ((1 << 52) - 1)
    return False


def deterministic_host(record: list, module: str, name: str, results, params=()):
    """A host function whose behaviour depends only on its arguments: it returns zeros and
    records the call, so the sequence of host calls is compared too.  A NaN argument is
    recorded as "nan": wasmtime's Python host-function API carries floats as Python floats,
    which quiets signalling NaNs, so NaN bits at this boundary are not comparable."""

    def fn(*args):
        rec = []
        for i, a in enumerate(args):
            t = params[i] if i < len(params) else ""
            rec.append("nan" if _nan_bits(t, a) else a if isinstance(a, int) else repr(a))
        record.append((module, name, tuple(rec)))
        return [0 if t != "externref" else None for t in results]

    return fn


def define_deterministic_imports(session, module, record: list | None = None) -> None:
    """Provide every imported function of `module` in `session` as a `deterministic_host`
    recording into `record`.  Raises NotRun where the engine cannot provide host functions."""
    record = [] if record is None else record
    for imp in module.imports:
        if imp.kind == EXT_FUNC:
            ft = module.types[imp.desc]
            params = [TYPE_NAMES[t] for t in ft.params]
            results = [TYPE_NAMES[t] for t in ft.results]
            session.define_host_func(imp.module, imp.name, params, results,
                                     deterministic_host(record, imp.module, imp.name, results,
                                                        params))


CALL_BUDGET = 1.0  # seconds of work per call before it counts as exhausted
_ENGINES: dict = {}  # engines are reusable (each diff opens fresh sessions): build them once
# free them before interpreter teardown (wasmtime's finalizers need its bindings alive)
atexit.register(_ENGINES.clear)


# seconds spent per phase, when a caller wants them (the differential target under
# $ORACLE_PHASE_TIMES): {"compile": {engine: s}, "determinism": {engine: s}, "run": {engine: s}}.
# None (the default) costs one test per engine run.
PHASE_TIMES: dict | None = None


def _phase(kind: str, name: str, seconds: float) -> None:
    d = PHASE_TIMES[kind]
    d[name] = d.get(name, 0.0) + seconds


def _engine(name: str, canonicalize_nans: bool = False, limits=(None, None)):
    key = (name, True) if canonicalize_nans else name  # (tests replace one by its name)
    if limits != (None, None):
        key = (key, limits)
    if key not in _ENGINES:
        _ENGINES[key] = get_engine(name, CALL_BUDGET, canonicalize_nans=canonicalize_nans,
                                   fuel=limits[0], epoch_deadline=limits[1])
    return _ENGINES[key]


def _run_engine(engine, wasm: bytes, module, plan: Plan, twice: bool = True,
                canonicalize_nans: bool = False, limits=(None, None)) -> EngineRun:
    """`engine`: a name, or an Engine object (tests pass deliberately broken doubles; it is
    used as it was built).  `twice`: compile a second time and require identical code (our
    compilers only).  `canonicalize_nans`: a named engine is built with NaN canonicalization."""
    name = engine if isinstance(engine, str) else engine.name
    run = EngineRun(name)
    try:
        session = (_engine(name, canonicalize_nans, limits) if isinstance(engine, str)
                   else engine).session()
    except ImportError as e:
        run.status, run.detail = "unavailable", str(e)
        return run
    try:
        return _run_in(session, run, wasm, module, plan, twice)
    finally:
        session.close()  # lets the engine reuse what the session holds


def _run_in(session, run: EngineRun, wasm: bytes, module, plan: Plan, twice: bool) -> EngineRun:
    if PHASE_TIMES is None:
        return _run_in_timed(session, run, wasm, module, plan, twice, None)
    t = [time.perf_counter()]
    try:
        return _run_in_timed(session, run, wasm, module, plan, twice, t)
    finally:
        _phase("run", run.name, time.perf_counter() - t[-1])


def compile_in(session, wasm: bytes, run) -> tuple:
    """(True, `session.compile(wasm)`), or (False, None) with `run.status` and `run.detail`
    saying why not: a refusal ("unsupported", "rejected") or a crash of the compiler (a
    finding)."""
    try:
        return True, session.compile(wasm)
    except Rejected as e:
        run.status = "unsupported" if e.kind == "unsupported" else "rejected"
        run.detail = e.feature or e.message
    except Exception:  # noqa: BLE001 - any exception in a compiler is a finding
        run.status, run.detail = "crashed", traceback.format_exc(limit=8)
    return False, None


def _run_in_timed(session, run: EngineRun, wasm: bytes, module, plan: Plan, twice: bool,
                  t: list | None) -> EngineRun:
    """`t`: None, or [start]: the times of the compile phases are accumulated in
    `PHASE_TIMES` and t[-1] is left at the start of the rest."""
    ok, compiled = compile_in(session, wasm, run)
    if t is not None:
        t.append(time.perf_counter())
        _phase("compile", run.name, t[-1] - t[-2])
    if not ok:
        return run
    if twice and hasattr(compiled, "code"):  # ours: compiling twice must give the same bytes
        again = session.compile(wasm)
        if again.code != compiled.code:
            run.status, run.detail = "nondeterministic", "two compilations differ"
        if t is not None:
            t.append(time.perf_counter())
            _phase("determinism", run.name, t[-1] - t[-2])
    if module is not None:
        try:
            define_deterministic_imports(session, module, run.host_calls)
        except NotRun as e:
            run.status, run.detail = "unavailable", e.reason
            return run
    try:
        inst = session.instantiate(compiled)
    except NotRun as e:  # an engine that executes nothing (the front end alone)
        run.status, run.detail = "unavailable", e.reason
        return run
    except ResourceLimited as e:
        run.status, run.detail = "resource limit", str(e)
        return run
    except LinkError as e:
        run.status, run.detail = "link error", str(e)
        return run
    except InstantiationTrapped as t:
        run.status, run.detail = "trapped at start", str(t.outcome)
        return run
    except Exception:  # noqa: BLE001
        run.status, run.detail = "host crashed", traceback.format_exc(limit=8)
        return run
    exports = () if module is None else tuple((e.name, e.kind == EXT_MEMORY)
                                              for e in module.exports
                                              if e.kind in (EXT_GLOBAL, EXT_MEMORY))
    memories = [name for name, is_memory in exports if is_memory]
    for call in plan.calls:
        try:
            out = session.invoke(inst, call.export, list(call.args))
        except NotRun as e:
            out = e.reason
        except Exception:  # noqa: BLE001
            out = HostError("engine raised: " + traceback.format_exc(limit=4))
        run.outcomes.append(out)
        fuel_left = getattr(session, "fuel_left", None)  # (--fuel: None otherwise)
        left = fuel_left() if fuel_left is not None else None
        if left is not None:
            run.fuel.append(left)
        state = session.state(inst, exports) if exports else {}
        for name in memories:
            if name in state:
                state[name] = MemoryState(state[name])
        run.states.append(state)
    return run


def run_diff(wasm: bytes, engines=DEFAULT_ENGINES, plan: Plan | None = None, *,
             determinism: str = "one", canonicalize_nans: bool = False,
             fuel: int | None = None, epoch_deadline: int | None = None,
             _canonical: bool = False) -> DiffResult:
    """Run `plan` (default: `default_plan`) on every engine and compare.

    `canonicalize_nans`: every engine named compiles with NaN canonicalization (wasmtime's
    `cranelift_nan_canonicalization`, ours `compile_module(..., canonicalize_nans=True)`), and
    NaN bits are compared exactly: no finding is put down to NaN nondeterminism.  Without it,
    a finding that NaN bits may explain is re-run on a rewritten module (`_recheck_nans`).

    `determinism`: which of our compilers also compile the module a second time, to catch
    nondeterministic code generation: "all", "none", or "one" (the default: one ISA chosen
    by the module's hash, so every ISA is checked across a campaign at a third of the cost).
    """
    from oracle.engines.winch_engine import decoded
    from winch.errors import WinchError

    try:
        module = decoded(bytes(wasm))
    except WinchError:
        module = None
    if plan is None:
        plan = default_plan(module) if module is not None else Plan()
    runs = {}
    engines_in = list(engines)
    ours = [i for i, e in enumerate(engines_in)
            if (e if isinstance(e, str) else e.name).startswith("winch-")]
    if determinism == "all":
        twice = set(ours)
    elif determinism == "one" and ours:
        twice = {ours[zlib.crc32(wasm) % len(ours)]}
    elif determinism in ("none", "one"):
        twice = set()
    else:
        raise ValueError(f"determinism must be all, one or none, not {determinism!r}")
    for i, e in enumerate(engines_in):
        run = _run_engine(e, wasm, module, plan, i in twice, canonicalize_nans,
                          (fuel, epoch_deadline))
        runs[run.name] = run
    engines = list(runs)
    result = DiffResult(engines, plan, runs, canonicalize_nans=canonicalize_nans, fuel=fuel,
                        epoch_deadline=epoch_deadline)
    ref_name = engines[0]
    ref = runs[ref_name]
    for name in engines[1:]:
        _compare_runs(result, ref, runs[name])
    if module is not None and not _canonical and not canonicalize_nans and any(
            f.kind in NAN_SENSITIVE for f in result.findings):
        _recheck_nans(result, wasm, module, engines_in, plan)
    if not result.findings and ref.status == "rejected":
        _check_bad_input(result, wasm, ref)
    return result


def _check_bad_input(result: DiffResult, wasm: bytes, ref: EngineRun) -> None:
    """The reference rejected the module and no engine disagreed: if our front end rejects
    it too (malformed or invalid, not `Unsupported`), the module is bad input, not a test."""
    from winch.errors import DecodeError, ValidationError
    from winch.wasm import validate

    try:
        validate(bytes(wasm))
    except (DecodeError, ValidationError) as e:
        kind = "malformed" if isinstance(e, DecodeError) else "invalid"
        result.bad_input = f"{kind}: {e.message}"
        result.bad_input_offset = e.offset
    except Exception:  # noqa: BLE001 - Unsupported, or a front-end crash: not bad input
        pass


# finding kinds that a NaN's sign or payload can cause: seen directly (a value), or turned
# into an integer by a reinterpret and then into a trap or its absence (x86 makes the NaN of
# 0/0 negative, Arm and s390x positive: `i64.trunc_f32_u` of the reinterpreted and converted
# bits traps on one and not on the other)
NAN_SENSITIVE = ("wrong value", "wrong trap", "missing trap", "spurious trap")


def _recheck_nans(result: DiffResult, wasm: bytes, module, engines, plan: Plan) -> None:
    """A wrong value (or trap) may come from a NaN whose sign or payload the spec leaves open,
    seen through memory, a global, a host call, or reinterpreted as an integer.  Run the
    module again with every such NaN made canonical: a finding that disappears was
    spec-allowed nondeterminism (counted as inconclusive); one that stays is kept."""
    from oracle.nan_canon import canonicalize_module, has_nondeterministic_nans
    from winch.wasm.encoder import encode_module

    if not has_nondeterministic_nans(module):
        return
    # only the reference and the engines with a wrong value run again: each engine's run is
    # compared with the reference's alone, so the others' would not change anything
    suspects = {f.engines[1] for f in result.findings if f.kind in NAN_SENSITIVE}
    engines = [e for i, e in enumerate(engines)
               if i == 0 or (e if isinstance(e, str) else e.name) in suspects]
    again = run_diff(encode_module(canonicalize_module(module)), engines, plan,
                     determinism="none", _canonical=True, fuel=result.fuel,
                     epoch_deadline=result.epoch_deadline)
    still = {f.signature for f in again.findings}
    kept = []
    for f in result.findings:
        if f.kind in NAN_SENSITIVE and f.signature not in still:
            _inconclusive(result, "NaN sign/payload (spec-nondeterministic) observed: "
                          f"{f.where}")
            # the canonical run compared this pair conclusively
            other = f.engines[1]
            if again.compared.get(other):
                result.compared[other] = max(result.compared.get(other, 0),
                                             again.compared[other])
                result.not_compared.pop(other, None)
        else:
            kept.append(f)
    result.findings = kept


def _limit_verdict(result: DiffResult, a, b, engines, isa: str, where: str):
    """With fuel or epoch interruption on, running out of fuel and being interrupted are
    outcomes to compare: "agree" when both engines did the same, a "fuel mismatch" or
    "interrupt mismatch" Finding when only one did, None when neither did."""
    from oracle.outcomes import Trap, TrapKind

    def limit(out):
        if isinstance(out, Trap) and (
                out.kind == TrapKind.out_of_fuel and result.fuel is not None
                or out.kind == TrapKind.interrupt and result.epoch_deadline is not None):
            return out.kind
        return None

    ka, kb = limit(a), limit(b)
    if ka is None and kb is None:
        return None
    if ka == kb:
        return "agree"
    from oracle.compare import inconclusive_reason

    for k, out in ((ka, a), (kb, b)):  # the other side ran into a bound of its own
        if k is None and inconclusive_reason(out) is not None:
            return inconclusive_reason(out)
    kind = "fuel mismatch" if TrapKind.out_of_fuel in (ka, kb) else "interrupt mismatch"
    return Finding(kind, engines, isa, where, f"{a} vs {b}")


def _inconclusive(result: DiffResult, reason: str) -> None:
    result.count_inconclusive(reason)


def _why_not_run(run: EngineRun, reference: bool) -> str:
    """"unsupported (simd)"; for the reference "(the reference wasmtime: unsupported: ...)"."""
    detail = run.detail.splitlines()[0] if run.detail else ""
    if reference:
        return f"(the reference {run.name}: {run.status}" + (f": {detail})" if detail else ")")
    return f"{run.status} ({detail})" if detail else run.status


def _compare_runs(result: DiffResult, ref: EngineRun, other: EngineRun) -> None:
    result.compared[other.name] = 0
    _compare_pair(result, ref, other)
    if result.compared[other.name] == 0 and other.name not in result.not_compared:
        result.not_compared[other.name] = "compared nothing"


def _compare_pair(result: DiffResult, ref: EngineRun, other: EngineRun) -> None:
    """Compare `other` with the reference: append a finding, or count the calls compared
    conclusively (`result.compared`), or say why nothing was (`result.not_compared`)."""
    engines = (ref.name, other.name)
    isa = isa_of(other.name)
    if other.status == "crashed":
        result.findings.append(Finding("compiler crash", engines, isa, "compile", other.detail))
        return
    if other.status == "host crashed":
        result.findings.append(Finding("host crash", engines, isa, "instantiate", other.detail))
        return
    if other.status == "nondeterministic":
        result.findings.append(Finding("nondeterministic compile", engines, isa, "compile"))
        return
    for run in (ref, other):
        if run.status in ("unsupported", "unavailable", "resource limit"):
            _inconclusive(result, f"{run.name}: {run.status}: {run.detail}")
            result.not_compared[other.name] = _why_not_run(run, run is ref)
            return
    if (ref.status == "rejected") != (other.status == "rejected"):
        result.findings.append(Finding("validation disagreement", engines, isa, "compile",
                                       f"{ref.name}: {ref.status}; {other.name}: {other.status}"))
        return
    if ref.status != "ok" or other.status != "ok":
        if ref.status != other.status:
            result.findings.append(Finding("wrong trap" if "trapped" in ref.status + other.status
                                           else "host crash", engines, isa, "instantiate",
                                           f"{ref.status} vs {other.status}"))
        else:  # both rejected, both failed to link or both trapped at start: no call ran
            result.not_compared[other.name] = f"{other.status} like the reference"
        return
    if not result.plan.calls:
        result.not_compared[other.name] = "had no call to make (no exported function the " \
            "plan can call)"
    for i, call in enumerate(result.plan.calls):
        where = f"{call.export}#{i}"
        a, b = ref.outcomes[i], other.outcomes[i]
        if isinstance(a, str) or isinstance(b, str):
            _inconclusive(result, a if isinstance(a, str) else b)
            if i == 0:
                result.not_compared[other.name] = "not run: " + (a if isinstance(a, str)
                                                                  else b)
            return
        limited = _limit_verdict(result, a, b, engines, isa, where)
        verdict = compare_outcomes(ref.name, a, other.name, b, where,
                                   result.canonicalize_nans) if limited is None else \
            None if limited == "agree" else limited  # (a Finding, or inconclusive: why)
        if result.fuel is not None and verdict is None and i < len(ref.fuel) and \
                i < len(other.fuel) and ref.fuel[i] != other.fuel[i]:
            verdict = Finding("fuel mismatch", engines, isa, where,
                              f"fuel left {ref.fuel[i]} vs {other.fuel[i]}", what="fuel")
        if isinstance(verdict, Finding):
            result.findings.append(dataclasses.replace(verdict, export=call.export,
                                                       what=verdict.what or "result"))
            return
        if isinstance(verdict, str):
            _inconclusive(result, verdict)
            if i == 0:
                result.not_compared[other.name] = f"inconclusive from the first call ({verdict})"
            return  # after exhaustion the states may legitimately differ
        sa, sb = ref.states[i], other.states[i]
        for key in sa:
            va, vb = sa[key], sb.get(key)
            same = va == vb
            if not same and hasattr(va, "type") and hasattr(vb, "type"):
                from oracle.compare import values_agree

                same = values_agree(va, vb, result.canonicalize_nans)
            if not same:
                what = "memory" if isinstance(va, MemoryState) else "global"
                detail = memory_difference(key, va, vb) if isinstance(va, MemoryState) and \
                    isinstance(vb, MemoryState) else f"{va} vs {vb}"
                result.findings.append(Finding("wrong value", engines, isa,
                                               f"{where}:{key}", detail, call.export, what))
                return
        result.compared[other.name] += 1
    # host calls: compared once every call was conclusive (a call cut short by stack
    # exhaustion on one engine legitimately makes fewer host calls)
    if ref.host_calls != other.host_calls:
        result.findings.append(Finding("wrong value", engines, isa, "host calls",
                                       f"{ref.host_calls[:3]} vs {other.host_calls[:3]}"))

