"""Trap kinds of compiled code: what a trap record `(code offset, TrapKind)` names.

The names match the oracle's `TrapKind` one for one, so engines map them by name.
"""

import enum


class TrapKind(enum.Enum):
    unreachable = "unreachable"
    memory_out_of_bounds = "memory_out_of_bounds"
    table_out_of_bounds = "table_out_of_bounds"
    indirect_call_null = "indirect_call_null"
    indirect_call_type_mismatch = "indirect_call_type_mismatch"
    integer_divide_by_zero = "integer_divide_by_zero"
    integer_overflow = "integer_overflow"
    invalid_conversion_to_integer = "invalid_conversion_to_integer"
    call_stack_exhausted = "call_stack_exhausted"
    null_reference = "null_reference"
    out_of_fuel = "out_of_fuel"
    interrupt = "interrupt"  # epoch deadline reached (code compiled with epoch=True)
    # the store's fuel (code compiled with fuel=True) ran out: the host reports it as
    # `out_of_fuel`; `out_of_fuel` sites themselves are the host's internal work bound
    fuel = "fuel"
