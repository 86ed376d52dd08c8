"""Engines the oracle can run: each maps its own behaviour into the common outcomes.

`get_engine(name)` builds one by name; the modules are imported lazily so a missing optional
dependency only affects the engine that needs it.
"""

from __future__ import annotations

from oracle.engines.base import Engine

ENGINE_NAMES = ("wasmtime", "wasmtime-winch", "frontend", "winch-x64", "winch-aarch64",
                "winch-s390x", "interp")
#: our compiler's debug code (`compile_module(..., debug=True)`), an opt-in variant: debug and
#: normal code must agree (scripts/debug_agree.py)
ENGINE_NAMES += ("winch-x64-debug", "winch-aarch64-debug", "winch-s390x-debug")


def get_engine(name: str, budget: float | None = None, *,
               canonicalize_nans: bool = False, fuel: int | None = None,
               epoch_deadline: int | None = None) -> Engine:
    """`budget`: bound each call's work (wasmtime: fuel, ours: wall-clock seconds); running
    out is `Exhausted`, which the oracle counts as inconclusive.  `canonicalize_nans`: compile
    with NaN canonicalization (wasmtime's `cranelift_nan_canonicalization`, which wasmtime 50
    honours with its Winch too; ours: `compile_module(..., canonicalize_nans=True)`).
    `fuel`, `epoch_deadline`: wasmtime's fuel and epoch interruption (ours: compiled with
    `fuel=True` / `epoch=True`); the store gets `fuel` after instantiation, and running out
    (or being interrupted) is a `Trap` the oracle compares, not exhaustion."""
    if name == "wasmtime":
        from oracle.engines.wasmtime_engine import WasmtimeEngine

        return WasmtimeEngine("cranelift", budget, canonicalize_nans=canonicalize_nans,
                              fuel=fuel, epoch_deadline=epoch_deadline)
    if name == "wasmtime-winch":
        from oracle.engines.wasmtime_engine import WasmtimeEngine

        return WasmtimeEngine("winch", budget, canonicalize_nans=canonicalize_nans,
                              fuel=fuel, epoch_deadline=epoch_deadline)
    if name == "frontend":
        from oracle.engines.frontend import FrontendEngine

        return FrontendEngine()
    if name == "interp":  # the reference interpreter (oracle/interp); opt-in everywhere
        from oracle.engines.interp_engine import InterpEngine

        return InterpEngine(budget, canonicalize_nans=canonicalize_nans, fuel=fuel,
                            epoch_deadline=epoch_deadline)
    if name.startswith("winch-"):
        from oracle.engines.winch_engine import WinchEngine

        isa = name[len("winch-"):]
        if isa.endswith("-debug"):
            return WinchEngine(isa[:-len("-debug")], budget, canonicalize_nans=canonicalize_nans,
                               fuel=fuel, epoch_deadline=epoch_deadline, debug=True)
        return WinchEngine(isa, budget, canonicalize_nans=canonicalize_nans,
                           fuel=fuel, epoch_deadline=epoch_deadline)
    raise KeyError(name)
