;; host crash: the double's host raises while instantiating (a data segment is copied in).
(module
  (memory 1)
  (data (i32.const 8) "\01\02")
  (func (export "f") (result i32) (i32.load8_u (i32.const 9))))
