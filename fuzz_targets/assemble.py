#!/usr/bin/env python3
"""Fuzz target: our three assemblers against Capstone.

Each input picks an ISA, one instruction form and its operands (see `asm_forms`), encodes
the instruction with our assembler and checks that Capstone decodes exactly what was
asked for, with the expected-text logic of tests/test_{x64,aarch64,s390x}_asm.py
(`fuzz_targets.asm_ref`).

    .venv/bin/python -m fuzz_targets.assemble CORPUS_DIR -max_total_time=60

About 1 input in 8 is "wild": its integer draws may fall outside their ranges.  An
`EncodingError` for such an operand is the assembler doing its job; any other exception
escaping the assembler is a crash (winch/errors.py: anything else is a bug).  For an input
whose operands are all in range, an `EncodingError` is a failure too (a valid operand was
rejected), and so is an encoding Capstone reads differently, wild or not.

Failures already reported can be skipped with ASM_FUZZ_KNOWN, a regular expression
searched in the failure report (e.g. ASM_FUZZ_KNOWN='imul_rri\\(2,').
"""

from __future__ import annotations

import os
import sys

if not __package__ and sys.path[0] == os.path.dirname(os.path.realpath(__file__)):
    # run by path (as libFuzzer's -fork/-jobs children are): import the package, not its files
    sys.path[0] = os.path.dirname(sys.path[0])

import re

import atheris

with atheris.instrument_imports(include=["winch"]):
    import winch  # noqa: F401
    import winch.errors
    import winch.isa.aarch64.asm
    import winch.isa.aarch64.imms
    import winch.isa.s390x.asm
    import winch.isa.x64.asm
    import winch.masm.buffer

from winch.errors import EncodingError  # noqa: E402

from fuzz_targets.asm_forms import FORMS, ISAS, FdpSource, capstone_text  # noqa: E402

WILD_ONE_IN = 8

# A regular expression over the failure report: matching failures are known (reported,
# not fixed yet) and ignored, so a run can look past them.  Unset: nothing is ignored.
_KNOWN = re.compile(os.environ["ASM_FUZZ_KNOWN"]) if os.environ.get("ASM_FUZZ_KNOWN") else None


class AssemblerCrash(Exception):
    """The assembler raised something other than `EncodingError`."""


def _report(title: str, isa: str, form: str, case, src, code: bytes | None, problem: str) -> str:
    lines = [title,
             f"  isa:      {isa}",
             f"  form:     {form}",
             f"  call:     {case.call if case else '?'}",
             f"  draws:    {src.draws!r}" + ("  (some out of range)" if src.went_wild else "")]
    if code is not None:
        lines += [f"  bytes:    {code.hex()}",
                  f"  capstone: {capstone_text(isa, code)}"]
    if case is not None:
        lines.append(f"  expected: {case.expected}")
    lines.append(f"  problem:  {problem}")
    return "\n".join(lines)


_WINCH_DIR = os.path.dirname(os.path.abspath(winch.__file__)) + os.sep


def _raised_in_winch(e: BaseException) -> bool:
    tb = e.__traceback__
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(_WINCH_DIR):
            return True
        tb = tb.tb_next
    return False


def _fail(exc_type, report: str, cause: BaseException | None = None) -> None:
    if _KNOWN is not None and _KNOWN.search(report):
        return
    raise exc_type(report) from cause


def check_one(data: bytes) -> None:
    """Run one input; raise AssertionError on a mismatch, AssemblerCrash on a crash."""
    fdp = atheris.FuzzedDataProvider(data)
    src = FdpSource(fdp, wild=fdp.ConsumeIntInRange(0, WILD_ONE_IN - 1) == 0)
    isa = src.choice(ISAS)
    form = src.choice(FORMS[isa])
    try:
        case = form.build(src)
    except Exception:
        if src.went_wild:
            return  # the expected-text builders only know in-range operands
        raise
    try:
        code = case.encode()
    except EncodingError as e:
        if not src.went_wild:
            _fail(AssertionError, _report("assembler rejected in-range operands", isa, form.name,
                                          case, src, None, f"EncodingError: {e}"), e)
        return
    except Exception as e:
        if src.went_wild and not _raised_in_winch(e):
            return  # e.g. Shift(-1) built by the form before the assembler was called
        _fail(AssemblerCrash, _report("assembler crashed", isa, form.name, case, src, None,
                                      f"{type(e).__name__}: {e}"), e)
        return
    problem = case.verify(code)
    if problem is not None:
        title = "assembler/Capstone mismatch" + (
            " (an out-of-range operand was accepted)" if src.went_wild else "")
        _fail(AssertionError, _report(title, isa, form.name, case, src, code, problem))


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    check_one(data)


def main(argv: list[str] | None = None) -> None:
    atheris.Setup(argv or sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
