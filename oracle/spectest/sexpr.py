"""S-expressions of `.wast` scripts, with source positions.

Scripts are read as bytes and decoded as Latin-1, so every character is exactly one source
byte: string literals can hold arbitrary bytes, and a module's text can be handed to the
text-format parser byte for byte (`source[node.start:node.end]`).
"""

from __future__ import annotations

import re

from oracle.spectest.errors import ScriptError

# One token per match, leading whitespace skipped; groups by number (faster than names):
# 1 line comment, 2 block comment start, 3 "(", 4 ")", 5 string, 6 atom.
_TOKEN = re.compile(
    r"""[ \t\n\r]*(?:
        (;;[^\n]*)
      | (\(;)
      | (\()
      | (\))
      | ("(?:[^"\\\n]|\\.)*")
      | ((?:[^ \t\n\r()";]|;(?!;))+)
    )""",
    re.VERBOSE | re.DOTALL,
)
_TRAILING_WS = re.compile(r"[ \t\n\r]*\Z")

_ESCAPES = {"t": 9, "n": 10, "r": 13, '"': 34, "'": 39, "\\": 92}
_HEX = set("0123456789abcdefABCDEF")


class Atom(str):
    """A keyword, number, identifier or reserved token; `pos` is its source offset."""

    pos: int

    def __new__(cls, text: str, pos: int) -> "Atom":
        a = super().__new__(cls, text)
        a.pos = pos
        return a


class String(bytes):
    """A string literal's value (escapes resolved); `pos` is its source offset."""

    pos: int

    def __new__(cls, value: bytes, pos: int) -> "String":
        s = super().__new__(cls, value)
        s.pos = pos
        return s


class SList(list):
    """A parenthesised list; `start`/`end` delimit it in the source (end exclusive)."""

    start: int
    end: int

    @property
    def head(self) -> str:
        return self[0] if self and isinstance(self[0], Atom) else ""


def unescape(body: str, pos: int) -> bytes:
    """Resolve the escapes of a string literal's body (between the quotes)."""
    if "\\" not in body:
        return body.encode("latin-1")
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(ord(c))
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e == "u" and i + 2 < n and body[i + 2] == "{":
            close = body.index("}", i)
            out += chr(int(body[i + 3:close].replace("_", ""), 16)).encode("utf-8")
            i = close + 1
        elif e in _HEX and i + 2 < n and body[i + 2] in _HEX:
            out.append(int(body[i + 1:i + 3], 16))
            i += 3
        else:
            raise ScriptError(f"bad escape \\{e} in string", pos)
    return bytes(out)


def parse(source: str) -> list:
    """Parse a whole script into a list of top-level `SList`s (atoms at top level are errors)."""
    stack: list[SList] = []
    top: list = []
    cur: list = top
    pos, n = 0, len(source)
    match = _TOKEN.match
    while pos < n:
        m = match(source, pos)
        if m is None:
            if _TRAILING_WS.match(source, pos):
                break
            bad = pos + len(source[pos:]) - len(source[pos:].lstrip())
            raise ScriptError(f"unexpected character {source[bad]!r}", bad)
        kind = m.lastindex
        end = m.end()
        if kind == 6:
            if cur is top:
                raise ScriptError(f"unexpected token {m.group(6)!r} outside a command", m.start(6))
            cur.append(Atom(m.group(6), m.start(6)))
        elif kind == 3:
            node = SList()
            node.start = end - 1
            stack.append(node)
            cur = node
        elif kind == 4:
            if not stack:
                raise ScriptError("unbalanced ')'", end - 1)
            node = stack.pop()
            node.end = end
            cur = stack[-1] if stack else top
            cur.append(node)
        elif kind == 5:
            if cur is top:
                raise ScriptError("unexpected string outside a command", m.start(5))
            cur.append(String(unescape(m.group(5)[1:-1], m.start(5)), m.start(5)))
        elif kind == 2:
            end = _skip_block_comment(source, m.start(2))
        pos = end
    if stack:
        raise ScriptError("unclosed '('", stack[-1].start)
    return top


def _skip_block_comment(source: str, pos: int) -> int:
    depth, i = 0, pos
    while True:
        a = source.find("(;", i)
        b = source.find(";)", i)
        if b < 0:
            raise ScriptError("unclosed block comment", pos)
        if 0 <= a < b:
            depth += 1
            i = a + 2
        else:
            depth -= 1
            i = b + 2
            if depth == 0:
                return i


def line_of(source: str, pos: int) -> int:
    return source.count("\n", 0, pos) + 1
