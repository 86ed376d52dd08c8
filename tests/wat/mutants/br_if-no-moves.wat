;; the branch carries a value still in a register
(module (func (export "f") (param i32) (result i32)
  block (result i32)
    local.get 0 i32.const 100 i32.add
    local.get 0 br_if 0
    drop i32.const 5
  end))
