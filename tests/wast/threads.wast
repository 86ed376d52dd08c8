;;! threads = true

(module $Mem (memory (export "shared") 1 1 shared))
(register "mem" $Mem)

(module $Other (func (export "three") (result i32) (i32.const 3)))

(thread $T1 (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "run") (i32.atomic.store (i32.const 0) (i32.const 42))))
  (invoke "run"))
(wait $T1)

;; this module sees what the thread did: its state is unknown, so is every check on it
(module $Check
  (memory (import "mem" "shared") 1 1 shared)
  (func (export "check") (result i32) (i32.atomic.load (i32.const 0))))
(assert_return (invoke $Check "check") (i32.const 42))

;; an instance the thread did not share is unaffected and still checked
(assert_return (invoke $Other "three") (i32.const 3))
