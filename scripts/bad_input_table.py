"""The bad-input table: every case of tests/test_cli_bad_input.py, run through the real
`winch` and `oracle` console scripts, printed as markdown (command line, exit status, the
line on stderr).

    python scripts/bad_input_table.py [> notes/bad_input_table.md]

The inputs are written to a temporary directory, which is the commands' working directory,
so the table shows short relative paths.  Exit 1 if a case breaks the contract (exit 2,
exactly one line on stderr naming the file, no traceback), so the table doubles as a check.
"""

from __future__ import annotations

import os
import pathlib
import shlex
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_cli_bad_input import CASES, check_line, make_inputs  # noqa: E402


def _script(name: str) -> str:
    path = pathlib.Path(sys.executable).parent / name
    return str(path) if path.exists() else name


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`" if text else "(nothing)"


def main() -> int:
    broken = 0
    with tempfile.TemporaryDirectory(prefix="bad-input-") as d:
        os.chdir(d)
        paths, offsets = make_inputs(pathlib.Path("."))
        rows = []
        for case in CASES:
            argv, _ = case.expand(paths)
            r = subprocess.run([_script(argv[0]), *argv[1:]], capture_output=True, text=True,
                               timeout=300)
            try:
                check_line(case, r.returncode, r.stderr, paths, offsets)
                ok = ""
            except AssertionError as e:
                broken += 1
                ok = f" **BROKEN: {str(e).splitlines()[0]}**"
            line = r.stderr.rstrip("\n").replace("\n", " ⏎ ")
            rows.append(f"| {case.id} | {_cell(shlex.join(argv))} | {r.returncode} | "
                        f"{_cell(line)}{ok} |")
        argv = ["oracle", "diff", paths["good"], "--engines", "wasmtime,winch-x64"]
        p = subprocess.Popen([_script(argv[0]), *argv[1:]], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.stdout.close()  # the reader of `oracle diff ... | head` is gone
        err = p.stderr.read()
        status = p.wait(timeout=300)
        rows.append(f"| broken pipe | {_cell(shlex.join(argv) + ' | head')} (reader gone) | "
                    f"{status} | {_cell(err.strip())} |")
    print("| case | command line | exit | stderr |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{len(rows)} cases; {broken} break the contract (exit 2, exactly one line on "
          "stderr naming the file and the byte offset where there is one, no traceback).")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
