;; with fuel: the caller's entry and i32.const are charged before the call
(module (func $g) (func (export "f") i32.const 1 drop call $g))
