;; No finding: 0/0 makes a NaN whose sign the spec leaves open (x86 makes it negative,
;; aarch64 and s390x positive); stored to memory, the engines' bytes differ legitimately.
(module
  (memory (export "mem") 1)
  (global (export "g") (mut f64) (f64.const 0))
  (func (export "store_nan") (param f32)
    (f32.store (i32.const 0) (f32.div (local.get 0) (f32.const 0)))
    (global.set 0 (f64.promote_f32 (f32.load (i32.const 0)))))
  (func (export "bits") (result i32) (i32.load (i32.const 0))))
