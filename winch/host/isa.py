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
    code_prot = uc.UC_PROT_READ | uc.UC_PROT_EXEC  # protection of code and stub pages

    def make_engine(self) -> uc.Uc:
        raise NotImplementedError

    def enter(self, mu, func_addr, vmctx, sp, done_addr) -> None:
        """Registers for a call of `func_addr` from the host returning to `done_addr`
        (here: the return address travels in a link register, `self.LR`)."""
        mu.reg_write(self.SP, sp)
        mu.reg_write(self.LR, done_addr)
        mu.reg_write(self.VMCTX, vmctx)

    def host_args_base(self, mu) -> int:
        """Address of argument 0 while a host stub's hook runs (a link-register call
        leaves the stack pointer where the caller put the arguments)."""
        return mu.reg_read(self.SP)

    def read_fpr(self, mu, is32: bool) -> int:
        return mu.reg_read(self.RET_FPR) & 0xFFFF_FFFF_FFFF_FFFF

    def write_fpr(self, mu, bits: int, is32: bool) -> None:
        mu.reg_write(self.RET_FPR, bits)


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


class S390x(HostISA):
    """Big-endian; a float32 sits in the left half of an FPR (ISA-NOTES.md §3)."""

    name = "s390x"
    byteorder = "big"
    stub = b"\x07\xfe"  # br %r14
    # Unicorn's s390x raises an addressing exception fetching from a page without WRITE
    # (measured): code pages are RWX here, so a stray write into code is not caught.
    code_prot = uc.UC_PROT_ALL

    def __init__(self):
        from unicorn import s390x_const as S

        self.S = S
        self.PC = S.UC_S390X_REG_PC
        self.SP = S.UC_S390X_REG_R15
        self.VMCTX = S.UC_S390X_REG_R13
        self.RET_GPR = S.UC_S390X_REG_R2
        self.RET_FPR = S.UC_S390X_REG_F0
        self.LR = S.UC_S390X_REG_R14

    def make_engine(self) -> uc.Uc:
        S = self.S
        mu = uc.Uc(uc.UC_ARCH_S390X, uc.UC_MODE_BIG_ENDIAN)
        mu.reg_write(S.UC_S390X_REG_PSWM, mu.reg_read(S.UC_S390X_REG_PSWM) | 0x0000000180000000)
        mu.reg_write(S.UC_S390X_REG_CR0, mu.reg_read(S.UC_S390X_REG_CR0) | 0x60000)
        return mu

    def read_fpr(self, mu, is32: bool) -> int:
        v = mu.reg_read(self.RET_FPR) & 0xFFFF_FFFF_FFFF_FFFF
        return v >> 32 if is32 else v

    def write_fpr(self, mu, bits: int, is32: bool) -> None:
        mu.reg_write(self.RET_FPR, bits << 32 if is32 else bits)


ISAS = {"x64": X64, "aarch64": AArch64, "s390x": S390x}


def host_isa(name: str) -> HostISA:
    try:
        return ISAS[name]()
    except KeyError:
        raise ValueError(f"no host support for target {name!r}") from None
