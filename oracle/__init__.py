"""oracle: engines, comparison, spec-test runner and the tools that prove `winch` right."""
