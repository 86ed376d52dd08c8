"""A reference interpreter for the WebAssembly our compiler supports (issue 23).

Written from the spec's execution semantics, sharing no code with wasmtime and no lowering
with `winch.codegen` (it reuses only `winch.wasm`'s decoder and validator):

    scope.py      what it runs (the compiler's scope) and `load(wasm)` -> Module
    runtime.py    memories, tables, globals, function instances, instantiation
    numeric.py    the numeric operators (exact integer and IEEE float semantics)
    ops.py        control, variable, reference, memory and table instructions
    predecode.py  a body -> flat code with resolved branches (once per function)
    machine.py    the loop: calls, returns, traps, budgets, traced runs (`Step`, `Write`)

oracle/engines/interp_engine.py makes it the oracle engine `interp`.
"""
