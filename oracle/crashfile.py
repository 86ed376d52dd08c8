"""Crash files: one `.wasm` that carries its own execution plan and expected finding.

The plan and the signature live in a custom section named `oracle.plan` (JSON), appended at
the end of the module; engines ignore custom sections, so the file runs as it is.  A module
without that section gets the default plan.  The sections are scanned at the byte level, so
even a malformed module (a validation-disagreement finding) keeps its plan.
"""

from __future__ import annotations

import json

from oracle.plan import Plan
from winch.wasm.leb import encode_unsigned, read_u32

SECTION = "oracle.plan"


def _sections(wasm: bytes):
    """(start, end, id, name or None) of each section, as far as they can be read."""
    pos = 8
    out = []
    while pos < len(wasm):
        start = pos
        try:
            sid = wasm[pos]
            size, pos = read_u32(wasm, pos + 1, len(wasm))
        except Exception:  # noqa: BLE001 - a malformed tail: stop scanning
            break
        end = pos + size
        if end > len(wasm):
            break
        name = None
        if sid == 0:
            try:
                n, p = read_u32(wasm, pos, end)
                name = bytes(wasm[p:p + n]).decode("utf-8", "replace")
            except Exception:  # noqa: BLE001
                name = None
        out.append((start, end, sid, name))
        pos = end
    return out


def read_crash(wasm: bytes) -> tuple[bytes, Plan | None, dict]:
    """(module without the plan section, plan or None, metadata such as the signature)."""
    plan, meta, keep = None, {}, bytearray(wasm[:8])
    last = 8
    for start, end, sid, name in _sections(wasm):
        if sid == 0 and name == SECTION:
            body = bytes(wasm[start:end])
            payload = body[body.index(SECTION.encode()) + len(SECTION):]
            meta = json.loads(payload.decode())
            plan = Plan.from_json(json.dumps(meta.get("plan", {"calls": []})))
            keep += wasm[last:start]
            last = end
    keep += wasm[last:]
    return bytes(keep), plan, meta


def write_crash(wasm: bytes, plan: Plan, signature: str = "", **extra) -> bytes:
    """`wasm` with its plan and expected signature in an `oracle.plan` custom section.

    The section also holds the finding's `identity` (what survives reduction, see
    `oracle.compare.Identity`): pass `identity=str(finding.identity)`, else it is derived
    from `signature` and the module."""
    module, _, _ = read_crash(wasm)
    meta = {"plan": json.loads(plan.to_json()), "signature": signature, **extra}
    if signature and not meta.get("identity"):
        meta["identity"] = str(expected_identity(meta, module))
    elif meta.get("identity") is not None:
        meta["identity"] = str(meta["identity"])
    name = SECTION.encode()
    payload = encode_unsigned(len(name)) + name + json.dumps(meta, sort_keys=True).encode()
    return module + b"\x00" + encode_unsigned(len(payload)) + payload


def expected_identity(meta: dict, module: bytes = b""):
    """The identity of the finding a crash file expects (an `oracle.compare.Identity`), or
    None when it names none.  Files written before identities existed hold only the exact
    signature: the identity is derived from it (`module`, if it decodes, says whether a
    differing export is a global or a memory).  Raises ValueError for a malformed one."""
    from oracle.compare import Identity

    if meta.get("identity"):
        return Identity.parse(str(meta["identity"]))
    signature = meta.get("signature", "")
    if not signature:
        return None
    decoded = None
    try:
        from winch.wasm.reader import decode_module

        decoded = decode_module(bytes(module)) if module else None
    except Exception:  # noqa: BLE001 - a malformed module (a validation finding) is fine
        decoded = None
    return Identity.from_signature(signature, decoded)
