;;! reference_types = false

;; Without reference types a module has at most one table, and wasmtime rejects this one.
;; An engine with reference types always on accepts it: the file cannot run there.
(assert_invalid
  (module (table 1 funcref) (table 1 funcref))
  "multiple tables")
(module (func (export "one") (result i32) (i32.const 1)))
(assert_return (invoke "one") (i32.const 1))
