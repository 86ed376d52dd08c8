"""Recorded macro-assembler operations, replayed (compile speed), shared by the three ISAs.

Problem: most Wasm instructions lower to a few machine instructions whose bytes depend only
on the macro-assembler operation's operands; emitting them through the assembler costs tens
of Python calls every time.

Algorithm: a macro-assembler method decorated with `Recordings.memo` runs through the
assembler (the one source of the encodings) the first time it sees its operands, and the
buffer records what it emitted (`CodeBuffer.mark`/`recorded`: bytes, trap records, labels
it made and bound, constant-pool uses); later calls with the same operands append the
recording (`CodeBuffer.put_recorded`).  An operation may also share one *template* between
operands that differ only in a value (x64: a memory offset, an immediate); the ISA supplies
how (`template=`), and proves its templates against the assembler in its tests.

Invariants:
- A recording replays exactly what the method emits for those operands: the method's code
  depends only on its operands and its module's tables, never on the function or module
  being compiled.  A sequence that branches to a label from outside or makes a relocation
  is never recorded (`recorded` returns None; such operands are marked False and always
  assembled).
- Every dict is a `memo_cache()`: planting a deliberate bug (oracle/mutants.py) empties
  them, since a recording made by the unpatched code would hide the bug.
- A dict that reaches `limit` entries starts again empty: a long fuzzing run sees ever new
  immediates, and memory must stay bounded.
- A method's dict maps its operands to the recording's bytes when it is plain bytes (no
  trap, label or constant), else to the recording `(bytes, more)`, or to False.
"""

from __future__ import annotations

from winch.masm.buffer import memo_cache


class Recordings:
    """The recordings of one ISA's macro-assembler: one dict per decorated method."""

    def __init__(self, limit: int):
        self.limit = limit
        #: method name (and name + " templates") -> its dict of recordings (or templates)
        self.caches: dict = {}

    def clear(self) -> None:
        for cache in self.caches.values():
            cache.clear()

    def memo(self, fn=None, *, template=None):
        """Decorate a macro-assembler method with recordings (see the module docstring).

        `template`: None, or `(key_of, build, fill)`: `key_of(args)` the template key of
        these operands (None: no template), `build(masm, fn, args)` the template (False:
        none), `fill(template, args)` the recording for these operands.  A fourth item
        True: `build(masm, fn, args, first)` gets `first`, the recording of `args` (made by
        assembling them in place, which the first operands of a key need anyway), or None
        if they could not be recorded."""
        if fn is None:
            return lambda f: self.memo(f, template=template)
        owner = self
        name = fn.__name__
        exact = self.caches[name] = memo_cache()
        if template is not None:
            key_of, build, fill = template[:3]
            from_first = len(template) > 3 and template[3]
            templates = self.caches[name + " templates"] = memo_cache()

        def method(self, *args):
            rec = exact.get(args)
            if rec.__class__ is bytes:  # plain bytes: most recordings
                self.buf.data += rec
                return
            if rec is None:
                pending = None  # a template key to build from this recording
                if template is not None:
                    tkey = key_of(args)
                    if tkey is not None:
                        t = templates.get(tkey)
                        if t is None:
                            if from_first:
                                pending = tkey
                            else:
                                t = templates[tkey] = build(self, fn, args)
                        if t:
                            rec = fill(t, args)
                if rec is None:  # assemble, and record
                    buf = self.buf
                    mark = buf.mark()
                    fn(self, *args)
                    rec = buf.recorded(mark)
                    if pending is not None:
                        templates[pending] = build(self, fn, args, rec)
                    if len(exact) >= owner.limit:
                        exact.clear()
                    exact[args] = False if rec is None else rec[0] if rec[1] is None else rec
                    return
                if len(exact) >= owner.limit:
                    exact.clear()
                exact[args] = rec[0] if rec[1] is None else rec
            if rec:
                if rec[1] is None:
                    self.buf.data += rec[0]
                else:
                    self.buf.put_recorded(rec)
            else:  # False: never replayable
                fn(self, *args)
        method.__name__ = name
        method.__qualname__ = fn.__qualname__
        method.__doc__ = fn.__doc__
        method.__wrapped__ = fn
        return method
