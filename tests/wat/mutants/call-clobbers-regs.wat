;; values live in registers across a call; the callee uses registers of its own
(module
  (func $g (param i32) (result i32)
    local.get 0 i32.const 3 i32.mul local.get 0 i32.const 5 i32.add local.get 0 i32.const 7 i32.xor
    local.get 0 i32.const 9 i32.sub i32.add i32.add i32.add)
  (func (export "f") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add local.get 0 i32.const 2 i32.mul local.get 0 i32.const 11 i32.xor
    local.get 0 call $g i32.add i32.add i32.add))
