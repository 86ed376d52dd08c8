;;! simd = true

(module
  (func (export "add") (param i32) (result i32)
    (i32x4.extract_lane 1
      (i32x4.add (i32x4.splat (local.get 0)) (v128.const i32x4 0 5 0 0)))))

(assert_return (invoke "add" (i32.const 2)) (i32.const 7))
(assert_invalid (module (func (result v128) (i32.const 0))) "type mismatch")
