;; blocks, loops, if/else, br_if, br_table with values, multi-value blocks, unreachable code
(module
  (func (export "loop") (param i32) (result i32) (local i32)
    (block $done
      (loop $again
        (br_if $done (i32.ge_u (local.get 1) (i32.and (local.get 0) (i32.const 15))))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $again)))
    (local.get 1))
  (func (export "table") (param i32) (result i32)
    (block $b2 (result i32)
      (block $b1 (result i32)
        (block $b0 (result i32)
          (br_table $b0 $b1 $b2 (i32.const 10) (local.get 0)))
        (return (i32.const 1)))
      (drop) (i32.const 2)))
  (func (export "multi") (param i32 i64) (result i64 i32)
    (local.get 0) (local.get 1)
    (block (param i32 i64) (result i64 i32)
      (local.set 1) (local.set 0) (local.get 1) (local.get 0)))
  (func (export "ifelse") (param i32) (result f32)
    (if (result f32) (local.get 0) (then (f32.const 1.5)) (else (unreachable) (f32.const 2)))))
