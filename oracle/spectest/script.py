"""The commands of a `.wast` script, read from its S-expressions.

Every command form the spec suite uses is represented; module text is kept as source bytes
(the runner converts it with the text-format parser), binary and quoted modules as their
concatenated strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oracle.spectest import sexpr
from oracle.spectest.errors import ScriptError, UnsupportedForm
from oracle.spectest.literals import parse_float, parse_int
from oracle.spectest.sexpr import Atom, SList, String
from oracle.values import Value

# -- modules ---------------------------------------------------------------------------


@dataclass
class ModuleSource:
    kind: str  # "text" | "binary" | "quote"
    data: bytes  # module text (the whole `(module ...)`), binary bytes, or quoted text
    name: str | None = None
    definition: bool = False  # `(module definition ...)`: compile only, instantiate later
    line: int = 0


@dataclass
class ModuleCmd:
    line: int
    module: ModuleSource


@dataclass
class InstanceCmd:
    line: int
    name: str | None
    definition: str | None  # name of a `module definition`, None for the last one


@dataclass
class RegisterCmd:
    line: int
    as_name: str
    module: str | None


# -- actions and assertions --------------------------------------------------------------


@dataclass
class Invoke:
    module: str | None
    name: str
    args: list


@dataclass
class Get:
    module: str | None
    name: str


@dataclass
class ActionCmd:
    line: int
    action: Invoke | Get


@dataclass
class AssertReturn:
    line: int
    action: Invoke | Get
    expected: list  # of Expected


@dataclass
class AssertTrap:
    line: int
    action: Invoke | Get | None
    module: ModuleSource | None  # assert_trap on a module: instantiation traps
    message: str


@dataclass
class AssertExhaustion:
    line: int
    action: Invoke | Get
    message: str


@dataclass
class AssertException:
    line: int
    action: Invoke | Get


@dataclass
class AssertModule:
    """assert_invalid / assert_malformed / assert_unlinkable / assert_uninstantiable."""

    line: int
    kind: str  # "invalid" | "malformed" | "unlinkable" | "uninstantiable"
    module: ModuleSource
    message: str


@dataclass
class Unknown:
    """A command the runner does not perform (`thread`, `wait`, components, ...): skipped
    with `reason`, never a failure."""

    line: int
    head: str
    reason: str = ""
    shared: tuple = ()  # `thread`: the modules it shares with the script, `(shared (module $M))`


# -- expected results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Exact:
    value: Value


@dataclass(frozen=True)
class NanPattern:
    type: str  # f32 | f64
    kind: str  # canonical | arithmetic


@dataclass(frozen=True)
class V128Lanes:
    shape: str  # e.g. f32x4
    lanes: tuple  # per lane: int bit pattern or NanPattern


@dataclass(frozen=True)
class RefPattern:
    """`(ref.null t)`, `(ref.extern n)`, `(ref.func)`, `(ref.host n)`, `(ref.i31)`, ..."""

    kind: str  # null | extern | func | host | i31 | struct | array | eq | any | exn ...
    heap: str | None = None  # for null: the heap type named, if any
    payload: int | None = None  # for extern/host: the host value


@dataclass(frozen=True)
class Either:
    alternatives: tuple


@dataclass
class Script:
    path: str
    source: str
    commands: list = field(default_factory=list)
    # wasmtime's per-file configuration, the `;;! key = value` lines opening the file, as
    # (key, value, line) in file order (see oracle/spectest/config.py)
    config: list = field(default_factory=list)


LANES = {"i8x16": (8, 16), "i16x8": (16, 8), "i32x4": (32, 4), "i64x2": (64, 2),
         "f32x4": (32, 4), "f64x2": (64, 2)}


def parse_script(source_bytes: bytes, path: str = "<script>") -> Script:
    source = source_bytes.decode("latin-1")
    script = Script(path, source, config=parse_config_header(source))
    reader = _Reader(source)
    nodes = sexpr.parse(source)
    if nodes and all(_strip(n).head in MODULE_FIELDS for n in nodes):
        # a script of bare module fields is one inline module
        text = ("(module " + source + "\n)").encode("latin-1")
        script.commands.append(ModuleCmd(1, ModuleSource("text", text, None, False, 1)))
        return script
    for node in nodes:
        try:
            script.commands.append(reader.command(node))
        except UnsupportedForm as e:
            head = _strip(node).head or "?"
            script.commands.append(Unknown(reader.line(node.start), head, e.message))
        except ScriptError as e:
            if e.pos < 0:
                e.pos = node.start
            raise
    return script


def parse_config_header(source: str) -> list:
    """The `;;!` lines opening a script (as wasmtime reads them: every line from the first
    that starts with `;;!`, up to the first that does not), each `key = true|false` with an
    optional `# comment`, as (key, value, line).  Anything else there is a ScriptError."""
    out = []
    pos = 0
    for number, raw in enumerate(source.split("\n"), 1):
        if not raw.startswith(";;!"):
            break
        text = raw[3:].split("#", 1)[0].strip()
        if text:
            key, eq, value = (part.strip() for part in text.partition("="))
            if not eq or not key.replace("_", "").replace("-", "").isalnum() or \
                    value not in ("true", "false"):
                raise ScriptError(f"bad `;;!` line {raw.strip()!r}: expected `name = true` "
                                  "or `name = false`", pos)
            out.append((key, value == "true", number))
        pos += len(raw) + 1
    return out


THREAD_REASON = "thread/wait: concurrent threads are not run by this runner"


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self._line_pos = 0
        self._line = 1

    def line(self, pos: int) -> int:
        """The 1-based line of `pos`; positions are asked for mostly in increasing order."""
        if pos < 0:
            return 0
        if pos < self._line_pos:
            self._line_pos, self._line = 0, 1
        self._line += self.source.count("\n", self._line_pos, pos)
        self._line_pos = pos
        return self._line

    # -- commands ----------------------------------------------------------------------
    def command(self, node: SList):
        node = _strip(node)
        head = node.head
        line = self.line(node.start)
        if head == "module":
            mod = self.module(node)
            if len(node) > 1 and node[1] == "instance":
                names = [a for a in node[2:] if isinstance(a, Atom) and a.startswith("$")]
                return InstanceCmd(line, names[0] if names else None,
                                   names[1] if len(names) > 1 else None)
            return ModuleCmd(line, mod)
        if head == "register":
            name = self.string(node, 1)
            return RegisterCmd(line, name, self.opt_id(node, 2))
        if head in ("invoke", "get"):
            return ActionCmd(line, self.action(node))
        if head == "assert_return":
            return AssertReturn(line, self.action(node[1]), [self.expected(n) for n in node[2:]])
        if head == "assert_trap":
            target = node[1]
            msg = self.string(node, 2)
            if isinstance(target, SList) and target.head == "module":
                return AssertTrap(line, None, self.module(target), msg)
            return AssertTrap(line, self.action(target), None, msg)
        if head == "assert_exhaustion":
            return AssertExhaustion(line, self.action(node[1]), self.string(node, 2))
        if head == "assert_exception":
            return AssertException(line, self.action(node[1]))
        if head in ("assert_invalid", "assert_malformed", "assert_unlinkable",
                    "assert_uninstantiable"):
            return AssertModule(line, head[len("assert_"):], self.module(node[1]),
                                self.string(node, 2))
        if head == "thread":
            shared = tuple(str(m[1]) for x in node[1:]
                           if isinstance(x, SList) and x.head == "shared"
                           for m in x[1:] if isinstance(m, SList) and m.head == "module"
                           and len(m) > 1 and isinstance(m[1], Atom))
            return Unknown(line, head, THREAD_REASON, shared)
        if head == "wait":
            return Unknown(line, head, THREAD_REASON)
        if head == "component":
            return Unknown(line, head, "component model: not supported")
        head = head or "?"
        return Unknown(line, head, f"({head} ...): command not supported by the runner")

    def string(self, node: SList, i: int) -> str:
        if i >= len(node) or not isinstance(node[i], String):
            raise ScriptError(f"expected a string in ({node.head} ...)", node.start)
        return bytes(node[i]).decode("utf-8", errors="replace")

    @staticmethod
    def opt_id(node: SList, i: int) -> str | None:
        if i < len(node) and isinstance(node[i], Atom) and node[i].startswith("$"):
            return str(node[i])
        return None

    def module(self, node) -> ModuleSource:
        if isinstance(node, SList):
            node = _strip(node)
        if isinstance(node, SList) and node.head == "component":
            raise UnsupportedForm("component model: not supported", node.start)
        if not isinstance(node, SList) or node.head != "module":
            raise ScriptError("expected (module ...)", getattr(node, "start", -1))
        line = self.line(node.start)
        i = 1
        definition = False
        if i < len(node) and node[i] in ("definition", "instance"):
            definition = node[i] == "definition"
            i += 1
        name = self.opt_id(node, i)
        if name:
            i += 1
        if i < len(node) and node[i] in ("binary", "quote"):
            kind = str(node[i])
            parts = node[i + 1:]
            if not all(isinstance(p, String) for p in parts):
                raise ScriptError(f"(module {kind} ...) takes only strings", node.start)
            return ModuleSource(kind, b"".join(bytes(p) for p in parts), name, definition, line)
        text = self.source[node.start:node.end]
        if definition:
            # the text parser knows plain modules: drop the `definition` keyword
            text = text.replace("definition", "", 1)
        return ModuleSource("text", text.encode("latin-1"), name, definition, line)

    def action(self, node) -> Invoke | Get:
        if not isinstance(node, SList) or node.head not in ("invoke", "get"):
            raise ScriptError("expected (invoke ...) or (get ...)", getattr(node, "start", -1))
        i = 1
        mod = self.opt_id(node, i)
        if mod:
            i += 1
        name = self.string(node, i)
        if node.head == "get":
            return Get(mod, name)
        return Invoke(mod, name, [self.value(a) for a in node[i + 1:]])

    # -- values --------------------------------------------------------------------------
    def value(self, node) -> Value:
        e = self.expected(node, allow_patterns=False)
        if isinstance(e, Exact):
            return e.value
        if isinstance(e, RefPattern):
            if e.kind == "null":
                return Value(_null_type(e.heap), None)
            if e.kind in ("extern", "host"):
                return Value("externref" if e.kind == "extern" else "anyref", e.payload)
        raise UnsupportedForm(f"argument {_show_node(node)} cannot be passed by the runner",
                              getattr(node, "start", -1))

    def expected(self, node, allow_patterns: bool = True):
        if not isinstance(node, SList) or not node:
            raise ScriptError("expected a value", getattr(node, "start", -1))
        head = node.head
        if head == "either":
            return Either(tuple(self.expected(n) for n in node[1:]))
        if head in ("i32.const", "i64.const"):
            width = 32 if head[1] == "3" else 64
            return Exact(Value(head[:3], parse_int(node[1], width)))
        if head in ("f32.const", "f64.const"):
            ty = head[:3]
            lit = str(node[1])
            if lit.startswith("nan:") and lit[4:] in ("canonical", "arithmetic"):
                return NanPattern(ty, lit[4:])
            return Exact(Value(ty, parse_float(lit, ty)))
        if head == "v128.const":
            shape = str(node[1])
            if shape not in LANES:
                raise ScriptError(f"unknown v128 shape {shape}", node.start)
            width, count = LANES[shape]
            lanes = []
            any_pattern = False
            for lit in node[2:2 + count]:
                lit = str(lit)
                if shape[0] == "f":
                    if lit in ("nan:canonical", "nan:arithmetic"):
                        lanes.append(NanPattern("f32" if width == 32 else "f64", lit[4:]))
                        any_pattern = True
                    else:
                        lanes.append(parse_float(lit, "f32" if width == 32 else "f64"))
                else:
                    lanes.append(parse_int(lit, width))
            if len(lanes) != count:
                raise ScriptError(f"{shape} needs {count} lanes", node.start)
            if any_pattern:
                return V128Lanes(shape, tuple(lanes))
            bits = 0
            for k, lane in enumerate(lanes):
                bits |= lane << (k * width)
            return Exact(Value("v128", bits))
        if head.startswith("ref."):
            kind = head[4:]
            arg = node[1] if len(node) > 1 else None
            if kind == "null":
                return RefPattern("null", str(arg) if arg is not None else None)
            if kind in ("extern", "host"):
                if arg is None:
                    return RefPattern(kind)
                return RefPattern(kind, payload=parse_int(arg, 32))
            return RefPattern(kind)
        raise UnsupportedForm(f"value form ({head} ...) not supported by the runner", node.start)


MODULE_FIELDS = frozenset(("type", "import", "func", "table", "memory", "global", "export",
                           "start", "elem", "data", "tag", "rec"))


def _show_node(node) -> str:
    if isinstance(node, SList):
        return "(" + " ".join(_show_node(x) for x in node) + ")"
    return str(node)


def _strip(node: SList) -> SList:
    """`node` without annotations `(@name ...)` among its items (positions kept)."""
    if not any(isinstance(x, SList) and x.head.startswith("@") for x in node):
        return node
    out = SList(x for x in node if not (isinstance(x, SList) and x.head.startswith("@")))
    out.start, out.end = node.start, node.end
    return out


def _null_type(heap: str | None) -> str:
    if heap in ("func", "nofunc") or heap is None:
        return "funcref"
    if heap in ("extern", "noextern"):
        return "externref"
    if heap in ("exn", "noexn"):
        return "exnref"
    return "anyref"
