;; 2^32 + 8 is out of bounds of a one-page 64-bit memory (a trap); its low 32 bits are in
;; bounds, so a bound compared in 32 bits lets the access through, 4 GiB past the memory
(module
 (memory i64 1)
 (export "mem" (memory 0))
 (func (export "f") (result i32) i64.const 0x100000008 i32.load))
