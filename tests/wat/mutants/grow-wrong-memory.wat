;; memory.grow 1 must grow memory 1: its size becomes 2 pages, memory 0's stays 1
(module
 (memory 1 3) (memory 1 3)
 (export "mem" (memory 0)) (export "mem1" (memory 1))
 (func (export "f") (result i32) i32.const 1 memory.grow 1 drop memory.size 1))
