;; The module of tests/test_oracle_diff.py: values, a trap, a NaN, a global and a memory
;; store, so that each finding kind has something to disagree about.
(module
  (memory (export "mem") 1)
  (global (export "g") (mut i32) (i32.const 0))
  (func (export "add") (param i32 i32) (result i32)
    (global.set 0 (i32.add (global.get 0) (i32.const 1)))
    (i32.add (local.get 0) (local.get 1)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
  (func (export "nan") (param f32) (result f32) (f32.div (local.get 0) (f32.const 0)))
  (func (export "poke") (param i32) (i32.store8 (local.get 0) (i32.const 7)))
)
