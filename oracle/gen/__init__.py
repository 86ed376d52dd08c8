"""The module generator: one generator, two choice sources.

    from oracle.gen import generate          # libFuzzer bytes -> a valid module
    from oracle.strategies import wasm_modules   # the same generator as a hypothesis strategy

`oracle.gen.source` (where choices come from: the bytes of an input, or hypothesis),
`oracle.gen.config` (swarm configurations), `oracle.gen.body` (one function body, with the
boundary-value tables), `oracle.gen.refs` (reference, table and bulk-data actions),
`oracle.gen.mems` (several and 64-bit memories: the memory64 / multi_memory families),
`oracle.gen.module` (the module around the bodies, and `generate`).

Speed: about 0.3 ms per module (median, byte source; `scripts/bench_generator.py`): per
choice a method call and a byte read; instructions are written as bytes, and what depends
only on the configuration or the module is computed once and cached.
"""

from oracle.gen.module import build, generate

__all__ = ["build", "generate"]
