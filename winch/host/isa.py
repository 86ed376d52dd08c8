"""What the host needs to know about each ISA: the Unicorn set-up (ISA-NOTES.md §0), the
registers of the calling convention, how a trap shows up, and how to enter and leave code.
"""

from __future__ import annotations

import unicorn as uc


class HostISA:
    name = "?"
    byteorder = "little"
    stub = b""  # one return instruction: a host stub the hook runs before it
    # the call pushes a return address (x64) or keeps it in a register
    ret_in_register = False

    def make_engine(self) -> uc.Uc:
        raise NotImplementedError

    def enter(self, mu, func_addr, vmctx, sp, done_addr) -> None:
        """Registers for a call of `func_addr` from the host returning to `done_addr`."""
        raise NotImplementedError

    def host_args_base(self, mu) -> int:
        """Address of argument 0 while a host stub's hook runs."""
        raise NotImplementedError


class X64(HostISA):
    name = "x64"
    stub = b"\xc3"  # ret

    def __init__(self):
        from unicorn import x86_const as X

        self.X = X
        self.PC = X.UC_X86_REG_RIP
        self.SP = X.UC_X86_REG_RSP
        self.VMCTX = X.UC_X86_REG_R14
        self.RET_GPR = X.UC_X86_REG_RAX
        self.RET_FPR = X.UC_X86_REG_XMM0

    def make_engine(self) -> uc.Uc:
        mu = uc.Uc(uc.UC_ARCH_X86, uc.UC_MODE_64)
        mu.reg_write(self.X.UC_X86_REG_MXCSR, 0x1F80)
        return mu

    def enter(self, mu, func_addr, vmctx, sp, done_addr) -> None:
        sp -= 8
        mu.mem_write(sp, done_addr.to_bytes(8, "little"))
        mu.reg_write(self.SP, sp)
        mu.reg_write(self.VMCTX, vmctx)

    def host_args_base(self, mu) -> int:
        return mu.reg_read(self.SP) + 8

    def read_fpr(self, mu) -> int:
        return mu.reg_read(self.RET_FPR) & 0xFFFF_FFFF_FFFF_FFFF

    def write_fpr(self, mu, bits: int) -> None:
        mu.reg_write(self.RET_FPR, bits)


class AArch64(HostISA):
    name = "aarch64"
    stub = (0xD65F03C0).to_bytes(4, "little")  # ret

    def __init__(self):
        from unicorn import arm64_const as A

        self.A = A
        self.PC = A.UC_ARM64_REG_PC
        self.SP = A.UC_ARM64_REG_SP
        self.VMCTX = A.UC_ARM64_REG_X28
        self.RET_GPR = A.UC_ARM64_REG_X0
        self.RET_FPR = A.UC_ARM64_REG_D0
        self.LR = A.UC_ARM64_REG_X30

    def make_engine(self) -> uc.Uc:
        return uc.Uc(uc.UC_ARCH_ARM64, uc.UC_MODE_ARM)

    def enter(self, mu, func_addr, vmctx, sp, done_addr) -> None:
        mu.reg_write(self.SP, sp)
        mu.reg_write(self.LR, done_addr)
        mu.reg_write(self.VMCTX, vmctx)

    def host_args_base(self, mu) -> int:
        return mu.reg_read(self.SP)

    def read_fpr(self, mu) -> int:
        return mu.reg_read(self.RET_FPR) & 0xFFFF_FFFF_FFFF_FFFF

    def write_fpr(self, mu, bits: int) -> None:
        mu.reg_write(self.RET_FPR, bits)


ISAS = {"x64": X64, "aarch64": AArch64}


def host_isa(name: str) -> HostISA:
    try:
        return ISAS[name]()
    except KeyError:
        raise ValueError(f"no host support for target {name!r}") from None
