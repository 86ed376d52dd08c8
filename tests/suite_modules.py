"""Every module of the official spec test suite, with what the suite expects of it.

Text modules are converted with wasmtime's text parser; text that the parser itself
rejects (malformed text) has no binary and is left out.

The suite is the top-level core `.wast` files of the official WebAssembly testsuite
repository (https://github.com/WebAssembly/testsuite), expected at ../shared/spec-testsuite
beside the checkout or wherever `SPEC_TESTSUITE` points.  Without it, the tests that need
it are skipped with a reason that says so (under pytest); other callers get
FileNotFoundError with the same message.
"""

from __future__ import annotations

import functools
import glob
import os
import sys
from dataclasses import dataclass

import wasmtime

from oracle.spectest import script as S
from oracle.spectest.runner import text_to_binary
from oracle.spectest.script import parse_script

SUITE = os.environ.get("SPEC_TESTSUITE") or os.path.join(
    os.path.dirname(__file__), "..", "..", "shared", "spec-testsuite")


@dataclass(frozen=True)
class SuiteModule:
    file: str
    line: int
    wasm: bytes
    expect: str  # valid | invalid | malformed | unlinkable | uninstantiable | traps

    def __repr__(self) -> str:
        return f"{os.path.basename(self.file)}:{self.line}({self.expect})"


def missing_reason() -> str:
    return (f"spec test suite not found at {os.path.normpath(SUITE)} (no .wast files): set "
            "SPEC_TESTSUITE=DIR to a checkout of the official WebAssembly testsuite "
            "repository (https://github.com/WebAssembly/testsuite)")


def suite_files() -> list[str]:
    """The suite's .wast files; skips the calling test (under pytest) if there are none."""
    files = sorted(glob.glob(os.path.join(SUITE, "*.wast")))
    if not files:
        if "pytest" in sys.modules:
            import pytest

            pytest.skip(missing_reason())
        raise FileNotFoundError(missing_reason())
    return files


@functools.lru_cache(maxsize=1)
def suite_modules() -> tuple[SuiteModule, ...]:
    out = []
    for path in suite_files():
        with open(path, "rb") as f:
            script = parse_script(f.read(), path)
        for cmd in script.commands:
            if isinstance(cmd, S.ModuleCmd):
                src, expect = cmd.module, "valid"
            elif isinstance(cmd, S.AssertModule):
                src, expect = cmd.module, cmd.kind
            elif isinstance(cmd, S.AssertTrap) and cmd.module is not None:
                src, expect = cmd.module, "traps"
            else:
                continue
            try:
                wasm = text_to_binary(src)
            except wasmtime.WasmtimeError:
                continue
            out.append(SuiteModule(path, cmd.line, wasm, expect))
    return tuple(out)
