;; values still in registers when a block starts are spilled to their slots
(module (func (export "f") (param i32) (result i32)
  local.get 0 i32.const 1 i32.add
  local.get 0 i32.const 2 i32.add
  block end
  i32.sub))
