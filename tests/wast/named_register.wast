;; wasmtime's runner registers a module named `$lib` under "lib" as well: a later module
;; may import from it with no `register` command.
(module $lib
  (global $count (mut i32) (i32.const 0))
  (func (export "bump") (result i32)
    (global.set $count (i32.add (global.get $count) (i32.const 1)))
    (global.get $count))
  (func (export "seven") (result i32) (i32.const 7)))

(module $user
  (import "lib" "seven" (func $seven (result i32)))
  (import "lib" "bump" (func $bump (result i32)))
  (func (export "twice-seven") (result i32) (i32.mul (call $seven) (i32.const 2)))
  (func (export "bump") (result i32) (call $bump)))

(assert_return (invoke "twice-seven") (i32.const 14))
(assert_return (invoke $user "bump") (i32.const 1))
;; the same instance, not a copy: its state is shared
(assert_return (invoke $lib "bump") (i32.const 2))

;; an explicit `register` under another name still works beside it
(register "other" $lib)
(module (import "other" "bump" (func $b (result i32)))
  (func (export "b") (result i32) (call $b)))
(assert_return (invoke "b") (i32.const 3))

;; a later module named `$lib` replaces the registration
(module $lib (func (export "seven") (result i32) (i32.const 8)))
(module (import "lib" "seven" (func $s (result i32)))
  (func (export "s") (result i32) (call $s)))
(assert_return (invoke "s") (i32.const 8))

;; an instance of a module definition, named, is registered under its name too
(module definition $def (func (export "nine") (result i32) (i32.const 9)))
(module instance $inst $def)
(module (import "inst" "nine" (func $n (result i32)))
  (func (export "n") (result i32) (call $n)))
(assert_return (invoke "n") (i32.const 9))
