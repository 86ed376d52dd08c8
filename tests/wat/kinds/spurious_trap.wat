;; spurious trap: the double traps in a function that returns normally.
(module
  (func (export "ok") (result i64) (i64.const -1)))
