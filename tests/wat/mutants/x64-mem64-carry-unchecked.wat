;; -16 + 24 carries past 2^64: a trap, not an access of byte 8
(module
 (memory i64 1)
 (data (i64.const 8) "\01\02\03\04")
 (export "mem" (memory 0))
 (func (export "f") (result i32) i64.const -16 i32.load offset=24))
