;; wrong value seen in a global: the double reads exported globals off by one.
(module
  (global (export "g") (mut i64) (i64.const 40))
  (func (export "bump") (global.set 0 (i64.add (global.get 0) (i64.const 2)))))
