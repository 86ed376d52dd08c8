"""The text Capstone prints for each instruction form of our three assemblers (and, for
aarch64 and s390x, the GNU as spelling): the one reference that both the assembler tests
(tests/test_{x64,aarch64,s390x}_asm.py) and the `assemble` fuzz target check against.  It
lives in the package, not in the tests, so that an installed `fuzz_targets.assemble` has it.
"""
