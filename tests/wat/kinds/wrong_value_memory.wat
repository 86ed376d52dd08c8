;; wrong value seen in memory: the double writes a stray byte after "poke".
(module
  (memory (export "mem") 1)
  (func (export "poke") (param i32) (i32.store8 (local.get 0) (i32.const 7))))
