"""Bad input to every command and subcommand: exit 2 and exactly one line on stderr naming the
file (and the byte offset where there is one), never a traceback (issue 15, section 5).

The table (`cases`) is shared with scripts/bad_input_table.py, which runs it through the real
console scripts and prints it as markdown.  Here it runs in-process through `main(argv)`
(fast); a few cases, the broken pipe and `--help`/`--version` also run as real processes.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

GOOD_WAT = """(module (memory 1)
  (func (export "f") (param i32) (result i32) local.get 0)
  (func (export "g") (param i64 f32 f64) (result i64) local.get 0))"""
SIMD_WAT = '(module (func (export "f") (result v128) v128.const i64x2 1 2))'
HEADER = b"\0asm\1\0\0\0"


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple  # program first; "{name}" is replaced by the path of input `name`
    names: str  # the line must contain this ("{name}" too)
    offset: str | None = None  # the line must contain `@<offset>` of this input
    says: str = ""  # and this

    def expand(self, paths: dict) -> tuple:
        return tuple(a.format(**paths) for a in self.argv), self.names.format(**paths)


def make_inputs(d: Path) -> tuple[dict, dict]:
    """Write the bad (and a few good) inputs into `d`: their paths, and the byte offset each
    malformed module's line must name."""
    import wasmtime

    from winch.errors import DecodeError
    from winch.wasm.reader import decode_module

    good = wasmtime.wat2wasm(GOOD_WAT)
    junk = b"\xff" + random.Random(15).randbytes(63)  # neither the magic nor UTF-8
    files = {
        "empty": b"", "random": junk, "truncated": good[:len(good) // 2],
        "text": b'(module (func (export "f")))\n',
        # a section size of 6 LEB128 bytes, and one of 5 bytes whose value exceeds u32
        "leb_long": HEADER + b"\x01\xff\xff\xff\xff\xff\x0f",
        "leb_big": HEADER + b"\x01\xff\xff\xff\xff\x7f",
        "good": good, "simd": wasmtime.wat2wasm(SIMD_WAT),
    }
    paths = {"missing": str(d / "missing.wasm"), "dir": str(d / "adir.wasm"),
             "nodir": str(d / "missing-dir" / "x.bin"), "file": str(d / "afile"),
             "out": str(d / "out.bin"), "wast_random": str(d / "random.wast"),
             "wast_broken": str(d / "broken.wast"), "wast_missing": str(d / "missing.wast")}
    os.makedirs(paths["dir"], exist_ok=True)
    for name, data in files.items():
        paths[name] = str(d / f"{name}.wasm")
        Path(paths[name]).write_bytes(data)
    Path(paths["file"]).write_bytes(b"")
    Path(paths["wast_random"]).write_bytes(junk)
    Path(paths["wast_broken"]).write_bytes(b"(module)\n(assert_return (invoke \"f\")\n")
    offsets = {"empty": 0, "random": 0}
    for name in ("truncated", "leb_long", "leb_big"):
        try:
            decode_module(files[name])
        except DecodeError as e:
            offsets[name] = e.offset
    return paths, offsets


MODULE_COMMANDS = {
    "winch run": ("winch", "run", "{f}", "--invoke", "f"),
    "winch explain": ("winch", "explain", "{f}"),
    "winch compile": ("winch", "compile", "{f}", "-o", "{out}"),
    "oracle diff": ("oracle", "diff", "{f}"),
    "oracle replay": ("oracle", "replay", "{f}"),
    "oracle reduce": ("oracle", "reduce", "{f}", "-o", "{out}"),
    "oracle locate": ("oracle", "locate", "{f}"),
}
MODULE_INPUTS = {  # input -> (offset in the line?, what the line says)
    "missing": (False, "cannot read: No such file"),
    "empty": (True, "empty file"),
    "dir": (False, "cannot read: Is a directory"),
    "random": (True, "magic header not detected"),
    "truncated": (True, ""),
    "text": (False, "this is WebAssembly text (.wat), not a binary module"),
    "leb_long": (True, ""),
    "leb_big": (True, ""),
}


def cases() -> list[Case]:
    out = []
    for cmd, argv in MODULE_COMMANDS.items():
        for name, (has_offset, says) in MODULE_INPUTS.items():
            if cmd == "oracle replay" and not says:
                has_offset = False  # a malformed module may first be "not a crash file"
            out.append(Case(f"{cmd} {name}", tuple(a.replace("{f}", "{" + name + "}")
                                                   for a in argv),
                            "{" + name + "}", name if has_offset else None, says))
    g = "{good}"
    run = ("winch", "run", g, "--invoke")
    out += [
        Case("winch run i32 too big", run + ("f", "4294967296"), g, None, "out of range for i32"),
        Case("winch run i32 too small", run + ("f", "-2147483649"), g, None,
             "out of range for i32"),
        Case("winch run i32 not a number", run + ("f", "1.5"), g, None, "not an integer (i32)"),
        Case("winch run i64 too big", run + ("g", str(1 << 64), "0", "0"), g, None,
             "out of range for i64"),
        Case("winch run f32 too big", run + ("g", "1", "1e39", "0"), g, None,
             "out of range for f32"),
        Case("winch run f32 not a number", run + ("g", "1", "one", "0"), g, None,
             "not a number (f32)"),
        Case("winch run f64 too big", run + ("g", "1", "0", "1e400"), g, None,
             "out of range for f64"),
        Case("winch run f64 not a number", run + ("g", "1", "0", "x"), g, None,
             "not a number (f64)"),
        Case("winch run arity", run + ("f",), g, None, "takes 1 argument(s), got 0"),
        Case("winch run no such export", run + ("nope",), g, None, "no exported function"),
        Case("winch run bad flag", run + ("f", "1", "--bogus"),
             "winch run: unrecognized arguments: --bogus"),
        Case("winch run bad target", ("winch", "run", "--target", "mips", g, "--invoke", "f"),
             "mips"),
        Case("winch explain no such function", ("winch", "explain", g, "--func", "99"), g,
             None, "no defined function 99"),
        Case("winch explain bad flag", ("winch", "explain", g, "--func", "x"), "--func"),
        Case("winch compile unwritable -o", ("winch", "compile", g, "-o", "{nodir}"), "{nodir}",
             None, "no such directory"),
        Case("winch compile -o a directory", ("winch", "compile", g, "-o", "{dir}"), "{dir}",
             None, "is a directory"),
        Case("winch compile simd (no offset)", ("winch", "compile", "{simd}", "-o", "{out}"),
             "{simd}", None, "unsupported feature 'simd'"),
        Case("winch compile bad flag", ("winch", "compile", g, "-o", "{out}", "--bogus"),
             "winch compile: unrecognized arguments: --bogus"),
        Case("winch no command", ("winch",), "COMMAND"),
        Case("winch bad command", ("winch", "bogus"), "bogus"),
        Case("oracle diff unwritable --save", ("oracle", "diff", g, "--save", "{nodir}"),
             "{nodir}", None, "no such directory"),
        Case("oracle diff bad --engines", ("oracle", "diff", g, "--engines", "bogus"), "bogus"),
        Case("oracle diff bad flag", ("oracle", "diff", g, "--bogus"),
             "oracle diff: unrecognized arguments: --bogus"),
        Case("oracle replay bad flag", ("oracle", "replay", g, "--bogus"),
             "oracle replay: unrecognized arguments: --bogus"),
        Case("oracle reduce unwritable -o", ("oracle", "reduce", g, "-o", "{nodir}"), "{nodir}",
             None, "no such directory"),
        Case("oracle reduce --command nonexistent",
             ("oracle", "reduce", g, "--command", "/nonexistent", "-o", "{out}"), "/nonexistent"),
        Case("oracle reduce --max-seconds -5", ("oracle", "reduce", g, "--max-seconds", "-5"),
             "--max-seconds"),
        Case("oracle reduce bad flag", ("oracle", "reduce", g, "--bogus"),
             "oracle reduce: unrecognized arguments: --bogus"),
        Case("oracle spectest missing", ("oracle", "spectest", "--engine", "frontend",
                                         "{wast_missing}"), "{wast_missing}", None,
             "cannot read"),
        Case("oracle spectest directory", ("oracle", "spectest", "--engine", "frontend",
                                           "{dir}"), "{dir}", None, "Is a directory"),
        Case("oracle spectest random bytes", ("oracle", "spectest", "--engine", "frontend",
                                              "{wast_random}"), "{wast_random}@0x0", None,
             "not a .wast script"),
        Case("oracle spectest binary module", ("oracle", "spectest", "--engine", "frontend", g),
             g, None, "binary WebAssembly module, not a .wast script"),
        Case("oracle spectest syntax error", ("oracle", "spectest", "--engine", "frontend",
                                              "{wast_broken}"), "{wast_broken}:2"),
        Case("oracle spectest bad engine", ("oracle", "spectest", "--engine", "bogus",
                                            "{wast_broken}"), "bogus"),
        Case("oracle spectest no engine", ("oracle", "spectest", "{wast_broken}"), "--engine"),
        Case("oracle campaign --minutes -1", ("oracle", "campaign", "--minutes", "-1",
                                              "--out", "{dir}"), "--minutes"),
        Case("oracle campaign --targets bogus", ("oracle", "campaign", "--targets", "bogus",
                                                 "--out", "{dir}"), "bogus"),
        Case("oracle campaign --isa bogus", ("oracle", "campaign", "--isa", "mips",
                                             "--out", "{dir}"), "mips"),
        Case("oracle campaign --jobs 0", ("oracle", "campaign", "--jobs", "0",
                                          "--out", "{dir}"), "--jobs"),
        Case("oracle campaign --mutant bogus", ("oracle", "campaign", "--mutant", "bogus",
                                                "--out", "{dir}"), "bogus"),
        Case("oracle campaign --out a file", ("oracle", "campaign", "--minutes", "0.01",
                                              "--out", "{file}"), "{file}", None,
             "not a directory"),
        Case("oracle campaign bad flag", ("oracle", "campaign", "--bogus"),
             "oracle campaign: unrecognized arguments: --bogus"),
        Case("oracle no command", ("oracle",), "COMMAND"),
        Case("oracle bad command", ("oracle", "bogus"), "bogus"),
    ]
    return out


CASES = cases()


def run_in_process(argv: tuple, capsys) -> tuple[int, str]:
    from oracle.cli import main as oracle_main
    from winch.cli import main as winch_main

    main = winch_main if argv[0] == "winch" else oracle_main
    try:
        status = main(list(argv[1:]))
    except SystemExit as e:  # argparse: usage errors, --help, --version
        status = e.code
    return status, capsys.readouterr().err


def check_line(case: Case, status: int, err: str, paths: dict, offsets: dict) -> None:
    """The contract of a bad-input case, with what went wrong in the assertion message."""
    _, names = case.expand(paths)
    assert status == 2, f"exit {status}, stderr {err!r}"
    assert "Traceback" not in err, err
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    assert names in err, f"{names!r} not named in {err!r}"
    if case.offset is not None:
        at = offsets[case.offset]
        assert re.search(rf"(@|offset ){at:#x}\b", err), f"no offset {at:#x}: {err!r}"
    assert case.says in err, err


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("bad_input"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_and_exit_2(case, inputs, capsys):
    paths, offsets = inputs
    argv, _ = case.expand(paths)
    status, err = run_in_process(argv, capsys)
    check_line(case, status, err, paths, offsets)
    assert not os.path.exists(paths["out"]), "nothing is written on bad input"
    assert not os.listdir(paths["dir"]), "a refused campaign starts nothing"


def console_script(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.skip(f"console script {name} not installed beside {sys.executable}")
    return str(path)


REAL = ["winch compile unwritable -o", "winch run i32 too big", "oracle diff text",
        "oracle reduce --command nonexistent", "oracle diff unwritable --save",
        "oracle campaign --out a file", "winch compile simd (no offset)", "oracle diff bad flag"]


@pytest.mark.parametrize("case_id", REAL)
def test_real_console_scripts(case_id, inputs):
    paths, offsets = inputs
    case = next(c for c in CASES if c.id == case_id)
    argv, _ = case.expand(paths)
    r = subprocess.run([console_script(argv[0]), *argv[1:]], capture_output=True, text=True,
                       timeout=120)
    check_line(case, r.returncode, r.stderr, paths, offsets)


@pytest.mark.parametrize("argv", [("oracle", "diff", "{good}", "--engines", "wasmtime,winch-x64"),
                                  ("winch", "explain", "{good}"),
                                  ("oracle", "--help")])
def test_broken_pipe_exits_quietly(argv, inputs):
    """`oracle diff m.wasm | head`: the reader is gone before anything is written; the command
    ends without a traceback or "Exception ignored" and with the status of a tool killed by
    SIGPIPE (141); argparse's --help ignores the error itself (0)."""
    paths, _ = inputs
    argv = [a.format(**paths) for a in argv]
    p = subprocess.Popen([console_script(argv[0]), *argv[1:]], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()
    err = p.stderr.read().decode()
    p.stderr.close()
    status = p.wait(timeout=120)
    assert status in ((0, 141) if "--help" in argv else (141,)), err
    assert err == "", err


def _help(main, argv, capsys) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("prog,commands", [
    ("winch", ("compile", "explain", "run")),
    ("oracle", ("spectest", "diff", "replay", "reduce", "locate", "campaign")),
])
def test_help_lists_every_command_with_an_example_and_version(prog, commands, capsys):
    from oracle.cli import main as oracle_main
    from winch.cli import main as winch_main

    main = winch_main if prog == "winch" else oracle_main
    text = _help(main, ["--help"], capsys)
    lines = text.splitlines()
    for cmd in commands:
        described = [ln for ln in lines if ln.split()[:1] == [cmd]]
        assert len(described) == 1 and len(described[0].split()) > 3, (cmd, text)
        examples = [ln for ln in lines if ln.strip().startswith(f"{prog} {cmd} ")]
        assert len(examples) == 1, (cmd, text)
        sub = _help(main, [cmd, "--help"], capsys)
        assert f"example: {prog} {cmd} " in sub
    assert "--version" in text
    try:
        expected = metadata.version("winch-py")
    except metadata.PackageNotFoundError:
        expected = "unknown"
    version = _help(main, ["--version"], capsys)
    assert version.startswith(prog) and expected in version and len(version.splitlines()) == 1


def test_run_arguments_in_range_still_work(inputs, capsys):
    """The range checks refuse only what does not fit: both spellings of an i32, negative
    floats and -inf (which look like options), hex floats."""
    from winch.cli import main

    paths, _ = inputs
    good = paths["good"]
    for args, out in ((("f", "0xffffffff"), "-1:i32"), (("f", "-2147483648"), "-2147483648:i32"),
                      (("g", str((1 << 64) - 1), "-inf", "-0x1p3"), "-1:i64"),
                      (("g", "--", "-5", "nan", "-1.5"), "-5:i64")):
        assert main(["run", good, "--invoke", *args]) == 0, capsys.readouterr().err
        assert capsys.readouterr().out.strip() == out


@pytest.mark.parametrize("prog", ["winch", "oracle"])
def test_the_table_covers_every_command(prog, capsys):
    """A command added later without bad-input cases fails here."""
    from oracle.cli import main as oracle_main
    from winch.cli import main as winch_main

    text = _help(winch_main if prog == "winch" else oracle_main, ["--help"], capsys)
    listed = set(re.findall(r"^    (\w+)  ", text, re.M))
    covered = {c.id.split()[1] for c in CASES if c.id.startswith(prog + " ")}
    assert listed and listed <= covered, listed - covered
