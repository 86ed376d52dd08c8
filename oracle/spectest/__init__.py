"""The `.wast` spec-test runner: script parser, commands, and the runner over engines."""
