"""Execution plans: which exports are called, in what order, with which arguments.

A plan is data (JSON in a crash file's `oracle.plan` custom section).  The default plan calls
every exported function, in export order, with edge-value arguments: the first call uses
zeros, later ones walk each type's list of edge values (0, +-1, min, max, NaN, +-inf, +-0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from oracle.values import Value
from winch.wasm.module import EXT_FUNC
from winch.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128

TYPE_NAMES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64", V128: "v128", FUNCREF: "funcref",
              EXTERNREF: "externref"}

EDGES = {
    "i32": [0, 1, 0xFFFF_FFFF, 0x8000_0000, 0x7FFF_FFFF, 2, 0xFFFF_FFFE, 31, 32, 0x10000],
    "i64": [0, 1, (1 << 64) - 1, 1 << 63, (1 << 63) - 1, 2, 63, 64, 0xFFFF_FFFF, 1 << 32],
    # 0, 1, -1, +inf, -inf, NaN (canonical), -0, max, min positive subnormal, 2**31
    "f32": [0, 0x3F80_0000, 0xBF80_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x8000_0000,
            0x7F7F_FFFF, 1, 0x4F00_0000],
    "f64": [0, 0x3FF0 << 48, 0xBFF0 << 48, 0x7FF0 << 48, 0xFFF0 << 48, 0x7FF8 << 48, 1 << 63,
            0x7FEF_FFFF_FFFF_FFFF, 1, 0x41E0 << 48],
    "v128": [0, (1 << 128) - 1, 1, 1 << 127],
    "funcref": [None],
    "externref": [None, 1, 2],
}


@dataclass(frozen=True)
class Call:
    export: str
    args: tuple  # of Value

    def to_json(self) -> dict:
        return {"export": self.export,
                "args": [[a.type, a.bits] for a in self.args]}

    @classmethod
    def from_json(cls, d: dict) -> "Call":
        return cls(d["export"], tuple(Value(t, b) for t, b in d["args"]))


@dataclass
class Plan:
    calls: list = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"version": 1, "calls": [c.to_json() for c in self.calls]},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        d = json.loads(text)
        return cls([Call.from_json(c) for c in d.get("calls", [])])


def default_plan(module, calls_per_export: int = 3) -> Plan:
    """Every exported function, `calls_per_export` times, with edge-value arguments."""
    calls = []
    for e in module.exports:
        if e.kind != EXT_FUNC:
            continue
        ft = module.func_type(e.index)
        names = [TYPE_NAMES.get(t) for t in ft.params]
        if None in names:
            continue  # a parameter type the plan cannot express
        for k in range(calls_per_export):
            args = []
            for i, n in enumerate(names):
                edges = EDGES[n]
                args.append(Value(n, edges[(k * (i + 1) + i * k) % len(edges)] if k else edges[0]))
            calls.append(Call(e.name, tuple(args)))
    return Plan(calls)
