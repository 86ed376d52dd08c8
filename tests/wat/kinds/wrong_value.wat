;; wrong value: the double adds 1 to the result of "add".
(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
