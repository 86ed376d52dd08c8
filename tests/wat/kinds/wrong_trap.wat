;; wrong trap: the double reports integer overflow where the division traps by zero.
(module
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1))))
