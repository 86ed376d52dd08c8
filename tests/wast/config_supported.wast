;;! bulk_memory = true
;;! reference_types = true   # every engine here has these on
;;! hogs_memory = false
;;! spec_test = false

(module
  (memory 1)
  (table 2 externref)
  (func (export "fill") (result i32)
    (memory.fill (i32.const 0) (i32.const 0x5a) (i32.const 4))
    (i32.load (i32.const 0)))
  (func (export "null") (result i32) (ref.is_null (table.get (i32.const 1)))))

(assert_return (invoke "fill") (i32.const 0x5a5a5a5a))
(assert_return (invoke "null") (i32.const 1))
