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
    if result.canonicalize_nans:
        print("NaN canonicalization: on (every engine; NaN bits compared exactly)")
    if result.fuel is not None:
        print(f"fuel: {result.fuel} (every engine; the fuel left after each call compared)")
        for n, r in result.runs.items():
            if r.fuel:
                print(f"  fuel left, {n}: {' '.join(map(str, r.fuel))}")
    if result.epoch_deadline is not None:
        print(f"epoch deadline: {result.epoch_deadline} (every engine)")
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
    verdict = result.verdict
    if verdict == "agree":
        n = sum(1 for c in result.compared.values() if c)
        print(f"all engines agree (the reference and {n} other engine(s) compared)")
    elif verdict == "findings":
        print(f"{len(result.findings)} finding(s)")
    else:
        print(result.reason)


def result_json(result) -> dict:
    return {
        "agree": result.agree,
        "verdict": result.verdict,  # findings | agree | nothing compared | bad input
        "reason": result.reason,  # why nothing was compared, or why the input is bad
        "compared": result.compared,  # calls compared conclusively with the reference
        "engines": {n: {"status": r.status, "detail": r.detail,
                        "outcomes": [_cell(o) for o in r.outcomes]}
                    for n, r in result.runs.items()},
        "calls": [c.to_json() for c in result.plan.calls],
        "findings": [f.to_json() for f in result.findings],
        "inconclusive": result.inconclusive,
        "canonicalize_nans": result.canonicalize_nans,
        "fuel": result.fuel,
        "fuel_left": {n: r.fuel for n, r in result.runs.items() if r.fuel},
        "epoch_deadline": result.epoch_deadline,
    }


def _mutant(args, command: str):
    """The context that plants `--mutant NAME` (a deliberate bug of `oracle.mutants`) for
    the command, or None after a one-line error for an unknown name."""
    import contextlib

    from oracle.mutants import BY_NAME, applied

    name = getattr(args, "mutant", None)
    if not name:
        return contextlib.nullcontext()
    if name not in BY_NAME:
        print(f"oracle {command}: unknown mutant {name!r} (`python scripts/mutants.py list` "
              "lists them)", file=sys.stderr)
        return None
    return applied(name)


def _crash(data: bytes, path: str, command: str):
    """read_crash, or None after a one-line error for a broken `oracle.plan` section."""
    try:
        return read_crash(data)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        print(f"oracle {command}: {path}: bad `oracle.plan` section: {e}", file=sys.stderr)
        return None


def _bad_input(result, path: str, command: str) -> None:
    at = f"@{result.bad_input_offset:#x}" if result.bad_input_offset is not None else ""
    print(f"oracle {command}: {path}{at}: {result.bad_input}", file=sys.stderr)


# exit status of `oracle diff` and `oracle replay` by verdict (DESIGN.md §6)
EXIT_NOTHING_COMPARED = 3


def diff_command(args) -> int:
    """Exit 0: the reference and at least one other engine compared at least one call
    conclusively, and nothing differed; 1: findings; 2: bad input (unreadable, malformed or
    invalid for our front end and the reference alike), bad usage; 3: nothing compared (one
    line says why)."""
    data = _read(args.wasm)
    engines = _engines(args.engines)
    if data is None or engines is None:
        return 2
    crash = _crash(data, args.wasm, "diff")
    mutant = _mutant(args, "diff")
    if crash is None or mutant is None:
        return 2
    module, plan, _ = crash
    canon = bool(getattr(args, "canonicalize_nans", False))
    limits = {k: getattr(args, k, None) for k in ("fuel", "epoch_deadline")}
    limits = {k: v for k, v in limits.items() if v is not None}
    wasi_only = [f"--{k}" for k in ("dir", "env", "stdin", "timeout") if getattr(args, k, None)]
    if getattr(args, "wasi", False) and limits or wasi_only and not getattr(args, "wasi", False):
        print("oracle diff: " + ("--fuel/--epoch-deadline do not apply to --wasi" if limits
                                 else f"{wasi_only[0]} needs --wasi"), file=sys.stderr)
        return 2
    if getattr(args, "wasi", False):
        from oracle.wasi_diff import diff_command as wasi_diff

        return wasi_diff(args, module, engines, mutant)
    if "fuel" in limits and not args.engines:
        # wasmtime 50's own Winch counts fuel differently from its Cranelift (one unit off
        # after a memory.fill of a computed length, tests/test_fuel.py): not by default
        engines = [e for e in engines if e != "wasmtime-winch"]
    with mutant:
        result = run_diff(module, engines, plan, canonicalize_nans=canon, **limits)
    if result.verdict == "bad input":
        _bad_input(result, args.wasm, "diff")
        return 2
    if args.json:
        print(json.dumps(result_json(result), indent=1, default=str))
    else:
        print_table(result)
    if args.save and result.findings:
        f = result.findings[0]
        with open(args.save, "wb") as out:
            extra = {"canonicalize_nans": True} if canon else {}
            extra.update(limits)
            out.write(write_crash(module, result.plan, f.signature, identity=str(f.identity),
                                  engines=engines, **extra))
    return {"findings": 1, "agree": 0}.get(result.verdict, EXIT_NOTHING_COMPARED)


def replay_command(args) -> int:
    """Re-run a crash file's plan on its engines.  Exit 1: it still shows its finding, or a
    different one (said so); 0: fixed (the engines compared conclusively and agree); 2: not
    a crash file, or bad input; 3: nothing compared (one line says why)."""
    from oracle.compare import same_finding
    from oracle.crashfile import expected_identity

    data = _read(args.wasm)
    if data is None:
        return 2
    crash = _crash(data, args.wasm, "replay")
    mutant = _mutant(args, "replay")
    if crash is None or mutant is None:
        return 2
    module, plan, meta = crash
    if plan is None:
        print(f"oracle replay: {args.wasm}: not a crash file (no `oracle.plan` section); "
              "`oracle diff` runs any module", file=sys.stderr)
        return 2
    engines = meta.get("engines") or list(DEFAULT_ENGINES)
    unknown = [e for e in engines if e not in ENGINE_NAMES]
    try:
        expected = expected_identity(meta, module)
    except ValueError as e:
        print(f"oracle replay: {args.wasm}: bad `oracle.plan` section: {e}", file=sys.stderr)
        return 2
    if unknown or len(engines) < 2:
        print(f"oracle replay: {args.wasm}: bad engine list {engines}", file=sys.stderr)
        return 2
    if meta.get("wasi") is not None:  # saved by `oracle diff --wasi`
        from oracle.wasi_diff import replay_command as wasi_replay

        return wasi_replay(args, module, meta, engines, expected, mutant)
    # the finding was made with (or without) NaN canonicalization: replay it the same way
    canon = bool(meta.get("canonicalize_nans", False))
    limits = {k: meta[k] for k in ("fuel", "epoch_deadline") if meta.get(k) is not None}
    with mutant:
        result = run_diff(module, engines, plan, canonicalize_nans=canon, **limits)
    same = [f for f in result.findings if expected is None or same_finding(expected, f)]
    if same:
        verdict = "reproduces"
    elif result.findings:
        verdict = "different finding"
    elif result.verdict == "bad input":
        if expected is None or expected.kind != "validation disagreement":
            _bad_input(result, args.wasm, "replay")
            return 2
        verdict = "fixed"  # every engine now rejects it, as the reference does
    elif result.verdict == "nothing compared":
        verdict = "nothing compared"
    else:
        verdict = "fixed"
    if args.json:
        print(json.dumps({"expected": meta.get("signature", ""),
                          "expected_identity": str(expected) if expected else "",
                          "reproduces": verdict == "reproduces", "replay": verdict,
                          **result_json(result)}, indent=1, default=str))
    else:
        print_table(result)
        print(f"expected: {expected or '(any finding)'}")
        if verdict == "reproduces":
            print(f"REPRODUCES: {same[0].identity}")
        elif verdict == "different finding":
            print(f"a DIFFERENT finding reproduces: {result.findings[0].identity} "
                  "(not the expected one)")
        elif verdict == "fixed":
            made_by = meta.get("signature", "").rpartition("|mutant ")[2] \
                if "|mutant " in meta.get("signature", "") else ""
            print("fixed: the finding no longer reproduces" + (
                f" (it was found with a deliberate bug planted: add --mutant {made_by})"
                if made_by and not getattr(args, "mutant", None) else ""))
        for f in same[:1]:
            if f.kind == "compiler crash":
                print(f.detail)  # the traceback ends with the function and opcode compiled
            elif f.isa and f.kind in ("wrong value", "wrong trap", "missing trap",
                                      "spurious trap"):
                print(explain_export(module, f.isa, f.identity.export, canon))
    if verdict == "nothing compared":
        return EXIT_NOTHING_COMPARED
    return 0 if verdict == "fixed" else 1


def explain_export(wasm: bytes, isa: str, export: str, canonicalize_nans: bool = False) -> str:
    """`winch explain` of the function behind `export`, for a human reading a finding."""
    from winch.codegen.compile import compile_module
    from winch.explain import explain

    try:
        c = compile_module(wasm, isa, canonicalize_nans=canonicalize_nans)
    except Exception as e:  # noqa: BLE001 - the finding stands; the listing is a courtesy
        return f"(no listing: {e})"
    exp = c.module.export_map().get(export)
    if exp is None or exp.index < c.module.num_imported_funcs:
        return f"(no listing: {export!r} is not a defined function)"
    flag = " --canonicalize-nans" if canonicalize_nans else ""
    return f"winch explain --target {isa}{flag} --func {exp.index}:\n" + explain(c, exp.index)
