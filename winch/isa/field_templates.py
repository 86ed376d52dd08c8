"""Field templates: one recording per *shape* of a macro-assembler operation, with the
operation's values patched into their instruction fields (compile speed, issue 16).

Problem: the recordings of winch/masm/replay.py are keyed by the exact operands, so every
new memory offset, slot offset or immediate is assembled afresh (the first compile of a
module pays 5-20 us per such operation on aarch64 and s390x).  But on these ISAs a value
only ever lands in fixed instruction fields (an imm12, an imm9, a move-wide imm16, a
displacement): operands that differ only in values of the same *class* (the same choice of
instruction forms) emit the same instructions with other bits in those fields.

Algorithm: the ISA names, per operation, its *value* operands (registers, offsets,
immediates) and their classes: `vclass(args, value) -> (tag, fields)` or None (no template),
`tag` the value's class (the assembler's choice of forms) and `fields` the instruction
fields that hold it, each `(width, field value)`.  The key of a template is the operands
with each value replaced by its tag.  The first operands of a key are assembled as given,
then once more per value with a *probe* of the same class in its place whose every field
differs.  Read as one integer (`order`: "little" for A64's little-endian words, "big" for
s390x), the two codes differ exactly where that value's fields sit (a register may sit in
several instructions): the lowest bit where they still differ, less the lowest bit where
the two field values differ, is the next field's position.  The template is the first code
with all fields cleared, and their positions; filling it ORs each field value in at each of
its positions.  (`locate`/`fill_code` do the same for fields listed in code order, each
once, from one probe of all values: x64's templates use them.)

Invariants:
- A template is kept only if filling it reproduces every recording made for it exactly
  (code, trap records, labels), every differing bit lies in exactly one field, and no two
  fields overlap; else the key has no template and each operand tuple is assembled (correct,
  only slower).
- An operation given a template emits code that depends on its register operands only
  through their fields: never on whether two of them are the same register (a template made
  from distinct registers serves equal ones; the tests compare equal registers too).
- `vclass` mirrors the macro-assembler's and assembler's choice of forms; the ISA's
  template tests compare every template with the assembler over values at and around every
  class boundary (tests/test_aarch64_templates.py, tests/test_s390x_templates.py).
- Templates live in the recordings' `memo_cache()` dicts (winch/masm/replay.py): planting a
  deliberate bug (oracle/mutants.py) empties them, and none is made while one is planted
  (`seal`, `unpatched`): the bug may show for some values of a class only.
"""

from __future__ import annotations

from winch.errors import WinchError


#: macro-assembler class -> its attributes (and its bases') when `seal`ed.  A template is
#: made only while none of them has been replaced: oracle/mutants.py plants a deliberate bug
#: by patching a method by name, and a bug that shows only for some values of a class (a far
#: offset past 32 KiB, say) would else be hidden by a template made from other values, or
#: carried by it to values it does not touch.
_SEALED: dict = {}


def seal(cls):
    """Class decorator: remember the macro-assembler's methods as they are at import."""
    _SEALED[cls] = tuple((c, dict(vars(c))) for c in cls.__mro__[:-1])
    return cls


def unpatched(cls) -> bool:
    """Whether every attribute of `cls` (a `seal`ed class) is the one it had at import."""
    attrs = _SEALED.get(cls)
    return attrs is not None and all(vars(c) == d for c, d in attrs)


def record_alone(masm, fn, args):
    """What `fn(masm', *args)` emits into a fresh buffer (`CodeBuffer.recorded`), or None."""
    buf = type(masm.buf)()
    fn(type(masm)(buf, masm.env), *args)
    return buf.recorded((0, 0, 0, 0, 0))


def _low(x: int) -> int:
    return (x & -x).bit_length() - 1


def locate(first: bytes, second: bytes, f1, f2, order: str):
    """The template `(base, shifts)` from two codes and their fields (code order), or None.
    `base` is `first` as an integer with the fields cleared, `shifts` the fields' bit
    positions (code order)."""
    if len(first) != len(second) or len(f1) != len(f2):
        return None
    if order == "big":  # the last field in code order is the lowest in the integer
        f1, f2 = f1[::-1], f2[::-1]
    i1 = int.from_bytes(first, order)
    diff = i1 ^ int.from_bytes(second, order)
    shifts, pos, cleared = [], 0, i1
    for (w1, v1), (w2, v2) in zip(f1, f2):
        d = v1 ^ v2
        if w1 != w2 or not d or not diff:
            return None
        shift = _low(diff) - _low(d)
        mask = (1 << w1) - 1
        if shift < pos or (cleared >> shift) & mask != v1 or (diff >> shift) & mask != d:
            return None
        diff &= ~(mask << shift)
        cleared &= ~(mask << shift)
        shifts.append(shift)
        pos = shift + w1
    if diff:
        return None
    if order == "big":
        shifts.reverse()
    return cleared, tuple(shifts)


def fill_code(base: int, shifts, fields, n: int, order: str) -> bytes:
    for shift, (_, value) in zip(shifts, fields):
        base |= value << shift
    return base.to_bytes(n, order)


def _of_value(table: dict):
    """A value class given as a dict, as a function of (args, value)."""
    return lambda args, value: table.get(value)


def occurrences(i1: int, i2: int, f1, f2):
    """Where the fields `f1` (of the first code, read as the integer `i1`) and `f2` (the same
    fields of a probe value, code `i2`) sit: `[(field index, bit position), ...]`, each field
    found at least once (a register is often read by several instructions), or None unless
    every bit where the codes differ lies in exactly one such occurrence."""
    diff = i1 ^ i2
    found = []
    while diff:
        low = _low(diff)
        hits = []
        for fi, ((w, a), (_, b)) in enumerate(zip(f1, f2)):
            d = a ^ b
            shift = low - _low(d)
            mask = (1 << w) - 1
            if shift >= 0 and (i1 >> shift) & mask == a and (i2 >> shift) & mask == b and \
                    (diff >> shift) & mask == d:
                hits.append((fi, shift, mask))
        if len(hits) != 1:  # unexplained, or ambiguous
            return None
        fi, shift, mask = hits[0]
        found.append((fi, shift))
        diff &= ~(mask << shift)
    if {fi for fi, _ in found} != set(range(len(f1))):
        return None
    return found


# patterns for each 16-bit half of a probed value that is neither 0 nor 0xFFFF
_HALF_PATTERNS = (0x5555, 0x3333, 0x0F0F, 0x00FF, 0x7FFF, 0x8001, 0x0001)


def probe_masks(value: int, fixed, extra=()):
    """XOR masks to try, in order, for the probe of `value` (`field_template`'s `masks`):
    `fixed` (an ISA's masks: registers' low bits, offsets keeping their alignment,
    immediates' low bits), then `extra`; and a pattern in each 16-bit half of `value` that is
    neither 0 nor 0xFFFF, so that equal halves become unequal (tried first for a value of
    several such halves, each half its own field; last otherwise)."""
    v = value & 0xFFFF_FFFF_FFFF_FFFF
    present = [s for s in range(0, 64, 16) if (v >> s) & 0xFFFF not in (0, 0xFFFF)]
    n = len(_HALF_PATTERNS)
    halves = [sum(_HALF_PATTERNS[(k + j) % n] << s for j, s in enumerate(present))
              for k in range(n)]
    if len(present) > 1:
        yield from halves
    yield from fixed
    yield from extra
    if len(present) <= 1:
        yield from halves


_ALONE = object()  # build's `first` when not given: assemble the operands alone


def field_template(values, masks, order: str):
    """The `template` argument of `Recordings.memo` (winch/masm/replay.py), with replay's
    recording of the first operands of a key given to `build` (`first`).

    `values`: `((position, vclass), ...)`, one per value operand (registers, offsets,
    immediates): `vclass` is a function `vclass(args, value)` or a dict `{value: ...}`
    (registers) giving `(tag, fields)`, the value's class (`tag`, in the key in place of the
    value) and its fields `((width, field value), ...)`, or None (no template).
    `masks(value)`: XOR masks whose results are tried, in order, as that value's probe (the
    first of the same tag whose fields all differ from the value's, and from each other's).
    Each value is probed alone: where its fields sit (once or more) is where the two codes
    differ (`occurrences`)."""
    last = [None, None]  # the args key_of classified last, and their fields (for fill)
    values = tuple((pos, _of_value(vc) if type(vc) is dict else vc,
                    vc.get if type(vc) is dict else None) for pos, vc in values)

    def classify(args):
        """(key, the fields of all values, one flat tuple), or None."""
        key = list(args)
        fields = ()
        for pos, vclass, lookup in values:
            c = lookup(args[pos]) if lookup is not None else vclass(args, args[pos])
            if c is None:
                return None
            key[pos] = c[0]
            fields += c[1]
        return tuple(key), fields

    def key_of(args):
        c = classify(args)
        if c is None:
            return None
        last[0], last[1] = args, c[1]
        return c[0]

    def probe(args, pos, vclass, tag, fields):
        """Operands `args` with the value at `pos` replaced by one of the same class whose
        fields all differ from the value's and are told apart by their pairs; or None."""
        value = args[pos]
        for m in masks(value):
            c = vclass(args, value ^ m)
            if c is None or c[0] != tag:
                continue
            pairs = [(a[1], b[1]) for a, b in zip(fields, c[1])]
            if all(a != b for a, b in pairs) and len(set(pairs)) == len(pairs):
                return args[:pos] + (value ^ m,) + args[pos + 1:]
        return None

    def build(masm, fn, args, first=_ALONE):
        if not unpatched(type(masm)):  # a deliberate bug is planted: exact recordings only
            return False
        if first is _ALONE:
            first = record_alone(masm, fn, args)
        if first is None:
            return False
        code, more = first
        i1 = int.from_bytes(code, order)
        flat = classify(args)[1]
        slots, probes = [], []  # (index in flat, bit position); (args', recording)
        start = 0  # the index of the value's first field in flat
        for pos, vclass, _ in values:
            tag, fields = vclass(args, args[pos])
            start += len(fields)
            if not fields:
                continue  # a class of one value (0, say): nothing to patch
            other = probe(args, pos, vclass, tag, fields)
            if other is None:
                return False
            try:  # a probe only locates the fields: one the operation rejects, no template
                rec = record_alone(masm, fn, other)
            except WinchError:
                return False
            if rec is None or rec[1] != more or len(rec[0]) != len(code):
                return False
            found = occurrences(i1, int.from_bytes(rec[0], order), fields,
                                vclass(other, other[pos])[1])
            if found is None:
                return False
            first_field = start - len(fields)
            slots += [(first_field + fi, shift) for fi, shift in found]
            probes.append((other, rec))
        cleared = i1
        taken = 0
        for i, shift in slots:
            mask = ((1 << flat[i][0]) - 1) << shift
            if taken & mask:
                return False  # two fields in the same bits
            taken |= mask
            cleared &= ~mask
        t = (cleared, tuple(slots), len(code), more)
        if fill(t, args, flat) != first or any(fill(t, o, classify(o)[1]) != rec
                                                for o, rec in probes):
            return False
        return t

    def fill(t, args, fields=None):
        if fields is None:
            fields = last[1] if last[0] is args else classify(args)[1]
        base, slots, n, more = t
        for i, shift in slots:
            base |= fields[i][1] << shift
        return base.to_bytes(n, order), more
    return key_of, build, fill, True  # True: replay passes build the recording of args
