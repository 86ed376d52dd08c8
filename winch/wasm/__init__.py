"""The WebAssembly front end: opcode table, reader, validator, module model and encoder."""

from winch.wasm.reader import decode_module
from winch.wasm.validate import validate, validate_module

__all__ = ["decode_module", "validate", "validate_module"]
