;; NaN != 1 is true (an unordered compare)
(module (global $n (mut f64) (f64.const nan))
 (func (export "f") (result i32) global.get $n f64.const 1 f64.ne))
