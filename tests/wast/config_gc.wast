;;! gc = true
;;! reference_types = false

;; `gc` turns on function references and reference types in wasmtime's harness, whatever
;; the later line says: only `gc` itself can be in conflict here.
(module
  (type $point (struct (field i32) (field i32)))
  (func (export "sum") (result i32)
    (local $p (ref null $point))
    (local.set $p (struct.new $point (i32.const 3) (i32.const 4)))
    (i32.add (struct.get $point 0 (local.get $p)) (struct.get $point 1 (local.get $p)))))

(assert_return (invoke "sum") (i32.const 7))
