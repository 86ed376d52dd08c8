;; missing trap: the double returns 0 where "boom" traps.
(module
  (func (export "boom") (result i32) (unreachable)))
