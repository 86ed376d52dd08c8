(module (memory 1) (data (i32.const 0) "\80")
  (func (export "f") (result i32) i32.const 0 i32.load8_s))
