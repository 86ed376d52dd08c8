"""The code buffer: machine-code bytes, labels, fixups, trap records, relocations, constants.

Modelled on Cranelift's `MachBuffer`, without its branch peephole.

Algorithm
---------
Code is appended front to back.  A *label* is a small integer naming a code position that
may not be known yet.  Emitting an instruction that refers to a label records a *fixup*
`(offset, label, use)` where `use` is an ISA-specific `LabelUse`: it knows where in the
instruction the displacement lives, how it is encoded and what range it has.  `finish()`
emits the constant pool, then patches every fixup with the now-known label offsets.

Invariants
----------
- A label is bound at most once; every label that has a fixup is bound by `finish()`.
- Trap records are `(offset, TrapKind)` with offsets in increasing order, where `offset` is
  the address of the trapping instruction itself (what the host sees as the faulting PC).
- `finish()` is deterministic: the same calls give byte-identical results.
"""

from __future__ import annotations

import array
import struct
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Protocol

from winch.errors import EncodingError


class LabelUse(Protocol):
    """How an instruction refers to a label; each ISA defines its own kinds.

    `patch(code, at, target)` rewrites the instruction bytes at `at` so that they refer to
    `target` (both offsets from the start of the buffer), raising `EncodingError` when the
    distance is out of range for this kind.
    """

    def patch(self, code: bytearray, at: int, target: int) -> None: ...


class TableEntry32:
    """A jump-table entry: the int32 `target - base` (base: the table's start), in the
    ISA's byte order.  The table itself is data placed in the code after an indirect jump."""

    __slots__ = ("base", "fmt")

    def __init__(self, base: int, byteorder: str = "little"):
        self.base = base
        self.fmt = "<i" if byteorder == "little" else ">i"

    def patch(self, code: bytearray, at: int, target: int) -> None:
        struct.pack_into(self.fmt, code, at, target - self.base)

    def moved(self, delta: int) -> "TableEntry32":
        """The same entry kind for a table that now starts `delta` bytes further on (the
        one label use that knows an absolute offset: `CodeBuffer.splice` asks for it)."""
        new = TableEntry32.__new__(TableEntry32)
        new.base, new.fmt = self.base + delta, self.fmt
        return new


def emit_jump_table(buf, labels, byteorder: str = "little") -> None:
    """Append a table of `TableEntry32`s, one per label, based at the current offset."""
    use = TableEntry32(buf.offset(), byteorder)
    for lab in labels:
        at = buf.offset()
        buf.put(b"\0\0\0\0")
        buf.use_label(lab, use, at)


_first = itemgetter(0)

# -- memoized encodings --------------------------------------------------------------------------
#: Every memo dict of encoded bytes (an ISA's assembler or macro-assembler registers its own
#: with `memo_cache()`).  A memo is only valid while the code that filled it is unchanged:
#: `clear_memo_caches()` empties them all, and oracle/mutants.py calls it when it plants or
#: removes a deliberate bug (which patches the code that fills them).
MEMO_CACHES: list = []


def memo_cache() -> dict:
    d: dict = {}
    MEMO_CACHES.append(d)
    return d


def clear_memo_caches() -> None:
    for d in MEMO_CACHES:
        d.clear()


@dataclass(frozen=True, slots=True)
class Fixup:
    """A fixup, as documentation: the buffer keeps them as plain `(offset, label, use)`."""

    offset: int
    label: int
    use: Any  # a LabelUse


@dataclass(frozen=True, slots=True)
class Reloc:
    """A reference that only the host can resolve (e.g. a call to function `target`)."""

    offset: int
    kind: str
    target: int


@dataclass(frozen=True, slots=True)
class FinishedCode:
    code: bytes
    traps: tuple | None  # ((offset, TrapKind), ...), sorted; None: see trap_parts
    relocs: tuple  # (Reloc, ...)
    label_offsets: tuple  # label -> offset (or -1 if never bound)
    #: with parts spliced in packed (`splice(..., packed_traps=...)`): the arguments of
    #: `merge_traps`, which makes `traps` when someone asks (most compiles never trap)
    trap_parts: tuple = ()


def pack_traps(traps) -> tuple:
    """Trap records as (offsets as a "Q" array's bytes, one kind number per record, the kinds):
    cheap to pickle and to keep, unlike an enum member per record."""
    kinds = list(dict.fromkeys(k for _, k in traps))
    number = {k: i for i, k in enumerate(kinds)}
    return (array.array("Q", [at for at, _ in traps]).tobytes(),
            bytes([number[k] for _, k in traps]), kinds)


def merge_traps(own, parts) -> tuple:
    """The sorted trap records of a buffer's own records `own` and of its packed parts
    `parts` ((start offset, offsets bytes, kind numbers, kinds), ...)."""
    traps = list(own)
    for at, offsets, numbers, kinds in parts:
        traps.extend(zip([at + off for off in array.array("Q", offsets)],
                         [kinds[i] for i in numbers]))
    return tuple(sorted(traps, key=_first))


class CodeBuffer:
    """Growing machine code with labels; see the module docstring for the invariants."""

    __slots__ = ("data", "_labels", "_fixups", "_traps", "_relocs", "_constants", "_const_index",
                 "_const_key", "_trap_parts")

    def __init__(self) -> None:
        self.data = bytearray()
        self._labels: list[int] = []
        self._fixups: list[tuple] = []  # (offset, label, use): see Fixup
        self._traps: list[tuple[int, Any]] = []
        self._relocs: list[Reloc] = []
        self._constants: list[tuple[int, bytes, int]] = []  # (label, bytes, alignment)
        self._const_index: dict[tuple[bytes, int], int] = {}
        self._const_key: dict[int, tuple[bytes, int]] = {}  # the inverse of _const_index
        self._trap_parts: list[tuple] = []  # spliced parts' packed trap records (merge_traps)

    # -- bytes ---------------------------------------------------------------------------
    def offset(self) -> int:
        return len(self.data)

    def put(self, raw: bytes | bytearray) -> None:
        self.data += raw

    # -- labels --------------------------------------------------------------------------
    def new_label(self) -> int:
        self._labels.append(-1)
        return len(self._labels) - 1

    def new_labels(self, n: int) -> range:
        """`n` new labels at once (consecutive small integers)."""
        start = len(self._labels)
        self._labels.extend([-1] * n)
        return range(start, start + n)

    def bind_label(self, label: int) -> None:
        # Invariant: a label is bound at most once.
        if self._labels[label] != -1:
            raise EncodingError(f"label {label} bound twice")
        self._labels[label] = len(self.data)

    def label_offset(self, label: int) -> int:
        """The bound offset of `label`, or -1 while it is unbound."""
        return self._labels[label]

    def use_label(self, label: int, use: LabelUse, at: int | None = None) -> None:
        """Record that the instruction at `at` (default: the current offset) refers to `label`."""
        # a plain (offset, label, use) tuple: one per branch, cheaper to build than a Fixup
        self._fixups.append((len(self.data) if at is None else at, label, use))

    # -- recorded sequences (macro-assembler memos) -----------------------------------------
    def mark(self) -> tuple:
        """Where the buffer stands, for `recorded(mark)` after emitting a sequence."""
        return (len(self.data), len(self._traps), len(self._labels), len(self._fixups),
                len(self._relocs))

    def recorded(self, mark: tuple):
        """What was emitted since `mark`, to replay with `put_recorded`: `(bytes, None)` for
        plain bytes, else `(bytes, (traps, binds, uses))` with offsets from the start of the
        sequence: trap records, the labels it made and bound, and its label uses (of those
        labels or of constant-pool entries, which a replay asks `constant()` for again, in
        the same order).  None if it cannot be replayed: it used a label from outside the
        sequence, left one of its labels unbound, or made a relocation."""
        start, ntraps, nlabels, nfixups, nrelocs = mark
        if len(self._relocs) != nrelocs:
            return None
        labels = self._labels
        const_key = self._const_key
        own: dict = {}  # label made by the sequence -> its index among `binds`
        binds = []
        for lab in range(nlabels, len(labels)):
            if lab in const_key:
                continue
            if labels[lab] < start:  # unbound
                return None
            own[lab] = len(binds)
            binds.append(labels[lab] - start)
        uses = []
        for at, lab, use in self._fixups[nfixups:]:
            if lab in own:
                uses.append((at - start, False, own[lab], use))
            elif lab in const_key:
                uses.append((at - start, True, const_key[lab], use))
            else:
                return None
        traps = tuple((at - start, kind) for at, kind in self._traps[ntraps:])
        code = bytes(self.data[start:])
        if not (traps or binds or uses):
            return code, None
        return code, (traps, tuple(binds), tuple(uses))

    def put_recorded(self, rec) -> None:
        """Append a sequence captured by `recorded`: its bytes, and its trap records, labels
        and label uses moved to where it now starts."""
        code, more = rec
        data = self.data
        at = len(data)
        data += code
        if more is None:
            return
        traps, binds, uses = more
        if traps:
            add = self._traps.append
            for rel, kind in traps:
                add((at + rel, kind))
        if binds or uses:
            labels = self._labels
            base = len(labels)
            for rel in binds:
                labels.append(at + rel)
            const_index = self._const_index
            add = self._fixups.append
            for rel, is_const, ref, use in uses:
                if is_const:
                    # `ref` is a pool key as `constant` makes it: an entry already in the
                    # pool is found without building the key again
                    lab = const_index.get(ref)
                    if lab is None:
                        lab = self.constant(*ref)
                else:
                    lab = base + ref
                add((at + rel, lab, use))

    # -- traps and relocations -----------------------------------------------------------
    def add_trap(self, kind: Any, at: int | None = None) -> None:
        """Record that the instruction at `at` (default: the current offset) traps with `kind`."""
        self._traps.append((len(self.data) if at is None else at, kind))

    def add_reloc(self, kind: str, target: int, at: int | None = None) -> None:
        self._relocs.append(Reloc(len(self.data) if at is None else at, kind, target))

    # -- constant pool -------------------------------------------------------------------
    def constant(self, raw: bytes, align: int | None = None) -> int:
        """A label for `raw` in the constant pool (deduplicated), emitted by `finish()`."""
        align = align or len(raw)
        key = (bytes(raw), align)
        label = self._const_index.get(key)
        if label is None:
            label = self.new_label()
            self._const_index[key] = label
            self._const_key[label] = key
            self._constants.append((label, bytes(raw), align))
        return label

    # -- splicing (parallel compilation) --------------------------------------------------
    def resolve_local(self, shared: int) -> None:
        """Patch now every fixup to one of our own bound labels from `shared` on (not a
        constant-pool entry): what is left refers to the shared labels or to the pool.  A
        patch depends only on the distance between the use and its label (jump-table
        entries on the distance from their table), so it holds wherever the code moves."""
        labels = self._labels
        const_key = self._const_key
        data = self.data
        left = []
        for fix in self._fixups:
            offset, label, use = fix
            if label < shared or label in const_key or labels[label] < 0:
                left.append(fix)
            else:
                use.patch(data, offset, labels[label])
        self._fixups = left

    def splice(self, part: "CodeBuffer", shared: int, packed_traps: tuple | None = None) -> int:
        """Append `part`, a buffer filled separately whose first `shared` labels name what
        this buffer's first `shared` labels name (the module's function labels); returns the
        offset where it starts.  Its other labels are renumbered after ours, its fixups, trap
        records and relocations moved, and its constant-pool entries asked of our pool in
        the order it made them: splicing the parts of a module in order gives the buffer,
        byte for byte, that emitting them all here would have given.  `packed_traps`: the
        part's trap records as `pack_traps` gives them (instead of `part._traps`), kept packed
        until `merge_traps`."""
        at = len(self.data)
        self.data += part.data
        labels = self._labels
        plabels = part._labels
        for lab in range(shared):
            if plabels[lab] >= 0:
                if labels[lab] != -1:
                    raise EncodingError(f"label {lab} bound twice")
                labels[lab] = at + plabels[lab]
        base = len(labels) - shared  # part's label L >= shared is our label base + L
        labels.extend([-1 if x < 0 else at + x for x in plabels[shared:]])
        remap = {lab: self.constant(raw, align) for lab, raw, align in part._constants}
        moved: dict = {}  # id of a use that knows its absolute offset -> the moved use
        add = self._fixups.append
        for off, lab, use in part._fixups:
            if lab >= shared:
                lab = remap.get(lab, base + lab)
            if type(use) is TableEntry32:
                use = moved.get(id(use)) or moved.setdefault(id(use), use.moved(at))
            add((at + off, lab, use))
        if packed_traps is not None:
            self._trap_parts.append((at, *packed_traps))
        else:
            self._traps.extend([(at + off, kind) for off, kind in part._traps])
        self._relocs.extend([Reloc(at + r.offset, r.kind, r.target) for r in part._relocs])
        return at

    # -- finishing -----------------------------------------------------------------------
    def align_to(self, align: int, fill: bytes = b"\x00") -> None:
        if len(fill) == 1:  # the padding in one go
            self.data += fill * (-len(self.data) % align)
            return
        while len(self.data) % align:
            self.data += fill

    def finish(self, pad: bytes = b"\x00") -> FinishedCode:
        for label, raw, align in self._constants:
            self.align_to(align, pad)
            self.bind_label(label)
            self.data += raw
        self._constants.clear()
        labels = self._labels
        data = self.data
        for offset, label, use in self._fixups:
            target = labels[label]
            if target < 0:
                raise EncodingError(f"label {label} used but never bound")
            use.patch(data, offset, target)
        if self._trap_parts:
            return FinishedCode(bytes(self.data), None, tuple(self._relocs), tuple(self._labels),
                                (tuple(self._traps), tuple(self._trap_parts)))
        traps = tuple(sorted(self._traps, key=_first))
        return FinishedCode(bytes(self.data), traps, tuple(self._relocs), tuple(self._labels))
