"""The encoder: decode -> encode round trips over the spec suite, and instruction lists."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from tests.suite_modules import suite_modules
from tests.wasm_util import wat
from winch.errors import Unsupported, WinchError
from winch.wasm import validate
from winch.wasm.encoder import encode_instrs, encode_module, func_instrs
from winch.wasm.module import ConstExpr, Instr, Module
from winch.wasm.reader import decode_module


def _strip(x):
    """A comparable form of module parts: no byte offsets, bodies as instruction lists."""
    if isinstance(x, Instr):
        return (x.op.name, _strip(x.imm))
    if isinstance(x, ConstExpr):
        return tuple(_strip(i) for i in x.instrs)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return tuple((f.name, _strip(getattr(x, f.name))) for f in dataclasses.fields(x)
                     if f.name not in ("offset", "body", "raw", "instrs"))
    if isinstance(x, (tuple, list)):
        return tuple(_strip(i) for i in x)
    return x


def semantic(m: Module):
    funcs = tuple((_strip(f), tuple(_strip(i) for i in func_instrs(m, f))) for f in m.funcs)
    return (_strip(dataclasses.replace(m, funcs=(), section_order=())), funcs)


def _in_scope():
    out = []
    for sm in suite_modules():
        if sm.expect not in ("valid", "unlinkable", "uninstantiable", "traps"):
            continue
        try:
            out.append((sm, validate(sm.wasm)))
        except (Unsupported, WinchError):
            continue
    return out


@pytest.mark.slow
def test_round_trip_over_the_suite():
    counts = Counter()
    for sm, m in _in_scope():
        out = encode_module(m)
        if out == sm.wasm:
            counts["identical"] += 1
            continue
        # not byte-identical: the original must have had a non-canonical encoding, and the
        # meaning must survive (and our output is a fixed point of decode -> encode)
        counts["semantic"] += 1
        m2 = decode_module(out)
        assert semantic(m2) == semantic(m), sm
        assert encode_module(m2) == out, sm
        assert len(out) < len(sm.wasm), f"{sm}: canonical output should be shorter"
    assert counts["identical"] > 2000, counts


@pytest.mark.slow
def test_instruction_lists_encode_to_the_same_module():
    for sm, m in _in_scope()[::7]:
        funcs = tuple(dataclasses.replace(f, instrs=func_instrs(m, f)) for f in m.funcs)
        m_list = dataclasses.replace(m, funcs=funcs)
        out = encode_module(m_list)
        assert semantic(decode_module(out)) == semantic(m), sm
        validate(out)


def test_tool_built_body():
    m = validate(wat('(module (func (export "f") (param i32) (result i32) '
                     '(i32.add (local.get 0) (i32.const -70000))))'))
    body = func_instrs(m, m.funcs[0])
    assert [i.op.name for i in body] == ["local.get", "i32.const", "i32.add", "end"]
    assert encode_instrs(body) == bytes([0x20, 0x00, 0x41]) + b"\x90\xdd\x7b" + b"\x6a\x0b"
    # replace the constant and re-encode: the result validates and decodes to the new body
    new = (body[0], dataclasses.replace(body[1], imm=5, offset=-1)) + body[2:]
    m2 = dataclasses.replace(m, funcs=(dataclasses.replace(m.funcs[0], instrs=new),))
    out = encode_module(m2)
    assert [(i.op.name, i.imm) for i in func_instrs(validate(out), validate(out).funcs[0])][:2] \
        == [("local.get", 0), ("i32.const", 5)]
