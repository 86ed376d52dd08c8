;; with fuel: the i32.const before the loop costs 1 (pending when the loop is entered)
(module (func (export "f") (result i32) i32.const 1 drop loop end i32.const 2))
