"""What the `winch` and `oracle` command lines share: bad input as one line, never a traceback.

A command's body raises `BadInput(line)` for anything the user got wrong (a file that cannot
be read, text where a binary module belongs, an output path that cannot be written, a bad
argument); `run_main` prints `PROG: line` on stderr and returns 2.  The same wrapper turns an
`OSError` naming a file (an output that could not be written after all) into one line and
exit 2, and a closed stdout (`oracle diff m.wasm | head`) into a quiet exit 141
(128 + SIGPIPE, what a shell reports for a tool killed by a broken pipe) with no message.

Invariant: every line names the file it is about, and, for a module, the byte offset
(`m.wasm@0x1c: ...`) where there is one.  Errors that are not the user's (a bug in `winch`
or `oracle`) still end in a traceback: they are not caught here.
"""

from __future__ import annotations

import argparse
import os
import sys

WASM_MAGIC = b"\0asm"


class BadInput(Exception):
    """Bad input or usage; `str(e)` is the line to print after `PROG: ` (`prog`: a
    subcommand's own name, e.g. `oracle diff`, instead of the program's)."""

    def __init__(self, line: str, prog: str | None = None):
        super().__init__(line)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (no usage block) and exit status 2."""

    def error(self, message: str):
        print(f"{self.prog}: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def version() -> str:
    """The installed distribution's version (package metadata), or a marker when run from a
    source tree that was never installed."""
    from importlib import metadata

    try:
        return metadata.version("winch-py")
    except metadata.PackageNotFoundError:
        return "0+unknown (not installed)"


def u64_arg(text: str) -> int:
    """An argparse type: a count in 0 .. 2**64-1, decimal or 0x... (fuel, epoch ticks)."""
    try:
        n = int(text, 0)
    except ValueError:
        n = -1
    if not 0 <= n < 1 << 64:
        raise argparse.ArgumentTypeError(f"not a number in 0 .. 2**64-1: {text!r}")
    return n


def read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror or e}") from None


def looks_like_text(data: bytes) -> bool:
    """True for WebAssembly text (`.wat`/`.wast`): UTF-8 whose first token, after white space
    and comments, is an opening parenthesis."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    i, n = (1 if text.startswith("\ufeff") else 0), len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith(";;", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("(;", i):
            j = text.find(";)", i + 2)
            if j < 0:
                return False
            i = j + 2
        else:
            return text[i] == "("
    return False


def module_problem(data: bytes) -> str | None:
    """Why `data` is not even the start of a binary module, as `@offset: reason` or
    `: reason` (appended to the file name), or None when it starts like one."""
    if not data:
        return "@0x0: empty file, not a WebAssembly module"
    if data[:4] == WASM_MAGIC:
        return None
    if looks_like_text(data):
        return ": this is WebAssembly text (.wat), not a binary module"
    return "@0x0: not a WebAssembly binary (magic header not detected)"


def error_line(path: str, e) -> str:
    """A WinchError about the module in `path`, as every command prints it:
    `path@0xOFFSET: DecodeError: message` (no `@...` when the error has no offset)."""
    where = f"@{e.offset:#x}" if getattr(e, "offset", None) is not None and e.offset >= 0 else ""
    return f"{path}{where}: {type(e).__name__}: {getattr(e, 'message', e)}"


def read_module(path: str) -> bytes:
    """The bytes of a module file that at least starts like a binary module."""
    data = read_file(path)
    problem = module_problem(data)
    if problem:
        raise BadInput(path + problem)
    return data


def check_output(path: str, what: str = "") -> None:
    """Refuse, before any work is done, an output file that cannot be created: a directory,
    or a path whose directory does not exist or is not writable."""
    label = f"{what} {path}" if what else path
    if os.path.isdir(path):
        raise BadInput(f"{label}: cannot write: is a directory")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        why = "no such directory" if not os.path.exists(parent) else "not a directory"
        raise BadInput(f"{label}: cannot write: {why}: {parent}")
    if not os.access(parent, os.W_OK):
        raise BadInput(f"{label}: cannot write: permission denied: {parent}")


def run_main(prog: str, body, argv) -> int:
    """Run `body(argv)` -> exit status with the bad-input conventions of this module."""
    try:
        status = body(argv)
        sys.stdout.flush()  # a broken pipe shows here, not at interpreter exit
        return status
    except BadInput as e:
        print(f"{e.prog or prog}: {e}", file=sys.stderr)
        return 2
    except SystemExit:  # argparse: --help, --version or a usage error
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _stdout_to_devnull()
            return 141
        raise
    except BrokenPipeError:
        _stdout_to_devnull()
        return 141
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's status for SIGINT
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if e.filename is None:
            raise
        print(f"{prog}: {e.filename}: {e.strerror or e}", file=sys.stderr)
        return 2


def _stdout_to_devnull() -> None:
    """After EPIPE, point stdout at /dev/null so that the interpreter's last flush of the
    unwritten buffer does not print "Exception ignored ... BrokenPipeError"."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (captured)
        pass
