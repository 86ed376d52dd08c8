"""Parallel compilation: function bodies compiled in worker processes, linked into the code
one process makes, byte for byte.

Problem
-------
A module's functions compile independently: a function's code depends on its own body and
on module-level facts only, never on where it lands (every reference to another function or
to the constant pool is a label fixup patched by `CodeBuffer.finish()`, and functions are
not padded).  So the defined functions can be split into contiguous parts, compiled
apart, and joined in order.

Algorithm
---------
- The functions are cut into `jobs` contiguous parts of about equal body bytes (the parent's
  part `PARENT_WEIGHT` times larger).
- The parent forks `jobs - 1` children (`os.fork`: a child starts with the decoded module,
  the module context and the warm encoder caches of its parent; nothing is imported or sent
  to it) and compiles part 0 itself, into the module's buffer.  Child k compiles part k into
  a buffer of its own whose first labels are the module's function labels (the same numbers
  everywhere), patches the fixups to its own labels (`CodeBuffer.resolve_local`: a patch
  depends on distances only) and sends back, through a pipe, that buffer, the part's function
  starts and source locations (pickled).
- The parent splices the parts in order (`CodeBuffer.splice`): bytes appended, the part's
  own labels renumbered, fixups, trap records and source locations moved, constant-pool
  entries requested in the order the part made them (so the pool is deduplicated and laid
  out as in one process).  A worker's trap records and source locations stay packed as it
  sent them until someone asks (`CompiledModule.traps`, `.srcloc_packed`): most compiles
  never trap nor explain, and unpacking them was a tenth of the parent's wait.

Invariants
----------
- `compile_module(..., jobs=N)` gives the same `CompiledModule` (code, starts, traps,
  source locations) for every N (tests/test_parallel_compile.py).
- Errors: if any part fails (an invalid or unsupported body, or a worker that died before
  sending its part), `compile_parallel` returns False and the caller compiles in one process, which reports
  exactly the error a one-process compile reports (the first in function order, invalidity
  over Unsupported).  A worker never raises into the parent.
"""

from __future__ import annotations

import array
import atexit
import os
import pickle

#: `jobs=None` compiles in parallel only a module with more code than this (bytes of function
#: bodies): below it, forking and joining cost more than they save.
AUTO_MIN_BYTES = 256 * 1024


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def jobs_for(m, jobs) -> int:
    """How many processes compile module `m`: `jobs`, or by default (None) the cores this
    process may use for a large module; never more than its functions, never more than one
    where `os.fork` does not exist."""
    if jobs is None:
        if len(m.raw) <= AUTO_MIN_BYTES:  # the bodies lie inside it: no need to add them up
            jobs = 1
        else:
            code = sum([end - start for start, end in [f.body for f in m.funcs]])
            jobs = available_cores() if code > AUTO_MIN_BYTES else 1
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1 (got {jobs})")
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(jobs, len(m.funcs)))


#: The parent's part is this much larger than a worker's: a worker also pays for the pages it
#: copies on write and for pickling its part; the parent splices afterwards (measured on
#: sql.js, two cores: the halves then end at about the same time).
PARENT_WEIGHT = 1.1


def split(m, parts: int, first: float = 1.0) -> list:
    """Cut the defined functions into `parts` contiguous ranges (lo, hi) of about equal body
    bytes, the first `first` times as many as each other one (every range non-empty)."""
    sizes = [end - start for start, end in (f.body for f in m.funcs)]
    n = len(sizes)
    weight = first + parts - 1
    total = sum(sizes)
    ranges = []
    lo = 0
    acc = 0
    for i, size in enumerate(sizes):
        acc += size
        k = len(ranges)  # the range being filled
        left = parts - k - 1  # ranges still to make after this one
        if left and (acc * weight >= total * (first + k) or n - i - 1 == left):
            ranges.append((lo, i + 1))
            lo = i + 1
            if len(ranges) == parts - 1:
                break
    ranges.append((lo, n))
    return ranges


def compile_parallel(m, env, masm, ctx, jobs: int, starts: list, srclocs: list,
                     srcloc_parts: list) -> bool:
    """Compile every defined function of `m` into `masm`'s buffer with `jobs` processes;
    False if a part failed (the caller then compiles in one process).  The parent's part
    appends to `starts` and `srclocs`; each worker's part adds its starts to `starts` and
    (code offset shift, packed source locations) to `srcloc_parts`, and its trap records to
    the buffer packed (both merged when first asked: `CompiledModule.traps`, `.srcloc_packed`)."""
    from winch.codegen.compile import compile_functions

    ranges = split(m, jobs, PARENT_WEIGHT)
    children = []
    for lo, hi in ranges[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: compile its part, send it, leave without cleanup
            os.close(r)
            status = 1
            try:
                _child(m, env, masm, ctx, lo, hi, w, compile_functions)
                status = 0
            finally:
                os._exit(status)
        os.close(w)
        children.append((pid, r))
    ok = True
    try:
        buf = masm.buf
        shared = len(env.func_labels)
        try:
            compile_functions(m, env, masm, ctx, *ranges[0], starts, srclocs)
            buf.resolve_local(shared)  # while the workers may still be busy
        except Exception:
            ok = False
        for pid, r in children:
            with os.fdopen(r, "rb") as f:
                raw = f.read()
            if not ok or not raw:  # a worker that failed sends nothing
                ok = False
                continue
            part, packed_traps, part_starts, packed = pickle.loads(raw)
            at = buf.splice(part, shared, packed_traps)
            starts.extend([at + s for s in part_starts])
            srcloc_parts.append((at << 32, packed))
    finally:
        # A worker that sent its part has done its work: its exit (unmapping its copy of
        # our memory, several milliseconds) is not waited for here but reaped later.
        _EXITING.extend(pid for pid, _ in children)
        reap()
    return ok


#: workers that may still be exiting (reaped by `reap`, at the next parallel compile or exit)
_EXITING: list = []


def reap(block: bool = False) -> None:
    """Collect the exit of finished workers (all of them, waiting, if `block`)."""
    for pid in list(_EXITING):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _EXITING.remove(pid)


atexit.register(reap, True)


def _child(m, env, masm, ctx, lo, hi, w, compile_functions) -> None:
    from winch.masm.buffer import CodeBuffer, pack_traps

    buf = CodeBuffer()
    labels = buf.new_labels(len(env.func_labels))
    if labels != env.func_labels:  # the shared numbering the splice relies on
        raise AssertionError("function labels are not the buffer's first labels")
    part_masm = type(masm)(buf, env)
    starts: list = []
    srclocs: list = []
    compile_functions(m, env, part_masm, ctx, lo, hi, starts, srclocs)
    buf.resolve_local(len(labels))  # fewer fixups to send and to patch in the parent
    # trap records as offsets and kind numbers (pickling an enum member per record costs
    # more than the rest of the part)
    traps = pack_traps(buf._traps)
    buf._traps = []
    raw = pickle.dumps((buf, traps, starts, array.array("Q", srclocs).tobytes()),
                       protocol=pickle.HIGHEST_PROTOCOL)
    with os.fdopen(w, "wb") as f:
        f.write(raw)
