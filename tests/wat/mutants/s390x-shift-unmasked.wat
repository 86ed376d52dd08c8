;; Wasm takes the count mod 32: 1 << -1 is 0x8000_0000
(module (func (export "f") (param i32 i32) (result i32) local.get 0 local.get 1 i32.shl))
