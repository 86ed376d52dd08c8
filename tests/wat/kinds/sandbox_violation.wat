;; sandbox violation: the double reports an access outside the sandbox on a load.
(module
  (memory 1)
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))
