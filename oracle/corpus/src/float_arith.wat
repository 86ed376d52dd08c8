;; float arithmetic, min/max, rounding and comparisons on f32 and f64
(module
  (func (export "f32ops") (param f32 f32) (result f32)
    (f32.add (f32.mul (local.get 0) (local.get 1))
      (f32.min (f32.sqrt (local.get 0)) (f32.copysign (local.get 1) (local.get 0)))))
  (func (export "f64ops") (param f64 f64) (result f64)
    (f64.div (f64.max (f64.nearest (local.get 0)) (f64.floor (local.get 1)))
      (f64.sub (f64.ceil (local.get 1)) (f64.trunc (local.get 0)))))
  (func (export "fcmp") (param f64 f64) (result i32)
    (i32.add (f64.lt (local.get 0) (local.get 1)) (f64.ne (local.get 0) (local.get 0))))
  (func (export "fneg") (param f32) (result f32) (f32.neg (f32.abs (local.get 0)))))
