"""Every ISA's macro-assembler implements the whole ISA-independent interface."""

import pytest

from winch.masm.base import REQUIRED, MacroAssembler


@pytest.mark.parametrize("path", ["winch.isa.x64.masm:X64Masm", "winch.isa.aarch64.masm:A64Masm",
                                  "winch.isa.s390x.masm:S390xMasm"])
def test_implements_the_interface(path):
    import importlib

    mod, cls = path.split(":")
    masm = getattr(importlib.import_module(mod), cls)
    assert issubclass(masm, MacroAssembler)
    missing = [m for m in REQUIRED if not callable(getattr(masm, m, None))]
    assert not missing, missing
    assert masm.GPRS and masm.FPRS and set(masm.FPRS) == masm.FPR_SET
    assert not set(masm.GPRS) & masm.FPR_SET
    assert masm.RET_GPR in masm.GPRS and masm.RET_FPR in masm.FPR_SET
