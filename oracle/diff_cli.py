"""The `oracle diff` and `oracle replay` commands: tables, JSON, exit codes."""

from __future__ import annotations

import json
import sys

from oracle.crashfile import read_crash, write_crash
from oracle.diff import DEFAULT_ENGINES, run_diff
from oracle.engines import ENGINE_NAMES


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"oracle: {path}: cannot read: {e.strerror}", file=sys.stderr)
        return None
    if data[:4] != b"\0asm":
        print(f"oracle: {path}@0x0: not a WebAssembly binary (magic header not detected)",
              file=sys.stderr)
        return None
    return data


def _engines(arg) -> list | None:
    if not arg:
        return list(DEFAULT_ENGINES)
    names = [n.strip() for n in arg.split(",") if n.strip()]
    bad = [n for n in names if n not in ENGINE_NAMES]
    if bad or len(names) < 2:
        print(f"oracle diff: --engines needs two or more of {', '.join(ENGINE_NAMES)}"
              + (f" (unknown: {', '.join(bad)})" if bad else ""), file=sys.stderr)
        return None
    return names


def _cell(out) -> str:
    return str(out) if not isinstance(out, str) else f"not run ({out})"


def print_table(result) -> None:
    print("engines: " + ", ".join(f"{n} ({r.status}{': ' + r.detail.splitlines()[0] if r.detail else ''})"
                                  for n, r in result.runs.items()))
    ok_runs = [r for r in result.runs.values() if r.status == "ok"]
    differing = {f.where.split(":")[0] for f in result.findings}
    for i, call in enumerate(result.plan.calls):
        where = f"{call.export}#{i}"
        mark = "!!" if where in differing else "  "
        args = ", ".join(repr(a) for a in call.args)
        print(f"{mark} {call.export}({args})")
        for r in ok_runs:
            if i < len(r.outcomes):
                print(f"     {r.name:<15} {_cell(r.outcomes[i])}")
    for f in result.findings:
        print(f"FINDING {f.kind}: {f.signature}\n  {f.detail.splitlines()[0] if f.detail else ''}")
    for reason, n in sorted(result.inconclusive.items()):
        print(f"inconclusive ({n}): {reason}")
    print("all engines agree" if result.agree else f"{len(result.findings)} finding(s)")


def result_json(result) -> dict:
    return {
        "agree": result.agree,
        "engines": {n: {"status": r.status, "detail": r.detail,
                        "outcomes": [_cell(o) for o in r.outcomes]}
                    for n, r in result.runs.items()},
        "calls": [c.to_json() for c in result.plan.calls],
        "findings": [f.to_json() for f in result.findings],
        "inconclusive": result.inconclusive,
    }


def diff_command(args) -> int:
    data = _read(args.wasm)
    engines = _engines(args.engines)
    if data is None or engines is None:
        return 2
    module, plan, _ = read_crash(data)
    result = run_diff(module, engines, plan)
    if args.json:
        print(json.dumps(result_json(result), indent=1, default=str))
    else:
        print_table(result)
    if args.save and result.findings:
        f = result.findings[0]
        with open(args.save, "wb") as out:
            out.write(write_crash(module, result.plan, f.signature, engines=engines))
    return 0 if result.agree else 1


def replay_command(args) -> int:
    data = _read(args.wasm)
    if data is None:
        return 2
    module, plan, meta = read_crash(data)
    engines = meta.get("engines") or list(DEFAULT_ENGINES)
    expected = meta.get("signature", "")
    result = run_diff(module, engines, plan)
    signatures = [f.signature for f in result.findings]
    reproduces = expected in signatures if expected else bool(signatures)
    if args.json:
        print(json.dumps({"expected": expected, "reproduces": reproduces,
                          **result_json(result)}, indent=1, default=str))
    else:
        print_table(result)
        print(f"expected signature: {expected or '(none)'}")
        print("REPRODUCES" if reproduces else "fixed: the finding no longer reproduces")
        for f in result.findings:
            if f.signature != expected:
                continue
            if f.kind == "compiler crash":
                print(f.detail)  # the traceback ends with the function and opcode compiled
            elif f.isa and f.kind in ("wrong value", "wrong trap", "missing trap",
                                      "spurious trap"):
                print(explain_export(module, f.isa, f.where.split("#")[0]))
    return 1 if reproduces else 0


def explain_export(wasm: bytes, isa: str, export: str) -> str:
    """`winch explain` of the function behind `export`, for a human reading a finding."""
    from winch.codegen.compile import compile_module
    from winch.explain import explain

    try:
        c = compile_module(wasm, isa)
    except Exception as e:  # noqa: BLE001 - the finding stands; the listing is a courtesy
        return f"(no listing: {e})"
    exp = c.module.export_map().get(export)
    if exp is None or exp.index < c.module.num_imported_funcs:
        return f"(no listing: {export!r} is not a defined function)"
    return f"winch explain --target {isa} --func {exp.index}:\n" + explain(c, exp.index)
