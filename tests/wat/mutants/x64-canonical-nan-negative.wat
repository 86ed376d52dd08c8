;; with NaN canonicalization: 0/0 is the canonical (positive) NaN
(module (func (export "f") (result f32) f32.const 0 f32.const 0 f32.div))
