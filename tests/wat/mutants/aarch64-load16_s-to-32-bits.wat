;; 0x8000 sign-extended to 64 bits: 0xffffffffffff8000, not 0x00000000ffff8000
(module (memory 1) (data (i32.const 0) "\00\80")
 (func (export "f") (result i64) i32.const 0 i64.load16_s))
