"""atheris fuzz targets: `python -m fuzz_targets.NAME CORPUS_DIR [libFuzzer flags]`.

differential  generated modules through `oracle diff` on every engine
validate      raw bytes: our front end against wasmtime's validator
compile       structurally mutated seed modules compiled for every ISA, twice
assemble      our three assemblers against Capstone
"""

import os


def apply_mutant_from_env() -> None:
    """Apply the deliberate bug named by $ORACLE_MUTANT (`oracle.mutants`), if any: how a
    campaign proves it finds, reduces and deduplicates a known bug."""
    name = os.environ.get("ORACLE_MUTANT")
    if not name:
        return
    from oracle.mutants import apply

    apply(name)


def fuzz(test_one_input, stats: dict, argv=None) -> None:
    """A target's `main`: counters reported while it runs, then libFuzzer's loop.

    libFuzzer's `-fork`, `-jobs` and `-workers` start each child by running argv[0] through
    the shell.  Under `python -m` that is the target's .py file, which is executable with a
    `#!/usr/bin/env python3` line in a checkout, but not once pip has installed it (wheels
    drop the mode) and `python3` on PATH may not be this interpreter.  So in those modes
    argv[0] becomes a small wrapper script that runs this very interpreter on the file."""
    import sys

    import atheris

    from fuzz_targets.findings import report_stats_at_exit

    argv = list(argv or sys.argv)
    if any(a.split("=", 1)[0] in ("-fork", "-jobs", "-workers") for a in argv[1:]):
        argv[0] = child_command(argv[0])
    report_stats_at_exit(stats)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


def child_command(target_file: str) -> str:
    """An executable that runs `target_file` (a target's .py file) with this interpreter and
    passes its arguments on: what libFuzzer runs as argv[0] for its child processes.  The
    wrapper lives in the temporary directory, one per interpreter and file, and is written
    atomically (parallel workers may write it at once).  Anything that is not a .py file
    (a packaged binary, a wrapper already) is returned unchanged."""
    import hashlib
    import shlex
    import sys
    import tempfile

    path = os.path.abspath(target_file)
    if not (path.endswith(".py") and os.path.isfile(path)):
        return target_file
    key = hashlib.sha1(f"{sys.executable}\0{path}".encode()).hexdigest()[:12]
    d = os.path.join(tempfile.gettempdir(), f"winch-py-fuzz-{os.getuid()}")
    os.makedirs(d, mode=0o700, exist_ok=True)
    wrapper = os.path.join(d, f"{os.path.basename(path)[:-3]}-{key}")
    text = (f"#!/bin/sh\n# libFuzzer child of {path}\n"
            f"exec {shlex.quote(sys.executable)} {shlex.quote(path)} \"$@\"\n")
    try:
        with open(wrapper) as f:
            if f.read() == text and os.access(wrapper, os.X_OK):
                return wrapper
    except OSError:
        pass
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        os.fchmod(f.fileno(), 0o755)
    os.replace(tmp, wrapper)
    return wrapper
