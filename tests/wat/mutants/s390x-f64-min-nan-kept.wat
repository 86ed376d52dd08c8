;; with NaN canonicalization: min(sNaN, 1) is the canonical NaN, not the quieted operand
(module (func (export "f") (result f64) f64.const nan:0x4000000000000 f64.const 1 f64.min))
