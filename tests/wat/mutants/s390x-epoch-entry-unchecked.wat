;; with epoch deadline 0: interrupted at the entry of a function without a loop
(module (func (export "f") (result i32) i32.const 7))
