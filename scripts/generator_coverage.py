"""How far `oracle.strategies.wasm_modules()` reaches: opcodes, sizes, stack depth, outcomes.

    python scripts/generator_coverage.py [--modules 1000] [--seed 1]

Draws N modules from `wasm_modules()` under swarm configurations (as the differential fuzz
target does), decodes each with `winch.wasm.reader.decode_module` and prints:

1. opcode coverage: the share of in-scope operators that occur at least once in some
   function body, and the in-scope operators that never occur.  *In scope* is derived, not
   listed: every row of `winch/wasm/opcodes.py` whose feature is one of the generator's
   features (those of `SINGLE_INSTRUCTION_OPS`: mvp, sign-extension,
   nontrapping-float-to-int), plus every other row the generator emits by name (a string
   literal in an `emit`/`_op`/`_open` call of `oracle/strategies.py`, e.g. `memory.fill`).
   A missing operator is marked "no path" when the generator neither emits it by name nor
   draws it from a table (numeric, load, store), so no number of modules would show it;
2. module sizes: instructions (each body's final `end` not counted) and bytes;
3. the maximum operand-stack height per module (over its functions), from
   `oracle.reduce.stack_types.stack_before`: unreachable code (after br/return/unreachable
   to the end of its block) is skipped, a block opened in it counts from its parent's base;
4. the outcome of every call of each module's default plan on the engine "wasmtime": returned,
   trapped (by trap kind), out of fuel.  "Out of fuel" is the generated code's own fuel
   global (exported as `fuel`) running out: an `unreachable` trap with `fuel` == 0 after the
   call; wasmtime's own per-call budget running out (`Exhausted`) is counted apart.

Progress goes to stderr every 100 modules.
"""

from __future__ import annotations

import argparse
import ast
import pathlib
import statistics
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from oracle import strategies  # noqa: E402
from oracle.diff import run_diff  # noqa: E402
from oracle.outcomes import Exhausted, HostError, Trap, TrapKind, Values  # noqa: E402
from oracle.reduce.edit import bodies  # noqa: E402
from oracle.reduce.stack_types import block_sig, stack_before  # noqa: E402
from winch.wasm.opcodes import BY_NAME, OPS  # noqa: E402
from winch.wasm.reader import decode_module  # noqa: E402

ENGINE = "wasmtime"


def generator_drawn() -> set:
    """Operators the generator draws from its tables (numeric ops with every family on,
    loads, stores) or emits by name (string literals in its `emit`/`_op`/`_open` calls)."""
    drawn = {o.name for o in strategies._numeric_ops(strategies.Config())}
    drawn |= set(strategies.SINGLE_INSTRUCTION_OPS)  # numeric, loads and stores
    for table in (strategies._Body._LOADS, strategies._Body._STORES):
        drawn |= {n for names in table.values() for n in names}
    tree = ast.parse(pathlib.Path(strategies.__file__).read_text())
    for call in ast.walk(tree):  # literals inside emit(...), _op(...), _open(...) calls
        f = getattr(call, "func", None)
        if getattr(f, "attr", getattr(f, "id", None)) in ("emit", "_op", "_open"):
            drawn |= {n.value for n in ast.walk(call)
                      if isinstance(n, ast.Constant) and n.value in BY_NAME}
    return drawn


def in_scope() -> list:
    """In-scope operator names, in opcode-table order (see the module docstring)."""
    features = {BY_NAME[n].feature for n in strategies.SINGLE_INSTRUCTION_OPS}
    named = generator_drawn()
    return [o.name for o in OPS if o.feature in features or o.name in named]


def generate(n: int, seed: int, progress=None) -> list:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    out: list = []

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategies.wasm_modules())
    def collect(wasm):
        out.append(wasm)
        if progress and len(out) % 100 == 0:
            progress(f"generated {len(out)}/{n}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        collect()
    return out


def max_stack_height(m, fidx: int, instrs) -> int:
    """Highest operand-stack height (from the function's base) before any instruction of a
    body; unreachable code, whose stack `stack_before` leaves unknown, is skipped."""
    bases = [0]
    best = 0
    for ins, state in zip(instrs, stack_before(m, fidx, instrs)):
        height = bases[-1] + (len(state[1]) if state is not None else 0)
        best = max(best, height)
        name = ins.op.name
        if name in ("block", "loop", "if"):
            params = block_sig(m, ins.imm)[0]
            bases.append(height - (name == "if") - len(params) if state is not None
                         else bases[-1])
        elif name == "end":
            bases.pop()
    return best


def classify(out, state: dict) -> str:
    if isinstance(out, Values):
        return "returned"
    if isinstance(out, Trap):
        fuel = state.get("fuel")
        if out.kind == TrapKind.unreachable and fuel is not None and fuel.bits == 0:
            return "out of fuel (fuel global)"
        return f"trapped: {out.kind.value}"
    if isinstance(out, Exhausted):
        return f"exhausted (engine budget: {out.reason})"
    if isinstance(out, HostError):
        return "host error"
    return f"not run: {out}"


@dataclass
class Report:
    modules: int = 0
    scope: list = field(default_factory=list)
    seen: Counter = field(default_factory=Counter)  # opcode -> occurrences
    no_path: set = field(default_factory=set)  # in scope, but never drawn nor named
    instrs: list = field(default_factory=list)
    sizes: list = field(default_factory=list)
    depths: list = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)  # per call; module failures too

    @property
    def missing(self) -> list:
        return [n for n in self.scope if n not in self.seen]

    @property
    def opcode_share(self) -> float:
        return 1 - len(self.missing) / len(self.scope)


def measure(n: int, seed: int = 1, progress=None) -> Report:
    scope = in_scope()
    rep = Report(scope=scope, no_path=set(scope) - generator_drawn())
    for i, wasm in enumerate(generate(n, seed, progress), 1):
        m = decode_module(wasm)
        bs = bodies(m)
        for b in bs:
            rep.seen.update(ins.op.name for ins in b)
        rep.modules += 1
        rep.instrs.append(sum(len(b) - 1 for b in bs))
        rep.sizes.append(len(wasm))
        rep.depths.append(max((max_stack_height(m, k, b) for k, b in enumerate(bs)), default=0))
        run = run_diff(wasm, (ENGINE,), determinism="none").runs[ENGINE]
        if run.status != "ok":
            rep.outcomes[f"module {run.status}"] += 1
        for out, state in zip(run.outcomes, run.states):
            rep.outcomes[classify(out, state)] += 1
        if progress and i % 100 == 0:
            progress(f"measured {i}/{n}")
    return rep


def distribution(title: str, xs: list, bins: int = 10, width: int = 40) -> list:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(0.9 * len(xs)))]
    lines = [f"{title}: min {xs[0]}, median {statistics.median(xs):g}, p90 {p90}, "
             f"max {xs[-1]}"]
    lo, hi = xs[0], xs[-1]
    step = max(1, -(-(hi - lo + 1) // bins))
    counts = Counter((x - lo) // step for x in xs)
    top = max(counts.values())
    for b in range((hi - lo) // step + 1):
        a = lo + b * step
        c = counts.get(b, 0)
        lines.append(f"  {a:>7}..{a + step - 1:<7} {c:5} {'#' * round(width * c / top)}")
    return lines


def format_report(rep: Report) -> str:
    lines = [f"{rep.modules} modules from wasm_modules() (swarm configurations)", ""]
    seen = len(rep.scope) - len(rep.missing)
    lines.append(f"1. opcodes: {seen}/{len(rep.scope)} in-scope operators seen "
                 f"({100 * rep.opcode_share:.1f}%)")
    for name in rep.missing:
        lines.append(f"   never seen: {name}" + ("  (no path in the generator)"
                                                 if name in rep.no_path else ""))
    lines += ["", "2. module sizes"] + distribution("   instructions", rep.instrs)
    lines += distribution("   bytes", rep.sizes)
    lines += ["", "3. operand stack"] + distribution("   max height per module", rep.depths)
    total = sum(v for k, v in rep.outcomes.items() if not k.startswith("module "))
    lines += ["", f"4. outcomes of {total} calls on {ENGINE}"]
    for k, v in sorted(rep.outcomes.items(), key=lambda kv: (-kv[1], kv[0])):
        share = "" if k.startswith("module ") else f" {100 * v / total:5.1f}%"
        lines.append(f"   {k:<40} {v:6}{share}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    rep = measure(args.modules, args.seed,
                  lambda msg: print(f"[{time.monotonic() - t0:6.1f}s] {msg}", file=sys.stderr))
    print(format_report(rep))
    print(f"\n({time.monotonic() - t0:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
