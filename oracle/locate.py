"""`oracle locate`: from "the result differs" to "this instruction is wrong" (issue 23).

Problem
-------
A finding says that an engine's call gave another answer than the reference.  The compiler
engineer wants the first Wasm instruction whose result is wrong: its operands, the value it
should have produced, the value it produced, and the machine code emitted for it.

Algorithm
---------
1. The failing call: the crash file's plan is run on the reference interpreter (`interp`,
   oracle/interp) and on the engine (normal code); the first call whose outcome or state
   differs is the one to localize.
2. Both run the plan's earlier calls untraced, then that call traced: the interpreter reports
   a `Step` before every instruction and a `Write` per memory store; the engine runs the
   module compiled with `debug=True` (every value of the frame in its slot at each
   instruction boundary, winch/codegen/debug.py) under Unicorn hooks at the boundaries
   (winch/host/trace.py), which report the same events.
3. The two event sequences are walked in step: the first event that differs was caused by the
   instruction of the last step before it (both sides agreed on everything up to that step,
   so that instruction had the same operands and produced another result, wrote another
   value, branched elsewhere, or trapped where the other did not).
4. When debug code does not reproduce the finding (a bug only normal code has: a value left
   in a register a call clobbers, a lazy value, a register's stale high half), normal code
   itself is observed (`compile_module(..., debug="observe")`: the same code, with a table
   of where each value is at each boundary: a frame slot, a register or a constant) and
   compared the same way, except at loop headers (a branch back lands past the `loop`'s
   own boundary in normal code).  Otherwise the report says that neither reproduced.

Invariants
----------
- Values compare as bits, except that two NaNs of one type are equal unless the finding was
  made with NaN canonicalization (then the engine's must be the canonical NaN).  References compare only when both sides know their bits.
- Structural instructions the debug table does not list (if any) are skipped on the
  interpreter's side: only boundaries the engine can observe are compared.
- Nothing here changes the crash file; `locate` only reads it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import asdict, dataclass, field

from winch.wasm.types import F32, F64

TYPE_NAMES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x70: "funcref",
              0x6F: "externref"}

#: events compared before giving up (a call that loops long enough is cut here on both sides)
STEP_LIMIT = 2_000_000


@dataclass
class Location:
    """What `locate` found (printed by `format_location`, or as JSON)."""

    status: str  # "located" | "not reproduced" | "no failing call" | "error"
    engine: str
    summary: str = ""
    call: int = -1  # index of the failing call in the plan
    export: str = ""
    via: str = ""  # "debug code" | "normal code's stores"
    func: int = -1  # module-level function index of the culprit instruction
    offset: int = -1  # its wasm byte offset
    instr: str = ""  # the instruction in WAT
    what: str = ""  # "result" | "local" | "control flow" | "store" | "trap" | "entry"
    operands: list = field(default_factory=list)  # formatted values (top of stack last)
    expected: list = field(default_factory=list)
    actual: list = field(default_factory=list)
    context: list = field(default_factory=list)  # WAT lines around it, the culprit marked
    machine_code: list = field(default_factory=list)  # `winch explain` lines of its lowering
    steps: int = 0  # steps compared before the difference

    def to_json(self) -> dict:
        return asdict(self)


# -- values -------------------------------------------------------------------------------------
def _is_nan(t: int, bits) -> bool:
    if bits is None:
        return False
    if t == F32:
        return (bits & 0x7F80_0000) == 0x7F80_0000 and bits & 0x7F_FFFF != 0
    if t == F64:
        return (bits >> 52 & 0x7FF) == 0x7FF and bits & ((1 << 52) - 1) != 0
    return False


CANONICAL_NAN = {F32: 0x7FC0_0000, F64: 0x7FF8 << 48}


def same_value(a, b, exact_nans: bool) -> bool:
    """`a`: the reference's (type, bits), `b`: the engine's.  NaNs: any two agree, or with
    `exact_nans` (NaN canonicalization) the engine's must be the canonical NaN."""
    (ta, ba), (tb, bb) = a, b
    if ta != tb:
        return False
    if ba is None or bb is None:  # a reference one side cannot see
        return True
    if ba == bb:
        return True
    if not (_is_nan(ta, ba) and _is_nan(tb, bb)):
        return False
    return not exact_nans or bb == CANONICAL_NAN[tb]


def same_values(xs, ys, exact_nans: bool) -> bool:
    return len(xs) == len(ys) and all(same_value(a, b, exact_nans) for a, b in zip(xs, ys))


def fmt_value(v) -> str:
    t, bits = v
    name = TYPE_NAMES.get(t, hex(t))
    if bits is None:
        return f"{name}:?"
    if t == F32:
        from oracle.watprint import f32_text
        return f"f32:{f32_text(bits)} ({bits:#010x})"
    if t == F64:
        from oracle.watprint import f64_text
        return f"f64:{f64_text(bits)} ({bits:#018x})"
    if t in (0x7F, 0x7E):
        width = 32 if t == 0x7F else 64
        signed = bits - (1 << width) if bits >> (width - 1) else bits
        return f"{name}:{signed}" + (f" ({bits:#x})" if signed < 0 or bits > 9 else "")
    return f"{name}:{bits}"


# -- comparing two traces -----------------------------------------------------------------------
@dataclass
class Divergence:
    index: int  # of the first differing event
    before: object  # the last Step both agreed on (None: the very first event differs)
    ref: object  # the reference's event at `index` (None: its trace ended)
    got: object  # the engine's
    what: str


#: calls: what a callee in another instance or the host writes is not traced on our side
#: (only the called instance's functions are), so a call's writes are not compared step by
#: step (the memory after the call still is, by the diff)
HOST_WRITES = frozenset(("call", "call_indirect", "call_ref"))

#: structural instructions whose step the two sides may report differently (an `end` or
#: `else` reached by a branch rather than by falling through): not compared
STRUCTURAL = frozenset(("end", "else"))


def grouped(events: list) -> list:
    """[(Step, {(mem, byte address): byte written after it}), ...]: a trace's writes as the
    bytes each step's instruction left (a store may reach the hook as one write or several)."""
    from winch.debuginfo import Step

    out: list = []
    for e in events:
        if type(e) is Step:
            out.append((e, {}))
        elif out:
            written = out[-1][1]
            for i in range(e.size):
                written[e.mem, e.addr + i] = e.value >> (8 * i) & 0xFF
    return out


def first_divergence(ref: list, got: list, exact_nans: bool, op_name=None) -> Divergence | None:
    """The first difference between two traces (lists of Step and Write events), or None.
    `op_name(func, offset)`: the instruction's name, to skip the writes of HOST_WRITES."""
    ref, got = grouped(ref), grouped(got)
    before = None
    last: dict = {}  # function -> its last step so far (a callee's return comes back to it)
    for i in range(max(len(ref), len(got))):
        if i >= len(ref) or i >= len(got):
            a = ref[i][0] if i < len(ref) else None
            b = got[i][0] if i < len(got) else None
            return Divergence(i, before, a, b, "trap")
        (a, wa), (b, wb) = ref[i], got[i]
        if (a.func, a.offset) != (b.func, b.offset):
            return Divergence(i, before, a, b, "control flow")
        # the instruction that made this state: the step before, or, back from a callee,
        # the call (the last step of this function's frame)
        culprit = before
        if before is not None and before.func != a.func and a.func in last:
            culprit = last[a.func]
        if not same_values(a.stack, b.stack, exact_nans):
            return Divergence(i, culprit, a, b, "entry" if culprit is None else "result")
        if not same_values(a.locals, b.locals, exact_nans):
            return Divergence(i, culprit, a, b, "entry" if culprit is None else "local")
        if wa != wb and (op_name is None or op_name(a.func, a.offset) not in HOST_WRITES):
            return Divergence(i + 1, a, _writes(wa), _writes(wb), "store")
        before = last[a.func] = a
    return None


def _writes(written: dict) -> str:
    if not written:
        return "no store"
    parts = []
    for (mem, addr), byte in sorted(written.items()):
        if parts and parts[-1][0] == mem and parts[-1][1] + len(parts[-1][2]) == addr:
            parts[-1][2].append(byte)
        else:
            parts.append((mem, addr, [byte]))
    return "; ".join(f"memory {mem} [{addr:#x}] <- {bytes(bs).hex()}" for mem, addr, bs in parts)


def filter_steps(events: list, keep) -> list:
    """`events` without the steps for which `keep(func, offset)` is false (their writes go
    with the step before)."""
    from winch.debuginfo import Step

    return [e for e in events if type(e) is not Step or keep(e.func, e.offset)]


# -- the failing call ---------------------------------------------------------------------------
def failing_call(wasm: bytes, engine: str, plan, options: dict) -> tuple[int, str]:
    """(index of the first call on which `engine` and the interpreter differ, the finding's
    one-line summary), or (-1, why not)."""
    from oracle.diff import run_diff

    r = run_diff(wasm, ["interp", engine], plan, determinism="none", **options)
    if not r.findings:
        if r.verdict == "agree":
            return -1, f"{engine} agrees with the interpreter on every call"
        return -1, f"nothing to compare: {r.verdict} {r.reason}".rstrip()
    f = r.findings[0]
    m = re.search(r"#(\d+)", f.where)
    if not m:
        return -1, f"the finding is not about a call: {f.kind} at {f.where}: {f.detail}"
    return int(m.group(1)), f"{f.kind} at {f.where}: {f.detail}"


# -- running one call traced --------------------------------------------------------------------
def interp_trace(wasm: bytes, module, plan, k: int, limit: int = STEP_LIMIT,
                 epoch_deadline: int | None = None):
    """The interpreter's events during call `k` of `plan` (after calls 0..k-1), and its
    outcome."""
    from oracle.diff import define_deterministic_imports
    from oracle.engines import get_engine

    session = get_engine("interp", epoch_deadline=epoch_deadline).session()
    try:
        define_deterministic_imports(session, module)
        inst = session.instantiate(session.compile(wasm))
        for call in plan.calls[:k]:
            session.invoke(inst, call.export, list(call.args))
        events: list = []
        call = plan.calls[k]
        out = session.invoke_traced(inst, call.export, list(call.args), events.append,
                                    events.append, limit)
        return events, out
    finally:
        session.close()


def engine_trace(wasm: bytes, module, plan, k: int, isa: str, limit: int = STEP_LIMIT,
                 debug: bool | str = True, canonicalize_nans: bool = False,
                 epoch_deadline: int | None = None):
    """Our engine's events during call `k` (Steps and Writes; `debug`: True for debug code,
    "observe" for normal code observed), its outcome and the compiled module."""
    from oracle.diff import define_deterministic_imports
    from oracle.engines.winch_engine import WinchEngine, map_result
    from winch.codegen.compile import compile_module
    from winch.host import trace

    session = WinchEngine(isa, epoch_deadline=epoch_deadline).session()
    try:
        define_deterministic_imports(session, module)
        compiled = compile_module(wasm, isa, debug=debug, canonicalize_nans=canonicalize_nans,
                                  epoch=epoch_deadline is not None)
        inst = session.instantiate(compiled)
        for call in plan.calls[:k]:
            session.invoke(inst, call.export, list(call.args))
        events: list = []
        call = plan.calls[k]
        bits = [session._to_bits(a) for a in call.args]
        res = trace.run_traced(session.store, inst, call.export, bits, events.append,
                               events.append, limit)
        out = map_result(session.store, module.func_type(inst.exports[call.export].index)
                         .results, res)
        return events, out, compiled
    finally:
        session.close()


# -- describing the culprit ---------------------------------------------------------------------
def _function_instrs(module, func: int):
    from winch.wasm.instrs import decode_instrs

    f = module.funcs[func - module.num_imported_funcs]
    return decode_instrs(module.raw, f.body[0], f.body[1])


def instr_context(module, func: int, offset: int, around: int = 4) -> tuple[str, list]:
    """(the instruction at `offset` in WAT, a few lines around it with the culprit marked)."""
    from oracle.watprint import instr_text

    if func < module.num_imported_funcs:
        return "(imported function)", []
    instrs = _function_instrs(module, func)
    depth, lines, at = 0, [], None
    for ins in instrs:
        name = ins.op.name
        if name in ("end", "else"):
            depth -= 1
        lines.append((ins.offset, "  " * max(depth, 0) + instr_text(module, ins)))
        if name in ("block", "loop", "if", "else"):
            depth += 1
        if ins.offset == offset:
            at = len(lines) - 1
    if at is None:
        return "?", []
    lo, hi = max(0, at - around), min(len(lines), at + around + 1)
    out = [f"{'>>' if i == at else '  '} @{lines[i][0]:06x}  {lines[i][1]}" for i in range(lo, hi)]
    return lines[at][1].strip(), out


def lowering_lines(compiled, func: int, offset: int) -> list:
    """The machine code `compiled` has for the instruction at wasm `offset` of `func`, as
    `winch explain` prints it (empty when the instruction emitted no code of its own)."""
    j = func - compiled.module.num_imported_funcs
    if not 0 <= j < len(compiled.func_ranges):
        return []
    start, end = compiled.func_ranges[j]
    locs = compiled.srclocs
    lo = bisect.bisect_left(locs, (start, -1))
    hi = bisect.bisect_left(locs, (end, -1))
    out = []
    for k in range(lo, hi):
        code_off, wasm_off = locs[k]
        if wasm_off == offset:
            out += _disasm(compiled, code_off, locs[k + 1][0] if k + 1 < hi else end)
    return out


def prologue_lines(compiled, func: int) -> list:
    """The machine code of `func`'s prologue (before its first instruction's lowering)."""
    j = func - compiled.module.num_imported_funcs
    if not 0 <= j < len(compiled.func_ranges):
        return []
    start, end = compiled.func_ranges[j]
    locs = compiled.srclocs
    k = bisect.bisect_left(locs, (start, -1))
    stop = locs[k][0] if k < len(locs) and locs[k][0] < end else end
    return _disasm(compiled, start, stop)


def _disasm(compiled, start: int, stop: int) -> list:
    from winch.explain import code_lines

    return code_lines(compiled, start, stop)


def _changed(before: tuple, after: tuple) -> int:
    """How many values at the bottom of `after` the instruction left as they were."""
    p = 0
    while p < len(before) and p < len(after) and before[p] == after[p]:
        p += 1
    return p


def _describe(loc: Location, d: Divergence, exact_nans: bool) -> None:
    from winch.debuginfo import Step

    before = d.before
    loc.what = d.what
    if before is None:
        # the very first event differs: the entry of the called function (its arguments,
        # or a check at entry: an epoch interruption)
        first = d.ref if isinstance(d.ref, Step) else d.got
        if isinstance(first, Step):
            loc.func, loc.offset = first.func, first.offset
        if d.what == "trap":
            loc.what = "entry"
            loc.expected, loc.actual = [_what_event(d.ref)], [_what_event(d.got)]
            return
        loc.expected = [fmt_value(v) for v in getattr(d.ref, "locals", ())]
        loc.actual = [fmt_value(v) for v in getattr(d.got, "locals", ())]
        return
    loc.func, loc.offset = before.func, before.offset
    loc.operands = [fmt_value(v) for v in before.stack[-3:]]
    if d.what in ("result", "local"):
        ref, got = d.ref, d.got
        if d.what == "result":
            p = _changed(before.stack, ref.stack)
            p = min(p, _changed(before.stack, got.stack)) if len(got.stack) == len(ref.stack) \
                else p
            loc.operands = [fmt_value(v) for v in before.stack[p:]] or loc.operands
            loc.expected = [fmt_value(v) for v in ref.stack[p:]]
            loc.actual = [fmt_value(v) for v in got.stack[p:]]
        else:
            diff = [i for i, (a, b) in enumerate(zip(ref.locals, got.locals))
                    if not same_value(a, b, exact_nans)]
            loc.expected = [f"local {i} = {fmt_value(ref.locals[i])}" for i in diff]
            loc.actual = [f"local {i} = {fmt_value(got.locals[i])}" for i in diff]
    elif d.what == "control flow":
        loc.expected = [_where(d.ref)]
        loc.actual = [_where(d.got)]
    elif d.what == "store":
        loc.expected = [d.ref]
        loc.actual = [d.got]
    elif d.what == "trap":
        loc.expected = [_what_event(d.ref)]
        loc.actual = [_what_event(d.got)]


def _where(step) -> str:
    return f"next: func {step.func} @{step.offset:#x}"


def _what_event(e) -> str:
    from winch.debuginfo import Step, Write

    if e is None:
        return "stops here (trap or end of the call)"
    if isinstance(e, Write):
        return f"store {e.size} byte(s) to memory {e.mem} at {e.addr:#x}: {e.value:#x}"
    if isinstance(e, Step):
        return f"goes on to func {e.func} @{e.offset:#x}"
    return repr(e)


# -- the command --------------------------------------------------------------------------------
def _engine_of(meta: dict, engine: str | None) -> str:
    if engine:
        return engine
    sig = meta.get("signature", "")
    parts = sig.split("|")
    if len(parts) >= 2 and "~" in parts[1]:
        other = parts[1].split("~")[1]
        if other.startswith("winch-"):
            return other
    return "winch-x64"


def _options(meta: dict) -> dict:
    """The finding's run_diff settings (NaN canonicalization, fuel, epoch deadline)."""
    out = {}
    if meta.get("canonicalize_nans"):
        out["canonicalize_nans"] = True
    for key in ("fuel", "epoch_deadline"):
        if meta.get(key) is not None:
            out[key] = meta[key]
    return out


def locate(data: bytes, engine: str | None = None, limit: int = STEP_LIMIT) -> Location:
    """Localize the finding of crash file `data` (a module with an `oracle.plan` section, or a
    plain module: the default plan) to one instruction of `engine` (default: the finding's
    engine under test).  A failure of the tracing itself is a Location with status "error"
    (its summary says what failed), never an exception."""
    try:
        return _locate(data, engine, limit)
    except Exception as e:  # noqa: BLE001 - reported, not raised: see the docstring
        import traceback

        where = traceback.extract_tb(e.__traceback__)[-1]
        return Location("error", engine or "?", f"locating failed: {type(e).__name__}: {e} "
                        f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno})")


def _locate(data: bytes, engine: str | None, limit: int) -> Location:
    from oracle.crashfile import read_crash
    from oracle.plan import default_plan
    from winch.codegen.compile import compile_module
    from winch.wasm.reader import decode_module

    wasm, plan, meta = read_crash(data)
    engine = _engine_of(meta, engine)
    loc = Location("error", engine)
    if not engine.startswith("winch-"):
        loc.summary = f"{engine} is not one of our compilers: only winch-* can be located"
        return loc
    isa = engine[len("winch-"):]
    module = decode_module(wasm)
    if plan is None or not plan.calls:
        plan = default_plan(module)
    options = _options(meta)
    exact_nans = bool(options.get("canonicalize_nans"))
    k, summary = failing_call(wasm, engine, plan, options)
    loc.summary = summary
    if k < 0:
        loc.status = "no failing call"
        return loc
    loc.call, loc.export = k, plan.calls[k].export
    ops = _op_names(module)

    def op_name(func, offset):
        return ops.get((func, offset))

    epoch = options.get("epoch_deadline")
    ref_all, ref_out = interp_trace(wasm, module, plan, k, limit, epoch)
    for mode, via, skip in ((True, "debug code", STRUCTURAL),
                            ("observe", "normal code, observed (debug code does not show "
                                        "the difference)", STRUCTURAL | {"loop"})):
        got_events, got_out, traced = engine_trace(wasm, module, plan, k, isa, limit,
                                                   canonicalize_nans=exact_nans,
                                                   epoch_deadline=epoch, debug=mode)
        if _compare(loc, module, plan.calls[k].export, ref_all, ref_out, got_events, got_out,
                    traced, skip, ops, exact_nans):
            loc.via = via
            break
    else:
        loc.status = "not reproduced"
        loc.summary += (f"; neither debug code nor observed normal code differs from the "
                        f"interpreter at any step of call {k}, nor in its outcome: the "
                        "difference is elsewhere (a global, or memory the call did not write)")
        return loc
    loc.instr, loc.context = instr_context(module, loc.func, loc.offset)
    normal = compile_module(wasm, isa, jobs=1, canonicalize_nans=exact_nans,
                            epoch=epoch is not None)
    loc.machine_code = (prologue_lines(normal, loc.func) if loc.what == "entry"
                        else lowering_lines(normal, loc.func, loc.offset))
    return loc


def _compare(loc: Location, module, export, ref_all, ref_out, got_events, got_out, traced,
             skip, ops, exact_nans) -> bool:
    """Fill `loc` from the first difference of the two traces (or of the call's outcomes
    when every step agrees); False if there is none."""
    observable = {(b.func, b.offset) for b in traced.debug.boundaries}

    def keep(func, offset):
        return (func, offset) in observable and ops.get((func, offset)) not in skip

    ref_events = filter_steps(ref_all, keep)
    got_events = filter_steps(got_events, keep)
    d = first_divergence(ref_events, got_events, exact_nans,
                         lambda func, offset: ops.get((func, offset)))
    steps = grouped(ref_events)
    loc.steps = d.index if d is not None else len(steps)
    if d is None:
        if _same_outcome(ref_out, got_out, exact_nans):
            return False
        if steps:  # every step agreed: the last instruction trapped, or returned another
            trapped = any(type(o).__name__ in ("Trap", "HostError") for o in (ref_out, got_out))
            d = Divergence(len(steps), steps[-1][0], str(ref_out), str(got_out),
                           "trap" if trapped else "return")
        else:  # no step compared (an empty body, or a check at entry): the entry differs
            loc.status, loc.what = "located", "entry"
            loc.func, loc.offset = _entry_of(module, export)
            loc.expected, loc.actual = [str(ref_out)], [str(got_out)]
            return True
    loc.status = "located"
    _describe(loc, d, exact_nans)
    if d.index == len(steps):  # the outcomes differ, not a step
        loc.expected, loc.actual = [str(ref_out)], [str(got_out)]
    return True


def _entry_of(module, export: str) -> tuple[int, int]:
    """(function index, offset of its first instruction) of an exported function."""
    from winch.wasm.module import EXT_FUNC

    for e in module.exports:
        if e.kind == EXT_FUNC and e.name == export:
            j = e.index - module.num_imported_funcs
            if 0 <= j < len(module.funcs):
                return e.index, _function_instrs(module, e.index)[0].offset
            return e.index, -1
    return -1, -1


def _same_outcome(a, b, exact_nans: bool) -> bool:
    from oracle.compare import compare_outcomes

    return compare_outcomes("interp", a, "engine", b, "", exact_nans=exact_nans) is None


def _op_names(module) -> dict:
    from winch.wasm.instrs import decode_instrs

    out = {}
    first = module.num_imported_funcs
    for j, f in enumerate(module.funcs):
        for ins in decode_instrs(module.raw, f.body[0], f.body[1]):
            out[first + j, ins.offset] = ins.op.name
    return out


def format_location(loc: Location) -> str:
    lines = []
    if loc.status != "located":
        lines.append(f"{loc.status}: {loc.summary}")
        return "\n".join(lines) + "\n"
    lines.append(f"finding: {loc.summary}")
    lines.append(f"call #{loc.call} ({loc.export}) on {loc.engine}, compared with the "
                 f"interpreter through {loc.via}: {loc.steps} step(s) agree, then")
    if loc.what == "entry":
        lines.append(f"first wrong point: the entry of func {loc.func} (its prologue, before "
                     f"@{loc.offset:#x} {loc.instr})")
    else:
        lines.append(f"first wrong instruction: func {loc.func} @{loc.offset:#x}  {loc.instr}  "
                     f"({loc.what})")
    if loc.operands:
        lines.append("  operands: " + ", ".join(loc.operands))
    if loc.expected or loc.actual:
        lines.append("  expected: " + ", ".join(map(str, loc.expected)))
        lines.append("  actual:   " + ", ".join(map(str, loc.actual)))
    if loc.context:
        lines.append("  context:")
        lines.extend("    " + ln for ln in loc.context)
    if loc.machine_code:
        lines.append(f"  machine code ({loc.engine}, normal code):")
        lines.extend("    " + ln for ln in loc.machine_code)
    else:
        lines.append("  machine code: none of its own (a lazy value: it is materialized by "
                     "the instruction that uses it)")
    return "\n".join(lines) + "\n"
