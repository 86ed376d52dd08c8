"""Swarm configurations: what one generated module may contain, drawn from a choice source.

A `Config` switches instruction families on and off and bounds the sizes (swarm testing:
with fewer families on, each is used more, and in more combinations with itself).  One
configuration in `big_frames` (16 by default) is a big frame: hundreds of extra locals and
long bodies, so that locals and spill slots lie beyond the reach of a load/store immediate.

`draw_config(src)` reads, in this order: the family subset, max_funcs, max_instrs,
max_params, max_results, max_locals, max_depth, max_imports, multi_value, canonicalize_nans,
whether to narrow the numeric operators (then 1-8 of them), whether the frame is big (then
whether it is past 32 KiB, its locals and body length).  With every choice at its simplest
(a byte source past its end) that is: no family, one function with an empty body, an
ordinary frame.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from hypothesis.errors import InvalidArgument

from winch.wasm.opcodes import OPS
from winch.wasm.types import F32, F64

from oracle.gen.source import NUM

# instruction families a configuration switches on or off (swarm testing)
FAMILIES = ("int", "float", "compare", "convert", "locals", "globals", "select", "memory",
            "bulk_memory", "blocks", "branches", "br_table", "calls", "call_indirect",
            "host_calls", "unreachable_code", "sign_extension", "saturating",
            "reference_types", "bulk_tables", "memory64", "table64", "multi_memory")
# the issue-20 families change what the memory and table families make (64-bit indices,
# several memories); alone they add nothing (see oracle.gen.mems)


def _family(o) -> str | None:
    """The `FAMILIES` entry a numeric operator belongs to (None: not a numeric operator)."""
    if not o.has_sig or o.family in ("const", "load", "store"):
        return None
    if any(t not in NUM for t in o.params + o.results):
        return None
    if o.feature == "sign-extension":
        return "sign_extension"
    if o.feature == "nontrapping-float-to-int":
        return "saturating"
    fam = {"cmp": "compare", "test": "compare", "conv": "convert"}.get(o.family)
    if fam:
        return fam
    return "float" if any(t in (F32, F64) for t in o.params + o.results) else "int"


NUMERIC_OPS = tuple(o.name for o in OPS if _family(o))

# big-frame configurations: extra locals and body length.  Locals mostly 500-1200 (past
# 4 KiB of the frame pointer), in one big frame in four 4100-4600 (past 32 KiB)
BIG_FRAME_LOCALS = (500, 4600)
BIG_FRAME_NEAR, BIG_FRAME_FAR = (500, 1200), (4100, 4600)
BIG_FRAME_INSTRS = (150, 300)
BIG_FRAME_FUNCS = 2


@dataclass(frozen=True)
class Config:
    """What a generated module may contain.  `families` is a subset of `FAMILIES`."""

    families: frozenset = frozenset(FAMILIES)
    max_funcs: int = 4
    max_instrs: int = 60  # per function body, before blocks are closed
    max_params: int = 5
    max_results: int = 3
    max_locals: int = 4
    max_depth: int = 4
    max_imports: int = 2
    multi_value: bool = True
    canonicalize_nans: bool = False
    fuel: int = 5000
    ops: frozenset | None = None  # numeric operators by name (None: every one of `families`)
    # a big frame: this many more locals in every function, of a short repeating pattern of
    # types (drawn cheaply, not one by one), so that slots lie beyond 4 KiB of the frame
    # pointer, where aarch64 needs a register to address them (issue 15)
    many_locals: int = 0

    def __post_init__(self):
        unknown = set(self.families) - set(FAMILIES)
        if unknown:
            raise InvalidArgument(f"unknown instruction families {sorted(unknown)}; "
                                  f"known: {', '.join(FAMILIES)}")
        for name in ("max_funcs", "max_instrs", "max_params", "max_results", "max_locals",
                     "max_depth", "max_imports", "fuel", "many_locals"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise InvalidArgument(f"Config.{name} must be an int >= 0, not {v!r}")
        if self.max_funcs < 1:
            raise InvalidArgument("Config.max_funcs must be at least 1")
        if not 1 <= self.fuel < 2 ** 31:
            raise InvalidArgument("Config.fuel must be in 1 .. 2**31-1")
        if self.ops is not None:
            unknown = set(self.ops) - set(NUMERIC_OPS)
            if unknown or not self.ops:
                raise InvalidArgument(f"Config.ops must be a non-empty set of numeric "
                                      f"operators; unknown: {sorted(unknown)}")

    def has(self, family: str) -> bool:
        return family in self.families


def check_sizes(max_funcs: int, max_instrs: int, big_frames: int) -> None:
    if max_funcs < 1 or max_instrs < 0:
        raise InvalidArgument("configs() needs max_funcs >= 1 and max_instrs >= 0")
    if not isinstance(big_frames, int) or big_frames < 0:
        raise InvalidArgument("configs() needs big_frames >= 0 (one in N; 0: never)")


def draw_config(src, max_funcs: int = 6, max_instrs: int = 120,
                big_frames: int = 16) -> Config:
    """A swarm configuration from `src` (see the module docstring for the order)."""
    i = src.int
    families = src.subset(FAMILIES)
    cfg = Config(families=families, max_funcs=i(1, max_funcs), max_instrs=i(0, max_instrs),
                 max_params=i(0, 8), max_results=i(0, 4), max_locals=i(0, 6),
                 max_depth=i(0, 5), max_imports=i(0, 2), multi_value=src.bool(),
                 canonicalize_nans=src.bool(),
                 ops=frozenset(src.pick(NUMERIC_OPS) for _ in range(i(1, 8)))
                 if src.bool() else None)
    if big_frames and src.chance(big_frames):
        far = src.chance(4)
        cfg = replace(cfg, many_locals=i(*BIG_FRAME_FAR if far else BIG_FRAME_NEAR),
                      max_instrs=i(*BIG_FRAME_INSTRS),
                      max_funcs=min(cfg.max_funcs, BIG_FRAME_FUNCS))
    return cfg


# (operator, family, whether it involves a float) for every numeric operator, computed once
_NUMERIC = tuple((o, _family(o), any(t in (F32, F64) for t in o.params + o.results))
                 for o in OPS if _family(o))
# float comparisons come with "compare" alone: their NaN cases (unordered flags) are a
# classic lowering bug, and needing "float" too made them rare
_FLOAT_ALONE = frozenset(("convert", "saturating", "compare"))


@functools.lru_cache(maxsize=512)
def numeric_ops(cfg: Config) -> tuple:
    """The numeric operators `cfg` enables (once per configuration, not per body): those of
    its families, narrowed to `cfg.ops` unless that leaves none."""
    fams, floats = cfg.families, "float" in cfg.families
    out = [o for o, fam, floaty in _NUMERIC
           if fam in fams and (not floaty or floats or fam in _FLOAT_ALONE)]
    if cfg.ops is None:
        return tuple(out)
    chosen = tuple(o for o in out if o.name in cfg.ops)
    return chosen or tuple(out)
