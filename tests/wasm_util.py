"""Helpers for tests that build small modules from text."""

import wasmtime


def wat(text: str) -> bytes:
    return wasmtime.wat2wasm(text)


def func_module(body: str, params: str = "", results: str = "", locals_: str = "",
                extra: str = "") -> bytes:
    """A module with one function `f` around `body` (folded or flat WAT)."""
    sig = (f"(param {params})" if params else "") + (f" (result {results})" if results else "")
    loc = f"(local {locals_})" if locals_ else ""
    return wat(f"(module {extra} (func (export \"f\") {sig} {loc} {body}))")
