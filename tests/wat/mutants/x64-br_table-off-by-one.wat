;; index 1 is past the one-entry table: it must take the default
(module (func (export "f") (param i32) (result i32)
  block block
    local.get 0 br_table 0 1
  end i32.const 10 return end
  i32.const 20))
