"""The engine interface every backend of the oracle implements (DESIGN.md §5).

An `Engine` makes `Session`s; a session is one store: the modules compiled and instances
created in it can import from each other through `register`, as a spec script does.
Every operation reports in the common vocabulary: compile errors as `Rejected`, link errors
as `LinkError`, runs as `Outcome`s, and what an engine cannot do as `NotRun`.
"""

from __future__ import annotations

from typing import Any

from oracle.outcomes import Outcome, Values

# With a store fuel to compare (`oracle diff --fuel`): what instantiation may spend (start
# functions, constant expressions) before the store gets its fuel, on every engine.
INSTANTIATION_FUEL = 200_000_000
# With an epoch deadline (`oracle diff --epoch-deadline`): the deadline during instantiation,
# on every engine; the store gets its own after.  (wasmtime 50 evaluates a passive element
# segment's expressions at instantiation with an epoch check, which a deadline of 0
# interrupts; ours evaluates them without code.  As with fuel, calls are compared, not
# instantiation.)
INSTANTIATION_EPOCH_TICKS = 1 << 62


class Rejected(Exception):
    """The engine refused a module.

    `kind`: "malformed" (decoding failed), "invalid" (validation failed), "unsupported"
    (a feature the engine does not implement; `feature` names it), or "rejected" when the
    engine does not say which.
    """

    def __init__(self, kind: str, message: str, feature: str | None = None, offset: int = -1):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.feature = feature
        self.offset = offset


class LinkError(Exception):
    """Instantiation failed before running anything: a missing or mistyped import."""


class ResourceLimited(LinkError):
    """The engine refused to instantiate for lack of resources (inconclusive, not a bug)."""


class InstantiationTrapped(Exception):
    """Instantiation ran code (segments, start function) and that trapped or ran out."""

    def __init__(self, outcome: Outcome):
        super().__init__(str(outcome))
        self.outcome = outcome


class NotRun(Exception):
    """The engine cannot perform this operation (e.g. the front-end engine executes nothing)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Session:
    def compile(self, wasm: bytes) -> Any:
        raise NotImplementedError

    def instantiate(self, compiled: Any) -> Any:
        """Instantiate against the registered instances and the `spectest` host module."""
        raise NotImplementedError

    def register(self, name: str, instance: Any) -> None:
        raise NotImplementedError

    def invoke(self, instance: Any, export: str, args: list) -> Outcome:
        raise NotImplementedError

    def get(self, instance: Any, export: str) -> Outcome:
        """The value of an exported global, as `Values((v,))`."""
        raise NotImplementedError

    def define_host_func(self, module: str, name: str, params, results, fn) -> None:
        """Provide import `module.name`: `fn(*arg_bits) -> [result_bits]` (type names)."""
        raise NotRun(f"{type(self).__name__} cannot provide host functions")

    def memory_bytes(self, instance: Any, export: str) -> bytes:
        """The whole contents of an exported memory."""
        raise NotRun(f"{type(self).__name__} cannot read memories")

    def state(self, instance: Any, exports) -> dict:
        """What the oracle compares after each call: `exports` is a sequence of (name,
        is_memory); the answer maps each name, in that order, to the global's value (`get`'s
        single value, or its outcome when that is not `Values`) or the memory's bytes.  A name
        the engine cannot read (`NotRun`) is left out.  Engines may override this to read
        everything at once; the answer must be what `get` and `memory_bytes` give."""
        out = {}
        for name, is_memory in exports:
            try:
                if is_memory:
                    out[name] = self.memory_bytes(instance, name)
                else:
                    g = self.get(instance, name)
                    out[name] = g.values[0] if isinstance(g, Values) else g
            except NotRun:
                pass
        return out

    def close(self) -> None:
        """Done with this session: the engine may reuse what it holds for its next one (our
        engines reset and lend out the Unicorn store).  Nothing of it may be used after."""


class Engine:
    name = "?"
    executes = True  # False: only module-level commands are checked

    def session(self) -> Session:
        raise NotImplementedError
