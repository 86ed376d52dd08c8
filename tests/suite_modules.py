"""Every module of the official spec test suite, with what the suite expects of it.

Text modules are converted with wasmtime's text parser; text that the parser itself
rejects (malformed text) has no binary and is left out.
"""

from __future__ import annotations

import functools
import glob
import os
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


def suite_files() -> list[str]:
    files = sorted(glob.glob(os.path.join(SUITE, "*.wast")))
    if not files:
        raise FileNotFoundError(f"no .wast files under {SUITE} (set SPEC_TESTSUITE)")
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
