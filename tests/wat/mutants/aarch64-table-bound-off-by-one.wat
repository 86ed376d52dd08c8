;; index 2 == the table's size: call_indirect must trap table_out_of_bounds (the entry past
;; the table is a null reference: an off-by-one bound traps indirect_call_null instead)
(module
 (type $t (func (result i32)))
 (table 2 funcref)
 (elem (i32.const 0) $a $a)
 (func $a (result i32) i32.const 7)
 (func (export "f") (result i32)
  i32.const 2 call_indirect (type $t)))
