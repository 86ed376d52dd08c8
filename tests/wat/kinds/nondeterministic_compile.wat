;; nondeterministic compile: the double's second compilation differs by one byte.
(module
  (func (export "f") (param i32) (result i32)
    (loop (br_if 0 (i32.eqz (local.get 0)))) (local.get 0)))
