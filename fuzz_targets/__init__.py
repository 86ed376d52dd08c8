"""atheris fuzz targets: `python -m fuzz_targets.NAME CORPUS_DIR [libFuzzer flags]`.

differential  generated modules through `oracle diff` on every engine
validate      raw bytes: our front end against wasmtime's validator
compile       structurally mutated seed modules compiled for every ISA, twice
assemble      our three assemblers against Capstone
"""

import os


def apply_mutant_from_env() -> None:
    """Apply the deliberate bug named by $ORACLE_MUTANT (scripts/mutants.py), if any: how a
    campaign proves it finds, reduces and deduplicates a known bug."""
    name = os.environ.get("ORACLE_MUTANT")
    if not name:
        return
    import importlib.util

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    spec = importlib.util.spec_from_file_location("_oracle_mutants",
                                                  os.path.join(root, "scripts", "mutants.py"))
    mod = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    mod.apply(name)


def fuzz(test_one_input, stats: dict, argv=None) -> None:
    """A target's `main`: counters reported while it runs, then libFuzzer's loop."""
    import sys

    import atheris

    from fuzz_targets.findings import report_stats_at_exit

    report_stats_at_exit(stats)
    atheris.Setup(argv or sys.argv, test_one_input)
    atheris.Fuzz()
