"""`winch explain`: each Wasm instruction followed by the machine code emitted for it."""

from __future__ import annotations

import capstone

from winch.wasm.instrs import read_instr

_CS = {
    "x64": (capstone.CS_ARCH_X86, capstone.CS_MODE_64),
    "aarch64": (capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM),
    "s390x": (capstone.CS_ARCH_SYSZ, capstone.CS_MODE_BIG_ENDIAN),
}


def disassembler(isa: str):
    md = capstone.Cs(*_CS[isa])
    if isa == "s390x":
        md.skipdata = True  # the 0x00NN trap halfwords are not instructions to Capstone
    return md


def _fmt_imm(imm) -> str:
    if imm is None:
        return ""
    if isinstance(imm, tuple):
        return " " + " ".join(str(x) for x in imm)
    return f" {imm}"


def explain(compiled, func: int | None = None) -> str:
    m = compiled.module
    first = m.num_imported_funcs
    if func is not None and not first <= func < first + len(m.funcs):
        raise ValueError(f"no defined function {func} (defined: {first}.."
                         f"{first + len(m.funcs) - 1})")
    md = disassembler(compiled.isa)
    traps = dict(compiled.traps)
    locs = compiled.srclocs
    out = []
    import bisect

    # debug code (compile_module(..., debug=True)): where each value is at each boundary
    debug = {} if compiled.debug is None else {(b.code_offset, b.offset): b
                                               for b in compiled.debug.boundaries}
    fp = "" if compiled.debug is None else compiled.debug.fp_reg

    for j, (start, end) in enumerate(compiled.func_ranges):
        index = first + j
        if func is not None and index != func:
            continue
        ft = m.func_type(index)
        out.append(f";; function {index}: {ft}  ({end - start} bytes)")
        shown = False  # the locals' slots, once per function (debug code)
        lo = bisect.bisect_left(locs, (start, -1))
        hi = bisect.bisect_left(locs, (end, -1))
        marks = [(start, None)] + [loc for loc in locs[lo:hi]]
        for k, (off, wasm_off) in enumerate(marks):
            nxt = marks[k + 1][0] if k + 1 < len(marks) else end
            if wasm_off is None:
                out.append("  ;; prologue")
            else:
                ins, _ = read_instr(m.raw, wasm_off, len(m.raw))
                out.append(f"  @{wasm_off:06x} {ins.op.name}{_fmt_imm(ins.imm)}")
                b = debug.get((off, wasm_off))
                if b is not None:
                    if not shown:
                        out.append(f"      ;; locals: {_slots(b.locals, fp)}")
                        shown = True
                    out.append(f"      ;; stack: {_slots(b.stack, fp)}")
            out += ["      " + ln for ln in code_lines(compiled, off, nxt, traps, md)]
        out.append("")
    return "\n".join(out) + ("\n" if out else "")


def code_lines(compiled, start: int, stop: int, traps: dict | None = None, md=None) -> list:
    """The machine code from `start` to `stop`, one line per instruction: offset, bytes,
    assembly, and the trap it raises if any (`traps`: dict(compiled.traps), made once by a
    caller that asks many times)."""
    md = md or disassembler(compiled.isa)
    traps = dict(compiled.traps) if traps is None else traps
    out = []
    for insn in md.disasm(compiled.code[start:stop], start):
        trap = traps.get(insn.address)
        note = f"  ; trap: {trap.value}" if trap is not None else ""
        text = f"{insn.mnemonic} {insn.op_str}".rstrip()
        out.append(f"{insn.address:06x}  {insn.bytes.hex():<20} {text}{note}")
    return out


def _slots(values, fp: str) -> str:
    """`i32@[rbp-24] ...`: each value's type and frame slot (debug code)."""
    from winch.wasm.types import type_name

    def where(o):
        if type(o) is int:
            return f"@[{fp}{o:+d}]"
        return f"@{o[1]}" if o[0] == "reg" else f"={o[1]:#x}"  # observed: register, constant

    return " ".join(f"{type_name(t)}{where(o)}" for t, o in values) or "(empty)"
