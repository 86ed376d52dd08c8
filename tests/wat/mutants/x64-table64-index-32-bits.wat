;; index 2^32 of a two-entry 64-bit table traps table_out_of_bounds; its low half, 0, is
;; in bounds
(module
 (type $t (func (result i32)))
 (table i64 2 funcref)
 (elem (i64.const 0) $a $a)
 (func $a (result i32) i32.const 7)
 (func (export "f") (result i32) i64.const 0x100000000 call_indirect (type $t)))
