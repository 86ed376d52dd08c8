;; conversions: trapping and saturating truncations, int<->float, reinterpretations
(module
  (func (export "trunc") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func (export "trunc_u") (param f32) (result i64) (i64.trunc_f32_u (local.get 0)))
  (func (export "sat") (param f64) (result i64) (i64.trunc_sat_f64_u (local.get 0)))
  (func (export "convert") (param i64) (result f32) (f32.convert_i64_u (local.get 0)))
  (func (export "demote") (param f64) (result f32) (f32.demote_f64 (local.get 0)))
  (func (export "bits") (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
  (func (export "extend") (param i32) (result i64) (i64.extend_i32_u (local.get 0))))
