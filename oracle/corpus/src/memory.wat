;; loads and stores of every width at the edges of a one-page memory; memory.size/grow
(module
  (memory (export "mem") 1 2)
  (data (i32.const 65528) "\01\02\03\04\05\06\07\08")
  (func (export "load") (param i32) (result i64)
    (i64.add (i64.load offset=1 align=1 (local.get 0)) (i64.load8_s (local.get 0))))
  (func (export "load16") (param i32) (result i32) (i32.load16_u offset=65534 (local.get 0)))
  (func (export "store") (param i32 f64)
    (f64.store (local.get 0) (local.get 1))
    (i32.store8 offset=3 (local.get 0) (i32.const 255)))
  (func (export "grow") (param i32) (result i32)
    (i32.add (memory.grow (local.get 0)) (memory.size))))
