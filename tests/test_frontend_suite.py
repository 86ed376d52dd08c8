"""The front end against the whole spec suite, and against wasmtime's validator."""

from __future__ import annotations

from collections import Counter

import pytest
import wasmtime

from oracle.engines.wasmtime_engine import make_config
from tests.suite_modules import suite_modules
from winch.errors import DecodeError, Unsupported, ValidationError
from winch.wasm import validate


def _ours(wasm: bytes) -> str:
    try:
        validate(wasm)
        return "valid"
    except Unsupported as e:
        return "unsupported:" + e.feature
    except DecodeError:
        return "malformed"
    except ValidationError:
        return "invalid"


@pytest.mark.slow
def test_front_end_agrees_with_wasmtime_validate_on_every_suite_module():
    engine = wasmtime.Engine(make_config("cranelift"))
    counts: Counter = Counter()
    disagreements = []
    for m in suite_modules():
        ours = _ours(m.wasm)
        if ours.startswith("unsupported:"):
            counts[ours] += 1
            continue
        try:
            wasmtime.Module.validate(engine, m.wasm)
            theirs = True
        except wasmtime.WasmtimeError:
            theirs = False
        counts["compared"] += 1
        if (ours == "valid") != theirs:
            disagreements.append((m, ours, theirs))
    assert counts["compared"] > 5000, counts
    assert not disagreements, disagreements[:20]


@pytest.mark.slow
def test_front_end_verdicts_match_the_suite():
    """Valid modules are accepted; invalid ones raise ValidationError, malformed DecodeError."""
    wrong = []
    for m in suite_modules():
        ours = _ours(m.wasm)
        if ours.startswith("unsupported:"):
            continue
        want = {"valid": "valid", "unlinkable": "valid", "uninstantiable": "valid",
                "traps": "valid", "invalid": "invalid", "malformed": "malformed"}[m.expect]
        if ours != want:
            wrong.append((m, ours))
    assert not wrong, wrong[:20]
