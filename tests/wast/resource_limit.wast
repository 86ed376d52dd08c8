;; `$big` asks for more memory than our Unicorn host provides (1 GiB), a resource limit
;; (skipped, not failed).  Commands depending on it are skipped too; they must not run
;; against the module before it (`$small`, whose `f` returns 1).
(module $small (func (export "f") (result i32) (i32.const 1)))
(module $big (memory 16385) (func (export "f") (result i32) (i32.const 2)))
(assert_return (invoke "f") (i32.const 2))
(assert_return (invoke $big "f") (i32.const 2))
(module (import "big" "f" (func (result i32))))
(assert_trap (module (memory 16385) (func $s unreachable) (start $s)) "unreachable")
(assert_uninstantiable (module (memory 16385) (func $s unreachable) (start $s)) "unreachable")
(assert_return (invoke $small "f") (i32.const 1))
