"""Run a `.wast` script against one engine and count passed / failed / skipped commands.

Every command is one check.  A command is *skipped* only with a reason: the module it needs
was rejected as unsupported (the feature is named) or refused for lack of resources, the
engine cannot perform it (the front end runs nothing), the harness cannot express it with
this engine (`thread`, components, ...), or the file's `;;!` configuration asks for what
the engine cannot do (oracle/spectest/config.py).  Anything the engine gets wrong,
including a Python exception escaping the engine, is a *failure*.

wasmtime's runner conventions are followed, so its own suite (`tests/misc_testsuite`) runs
unchanged: a module or instance named `$name` is also registered under `name`, and the
`wasmtime` host module provides `gc` (a no-op here: collection is not observable by a
script).
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass, field

import wasmtime

from oracle.engines.base import (Engine, InstantiationTrapped, LinkError, NotRun, Rejected,
                                 ResourceLimited)
from oracle.outcomes import Exhausted, Trap, TrapKind, Values, trap_kind_for_spec_message
from oracle.spectest import script as S
from oracle.spectest.config import skip_reason
from oracle.spectest.matching import describe, matches, unverifiable


@dataclass
class Failure:
    line: int
    command: str
    message: str


@dataclass
class FileResult:
    path: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    skip_reasons: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {"passed": self.passed, "failed": self.failed, "skipped": self.skipped,
                "skip_reasons": dict(sorted(self.skip_reasons.items())),
                "failures": [f.__dict__ for f in self.failures]}


class _Skip(Exception):
    def __init__(self, reason: str):
        self.reason = reason


class _Fail(Exception):
    def __init__(self, message: str):
        self.message = message


@dataclass
class _Unavailable:
    """Stands in for an instance the engine could not provide, with the reason why."""

    reason: str


def text_to_binary(src: S.ModuleSource) -> bytes:
    if src.kind == "binary":
        return src.data
    text = src.data if src.kind == "text" else b"(module " + src.data + b"\n)"
    if any(b >= 0x80 for b in text):
        text = escape_string_literals(text)
    return bytes(wasmtime.wat2wasm(text))


def escape_string_literals(text: bytes) -> bytes:
    """Write the non-ASCII bytes of string literals as `\\hh` escapes (same meaning).

    wasmtime's text parser refuses some Unicode it finds "likely confusing" (e.g. U+202E)
    even inside strings, where the spec allows it; escaped, the bytes are the same.
    """
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == 0x22:  # string
            j = i + 1
            out.append(c)
            while j < n and text[j] != 0x22:
                if text[j] == 0x5C and j + 1 < n:
                    out += text[j:j + 2]
                    j += 2
                    continue
                out += b"\\%02x" % text[j] if text[j] >= 0x80 else bytes((text[j],))
                j += 1
            out += text[j:j + 1]
            i = j + 1
        elif text.startswith(b";;", i):
            j = text.find(b"\n", i)
            j = n if j < 0 else j
            out += text[i:j]
            i = j
        elif text.startswith(b"(;", i):
            depth, j = 0, i
            while j < n:
                if text.startswith(b"(;", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith(b";)", j):
                    depth, j = depth - 1, j + 2
                    if depth == 0:
                        break
                else:
                    j += 1
            out += text[i:j]
            i = j
        else:
            out.append(c)
            i += 1
    return bytes(out)


class ScriptRunner:
    def __init__(self, engine: Engine, script: S.Script):
        self.engine = engine
        self.script = script
        self.result = FileResult(script.path)
        self.session = engine.session()
        self.instances: dict = {}
        self.current = None
        self.definitions: dict = {}
        self.last_definition = None
        self.unavailable_registrations: dict = {}  # registered name -> why it is missing
        self.registered: dict = {}  # registered name -> instance
        self.tainted: dict = {}  # id(instance) -> why its state is unknown
        self.wasmtime_gc_defined = False
        self.last_wasm = b""  # the binary of the module compiled last

    def run(self) -> FileResult:
        try:
            why = skip_reason(self.engine, self.script.config)
            if why:
                self.result.skipped = len(self.script.commands)
                self.result.skip_reasons[why] += len(self.script.commands)
                return self.result
            for cmd in self.script.commands:
                self._one(cmd)
        finally:
            self.session.close()
        return self.result

    def _one(self, cmd) -> None:
        r = self.result
        name = type(cmd).__name__
        try:
            handler = getattr(self, "_" + name)
            handler(cmd)
            r.passed += 1
        except _Skip as s:
            r.skipped += 1
            r.skip_reasons[s.reason] += 1
        except NotRun as n:
            r.skipped += 1
            r.skip_reasons[n.reason] += 1
        except _Fail as f:
            r.failed += 1
            r.failures.append(Failure(cmd.line, _command_name(cmd), f.message))
        except Exception:  # an engine crash is a failure, never the end of the run
            r.failed += 1
            tb = traceback.format_exc(limit=6)
            r.failures.append(Failure(cmd.line, _command_name(cmd), "engine crashed:\n" + tb))

    # -- modules ------------------------------------------------------------------------
    def _binary(self, src: S.ModuleSource, *, expect_failure: bool = False) -> bytes:
        try:
            return text_to_binary(src)
        except wasmtime.WasmtimeError as e:
            first = str(e).splitlines()[0]
            if expect_failure:
                raise
            raise _Fail(f"wat2wasm rejected a module the script needs: {first}") from None

    def _compile(self, src: S.ModuleSource):
        wasm = self.last_wasm = self._binary(src)
        self._check_imports(wasm)
        self._wasmtime_host(wasm)
        try:
            return self.session.compile(wasm)
        except Rejected as e:
            if e.kind == "unsupported":
                self._taint_exporters(wasm, f"unsupported: {e.feature}")
                raise _Skip(f"unsupported: {e.feature}") from None
            raise _Fail(f"module rejected: {e.message}") from None

    def _wasmtime_host(self, wasm: bytes) -> None:
        """Provide `wasmtime.gc`, the one function of wasmtime's `wasmtime` host module, to a
        module importing it (found in the bytes: the module may not decode here)."""
        if self.wasmtime_gc_defined or b"\x08wasmtime\x02gc\x00" not in wasm:
            return
        self.wasmtime_gc_defined = True
        try:
            self.session.define_host_func("wasmtime", "gc", [], [], lambda: [])
        except NotRun:
            pass  # an engine that links nothing

    def _inherit_taint(self, wasm: bytes, inst) -> None:
        """An instance importing from a registration whose state is unknown (a skipped
        thread or module may have changed it) has unknown state too, from the start."""
        if not self.tainted or isinstance(inst, _Unavailable):
            return
        section = _import_section(wasm)
        for name, exporter in self.registered.items():
            why = self.tainted.get(id(exporter))
            if why is not None and _names(section, name):
                self.tainted[id(inst)] = why
                return

    def _taint_exporters(self, wasm: bytes, reason: str) -> None:
        """A skipped module could have changed the instances it imports from (segments,
        start function): their state is unknown to the script from now on."""
        from winch.wasm.reader import decode_module

        try:
            modules = {imp.module for imp in decode_module(wasm).imports}
        except Exception:  # it may not decode here: look for the names in its bytes
            section = _import_section(wasm)
            modules = {name for name in self.registered if _names(section, name)}
        for name in modules:
            inst = self.registered.get(name)
            if inst is not None:
                self.tainted[id(inst)] = f"state depends on a skipped module ({reason})"

    def _check_imports(self, wasm: bytes) -> None:
        """Skip (with the reason) a module importing from a registration that is missing
        because its module was skipped.  An engine that runs nothing links nothing: it
        checks every module whatever it imports."""
        if not self.unavailable_registrations or not self.engine.executes:
            return
        from winch.wasm.reader import decode_module

        try:
            modules = [imp.module for imp in decode_module(wasm).imports]
        except Exception:  # it may not decode here (malformed, or a proposal we lack)
            section = _import_section(wasm)
            modules = [n for n in self.unavailable_registrations if _names(section, n)]
        for name in modules:
            why = self.unavailable_registrations.get(name)
            if why is not None:
                raise _Skip(why)

    def _bind(self, name, inst) -> None:
        """`inst` becomes the current instance, and `$name`'s: wasmtime's runner also
        registers a named instance under `name` (without `$`), so later modules can import
        from it without a `register` command; a missing one is remembered with why."""
        self.current = inst
        if name:
            self.instances[name] = inst
            as_name = name[1:] if name.startswith("$") else name
            if isinstance(inst, _Unavailable):
                self.unavailable_registrations[as_name] = inst.reason
                self.registered.pop(as_name, None)
            else:
                self.unavailable_registrations.pop(as_name, None)
                self.registered[as_name] = inst
                self.session.register(as_name, inst)

    def _ModuleCmd(self, cmd: S.ModuleCmd) -> None:
        src = cmd.module
        try:
            compiled = self._compile(src)
        except _Skip as s:
            unavailable = _Unavailable(s.reason)
            if src.definition:
                self._define(src.name, unavailable)
            else:
                self._bind(src.name, unavailable)
            raise
        except _Fail:
            self._bind(src.name, _Unavailable("module failed"))
            raise
        if src.definition:
            self._define(src.name, compiled)
            return
        try:
            inst = self._instantiate(compiled)
        except _Skip as s:  # e.g. a resource limit: what follows uses this module, not the last
            self._bind(src.name, _Unavailable(s.reason))
            raise
        except _Fail:
            self._bind(src.name, _Unavailable("module failed"))
            raise
        self._inherit_taint(self.last_wasm, inst)
        self._bind(src.name, inst)

    def _define(self, name, compiled) -> None:
        self.last_definition = compiled
        if name:
            self.definitions[name] = compiled

    def _instantiate(self, compiled):
        try:
            return self.session.instantiate(compiled)
        except NotRun as n:
            return _Unavailable(n.reason)
        except ResourceLimited as e:
            raise _Skip(f"resource limit: {str(e).splitlines()[0]}") from None
        except LinkError as e:
            msg = str(e)
            if "table64" in msg and "unknown import" in msg:  # (wasmtime-py cannot make one)
                raise _Skip("harness cannot provide spectest.table64") from None
            raise _Fail(f"instantiation failed: {msg.splitlines()[0]}") from None
        except InstantiationTrapped as t:
            raise _Fail(f"instantiation trapped: {t.outcome}") from None

    def _InstanceCmd(self, cmd: S.InstanceCmd) -> None:
        compiled = self.definitions.get(cmd.definition) if cmd.definition else self.last_definition
        if compiled is None:
            raise _Fail(f"no module definition {cmd.definition or ''}")
        if isinstance(compiled, _Unavailable):
            self._bind(cmd.name, compiled)
            raise _Skip(compiled.reason)
        try:
            inst = self._instantiate(compiled)
        except _Skip as s:
            self._bind(cmd.name, _Unavailable(s.reason))
            raise
        except _Fail:
            self._bind(cmd.name, _Unavailable("instantiation failed"))
            raise
        self._bind(cmd.name, inst)
        if isinstance(inst, _Unavailable):
            raise _Skip(inst.reason)

    def _RegisterCmd(self, cmd: S.RegisterCmd) -> None:
        try:
            inst = self._resolve(cmd.module)
        except _Skip as s:
            self.unavailable_registrations[cmd.as_name] = s.reason
            raise
        self.unavailable_registrations.pop(cmd.as_name, None)
        self.registered[cmd.as_name] = inst
        self.session.register(cmd.as_name, inst)

    def _resolve(self, name):
        inst = self.current if name is None else self.instances.get(name)
        if inst is None:
            raise _Fail(f"no module {name or '(current)'}")
        if isinstance(inst, _Unavailable):
            raise _Skip(inst.reason)
        why = self.tainted.get(id(inst))
        if why is not None:
            raise _Skip(why)
        return inst

    # -- actions ------------------------------------------------------------------------
    def _act(self, action):
        inst = self._resolve(action.module)
        if isinstance(action, S.Get):
            return self.session.get(inst, action.name)
        return self.session.invoke(inst, action.name, action.args)

    def _ActionCmd(self, cmd: S.ActionCmd) -> None:
        out = self._act(cmd.action)
        if not isinstance(out, Values):
            raise _Fail(f"expected success, got {out}")

    def _AssertReturn(self, cmd: S.AssertReturn) -> None:
        out = self._act(cmd.action)
        if not isinstance(out, Values):
            raise _Fail(f"expected {_show(cmd.expected)}, got {out}")
        got = out.values
        if len(got) != len(cmd.expected) or not all(
                matches(e, g) for e, g in zip(cmd.expected, got)):
            for e, g in zip(cmd.expected, got):
                why = unverifiable(e, g)
                if why:
                    raise _Skip(why)
            raise _Fail(f"expected {_show(cmd.expected)}, got {out}")

    def _check_trap(self, out, message: str) -> None:
        want = trap_kind_for_spec_message(message)
        if not isinstance(out, Trap):
            raise _Fail(f"expected trap {message!r}, got {out}")
        if want is not None and out.kind != want and out.kind != TrapKind.other:
            raise _Fail(f"expected trap {message!r} ({want.value}), got {out}")

    def _AssertTrap(self, cmd: S.AssertTrap) -> None:
        if cmd.action is not None:
            self._check_trap(self._act(cmd.action), cmd.message)
            return
        compiled = self._compile(cmd.module)
        try:
            inst = self.session.instantiate(compiled)
        except InstantiationTrapped as t:
            self._check_trap(t.outcome, cmd.message)
            return
        except ResourceLimited as e:
            raise _Skip(f"resource limit: {str(e).splitlines()[0]}") from None
        except LinkError as e:
            raise _Fail(f"expected trap {cmd.message!r} at instantiation, got link error {e}") from None
        raise _Fail(f"expected trap {cmd.message!r} at instantiation, but it succeeded") \
            if not isinstance(inst, _Unavailable) else _Skip(inst.reason)

    def _AssertExhaustion(self, cmd: S.AssertExhaustion) -> None:
        out = self._act(cmd.action)
        if isinstance(out, Exhausted):
            return
        if isinstance(out, Trap) and out.kind == TrapKind.call_stack_exhausted:
            return
        raise _Fail(f"expected exhaustion {cmd.message!r}, got {out}")

    def _AssertException(self, cmd: S.AssertException) -> None:
        out = self._act(cmd.action)
        if not (isinstance(out, Trap) and out.kind == TrapKind.uncaught_exception):
            raise _Fail(f"expected an uncaught exception, got {out}")

    def _AssertModule(self, cmd: S.AssertModule) -> None:
        src = cmd.module
        if cmd.kind in ("invalid", "malformed"):
            try:
                wasm = self._binary(src, expect_failure=True)
            except wasmtime.WasmtimeError:
                if cmd.kind == "malformed" and src.kind != "binary":
                    return  # malformed text: the text format itself rejects it
                raise _Skip("text rejected by wat2wasm before reaching the engine") from None
            try:
                self.session.compile(wasm)
            except Rejected as e:
                if e.kind == "unsupported":
                    raise _Skip(f"unsupported: {e.feature}") from None
                if e.kind not in (cmd.kind, "rejected"):
                    raise _Fail(f"expected {cmd.kind} ({cmd.message!r}), engine said "
                                f"{e.kind}: {e.message}") from None
                return
            raise _Fail(f"expected {cmd.kind} module ({cmd.message!r}), but it was accepted")
        compiled = self._compile(src)
        try:
            inst = self.session.instantiate(compiled)
        except NotRun:
            return  # the engine checks modules only: the module was accepted, as it must be
        except ResourceLimited as e:
            raise _Skip(f"resource limit: {str(e).splitlines()[0]}") from None
        except LinkError as e:
            if cmd.kind == "unlinkable":
                return
            raise _Fail(f"expected {cmd.kind} ({cmd.message!r}), got link error {e}") from None
        except InstantiationTrapped as t:
            if cmd.kind == "uninstantiable":
                return
            raise _Fail(f"expected {cmd.kind} ({cmd.message!r}), got {t.outcome}") from None
        raise _Fail(f"expected {cmd.kind} ({cmd.message!r}), but instantiation succeeded")

    def _Unknown(self, cmd: S.Unknown) -> None:
        for name in cmd.shared:
            # the thread would have run against this instance: its state is now unknown
            inst = self.instances.get(name)
            if inst is not None and not isinstance(inst, _Unavailable):
                self.tainted.setdefault(id(inst), "state depends on a skipped thread")
        raise _Skip(cmd.reason or f"({cmd.head} ...): command not supported by the runner")


def _import_section(wasm: bytes) -> bytes:
    """The bytes of `wasm`'s import section (empty if none or unreadable), found by walking
    the section headers only, so it works for modules the front end cannot decode."""
    from winch.wasm.leb import read_u32

    pos = 8
    try:
        while pos < len(wasm):
            sid = wasm[pos]
            size, pos = read_u32(wasm, pos + 1, len(wasm))
            if sid == 2:
                return bytes(wasm[pos:pos + size])
            pos += size
    except Exception:
        pass
    return b""


def _names(section: bytes, module: str) -> bool:
    """Does an import section (probably) import from `module`?  Looks for the encoded name
    (length + UTF-8): a false match only makes the runner skip more, never pass more."""
    name = module.encode()
    if len(name) >= 0x80:
        return name in section
    return bytes((len(name),)) + name in section


def _command_name(cmd) -> str:
    if isinstance(cmd, S.AssertModule):
        return f"assert_{cmd.kind}"
    return {
        "ModuleCmd": "module", "InstanceCmd": "module instance", "RegisterCmd": "register",
        "ActionCmd": "action", "AssertReturn": "assert_return", "AssertTrap": "assert_trap",
        "AssertExhaustion": "assert_exhaustion", "AssertException": "assert_exception",
    }.get(type(cmd).__name__, type(cmd).__name__)


def _show(expected: list) -> str:
    return "(" + ", ".join(describe(e) for e in expected) + ")"


def run_script(engine: Engine, script: S.Script) -> FileResult:
    return ScriptRunner(engine, script).run()
