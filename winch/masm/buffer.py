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

import struct
from dataclasses import dataclass
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


def emit_jump_table(buf, labels, byteorder: str = "little") -> None:
    """Append a table of `TableEntry32`s, one per label, based at the current offset."""
    use = TableEntry32(buf.offset(), byteorder)
    for lab in labels:
        at = buf.offset()
        buf.put(b"\0\0\0\0")
        buf.use_label(lab, use, at)


@dataclass(frozen=True, slots=True)
class Fixup:
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
    traps: tuple  # ((offset, TrapKind), ...)
    relocs: tuple  # (Reloc, ...)
    label_offsets: tuple  # label -> offset (or -1 if never bound)


class CodeBuffer:
    """Growing machine code with labels; see the module docstring for the invariants."""

    __slots__ = ("data", "_labels", "_fixups", "_traps", "_relocs", "_constants", "_const_index")

    def __init__(self) -> None:
        self.data = bytearray()
        self._labels: list[int] = []
        self._fixups: list[Fixup] = []
        self._traps: list[tuple[int, Any]] = []
        self._relocs: list[Reloc] = []
        self._constants: list[tuple[int, bytes, int]] = []  # (label, bytes, alignment)
        self._const_index: dict[tuple[bytes, int], int] = {}

    # -- bytes ---------------------------------------------------------------------------
    def offset(self) -> int:
        return len(self.data)

    def put(self, raw: bytes | bytearray) -> None:
        self.data += raw

    # -- labels --------------------------------------------------------------------------
    def new_label(self) -> int:
        self._labels.append(-1)
        return len(self._labels) - 1

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
        self._fixups.append(Fixup(len(self.data) if at is None else at, label, use))

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
            self._constants.append((label, bytes(raw), align))
        return label

    # -- finishing -----------------------------------------------------------------------
    def align_to(self, align: int, fill: bytes = b"\x00") -> None:
        while len(self.data) % align:
            self.data += fill

    def finish(self, pad: bytes = b"\x00") -> FinishedCode:
        for label, raw, align in self._constants:
            self.align_to(align, pad)
            self.bind_label(label)
            self.data += raw
        self._constants.clear()
        for fixup in self._fixups:
            target = self._labels[fixup.label]
            if target < 0:
                raise EncodingError(f"label {fixup.label} used but never bound")
            fixup.use.patch(self.data, fixup.offset, target)
        traps = tuple(sorted(self._traps, key=lambda t: t[0]))
        return FinishedCode(bytes(self.data), traps, tuple(self._relocs), tuple(self._labels))
