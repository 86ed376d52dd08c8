;; the wrap leaves the i64's high half in the register; extend_u must clear it
(module (func (export "f") (param i64) (result i64) local.get 0 i32.wrap_i64 i64.extend_i32_u))
