"""Type-section forms and value-type bytes of proposals outside our scope are `Unsupported`
(by proposal name, at the byte's offset), never malformed; unknown bytes stay malformed."""

import pytest

from oracle.engines import get_engine
from oracle.spectest.runner import run_script
from oracle.spectest.script import parse_script
from winch.errors import DecodeError, Unsupported
from winch.wasm import validate
from winch.wasm.reader import decode_module

HEADER = b"\0asm\x01\0\0\0"


def type_section(*entries: bytes) -> bytes:
    body = bytes((len(entries),)) + b"".join(entries)
    return HEADER + b"\x01" + bytes((len(body),)) + body


# a type entry per form, each well formed in its own proposal
FORMS = [
    (b"\x5d\x00", 0x5D, "stack-switching"),                    # cont $0
    (b"\x5e\x7f\x00", 0x5E, "gc"),                             # array i32
    (b"\x5f\x01\x7f\x01", 0x5F, "gc"),                         # struct (mut i32)
    (b"\x50\x00\x60\x00\x00", 0x50, "gc"),                     # sub (func)
    (b"\x4f\x00\x60\x00\x00", 0x4F, "gc"),                     # sub final (func)
    (b"\x4e\x01\x60\x00\x00", 0x4E, "gc"),                     # rec (func)
    (b"\x65\x60\x00\x00", 0x65, "shared-everything-threads"),  # shared (func)
    (b"\x4d\x01\x5f\x00", 0x4D, "custom-descriptors"),         # descriptor 1 (struct)
    (b"\x4c\x00\x5f\x00", 0x4C, "custom-descriptors"),         # describes 0 (struct)
]


@pytest.mark.parametrize("entry, form, feature", FORMS)
def test_foreign_type_form_is_unsupported_at_its_offset(entry, form, feature):
    # a function type first, so the form is not at the section's first byte
    data = type_section(b"\x60\x00\x00", entry)
    with pytest.raises(Unsupported) as info:
        decode_module(data)
    assert info.value.feature == feature
    assert data[info.value.offset] == form and info.value.offset == len(HEADER) + 2 + 1 + 3
    assert f"{form:#04x}" in str(info.value)


def test_unsupported_form_wins_over_a_truncated_rest():
    # the proposal is recognised from its form byte alone, as for opcodes
    with pytest.raises(Unsupported) as info:
        validate(type_section(b"\x5d"))
    assert info.value.feature == "stack-switching"


@pytest.mark.parametrize("form", [0x5C, 0x61, 0x40, 0x00, 0x7F])
def test_unknown_type_form_is_malformed(form):
    with pytest.raises(DecodeError) as info:
        decode_module(type_section(bytes((form,)) + b"\x00\x00"))
    assert "malformed function type form" in info.value.message


@pytest.mark.parametrize("byte, feature", [
    (0x68, "stack-switching"), (0x75, "stack-switching"), (0x62, "custom-descriptors"),
    (0x65, "shared-everything-threads"),
])
def test_foreign_value_type_bytes_are_unsupported(byte, feature):
    data = type_section(b"\x60\x01" + bytes((byte,)) + b"\x00")
    with pytest.raises(Unsupported) as info:
        decode_module(data)
    assert info.value.feature == feature and data[info.value.offset] == byte


def test_spectest_skips_a_stack_switching_module_by_name():
    # `(module binary ...)` with a continuation type: skipped (named), where it was a failure
    # ("expected ... engine said malformed") before
    script = parse_script(b'(assert_invalid (module binary "\\00asm\\01\\00\\00\\00" '
                          b'"\\01\\06\\02\\60\\00\\00\\5d\\00") "whatever")', "ss.wast")
    r = run_script(get_engine("frontend"), script)
    assert (r.passed, r.failed, r.skipped) == (0, 0, 1)
    assert r.skip_reasons == {"unsupported: stack-switching": 1}
