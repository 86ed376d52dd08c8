"""winch: a single-pass WebAssembly compiler for x64, aarch64 and s390x, run under Unicorn."""
