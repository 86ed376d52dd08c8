;; with fuel 60: a call of "f" costs 59 (its entry and 58 operators), so the second call
;; is entered with one unit left: it runs out at its entry check
(module
 (func (export "f") (param i32) (result i32)
  local.get 0 i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add
  i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add
  i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add
  i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add
  i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add
  i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add
  i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add i32.const 1 i32.add
  i32.eqz))
