"""The single-pass compiler: one visitor per function body, driven by the validator's loop."""
