;; memory 1 holds 42 at 0, memory 0 zeros: a load naming memory 1 that reaches memory 0
;; reads 0
(module
 (memory 1) (memory 1)
 (data (memory 1) (i32.const 0) "\2a")
 (export "mem" (memory 0)) (export "mem1" (memory 1))
 (func (export "f") (result i32) i32.const 0 i32.load8_u 1))
