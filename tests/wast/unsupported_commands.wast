;; Commands the runner does not perform are skipped with a reason, never failed.
(module $m (func (export "f") (result i32) (i32.const 5)))
(component)
(assert_invalid (component (core module)) "whatever")
(assert_suspension (invoke "f") "suspended")
(assert_return (invoke "f") (i32.const 5))
