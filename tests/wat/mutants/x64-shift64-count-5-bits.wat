;; a 64-bit shift by a count in a register (a local, not an immediate) of 40
(module (func (export "f") (result i64) (local i64)
  i64.const 40 local.set 0
  i64.const 1 local.get 0 i64.shl))
