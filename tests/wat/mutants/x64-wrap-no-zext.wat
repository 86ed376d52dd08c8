;; an address made by i32.wrap_i64 of 0x8000_0000_0000_0000 is 0, in bounds
(module (memory 1)
  (func (export "f") (param i64) (result i32) local.get 0 i32.wrap_i64 i32.load))
