;; wasmtime 50.0.1 Winch segfaults compiling this (reduced from a generated module)
(module
  (type (;0;) (func (result f64)))
  (func (;0;) (type 0) (result f64)
    (local f64 f64 i32 i32 i32 i32 i64 i64 i64 i64 f32 f32 f32 f32 f64)
    i32.const 1
    i64.load32_u
    i64.const 0
    i32.const 0
    i32.const 0
    i32.const 0
    i32.const 0
    f64.const 0x0p+0
    i32.const 0
    i64.extend_i32_s
    i32.const 0
    i64.extend_i32_u
    i64.const 0
    i64.extend8_s
    i32.const 1
    ref.null func
    table.set 1
    ref.null func
    ref.is_null
    i32.const 1
    ref.null func
    i32.const 0
    table.fill 1
    global.get 0
    i32.xor
    global.set 0
    i64.xor
    global.set 1
    global.set 1
    i64.reinterpret_f64
    global.set 1
    global.get 0
    i32.xor
    global.set 0
    i32.xor
    global.set 0
    global.set 0
    global.get 1
    i64.xor
    global.set 1
    f64.const 0x0.0000000000001p-1022
    i32.const 1
    f32.const 0x0.000002p-126
    ref.null func
    i32.const 1
    table.grow 1
    i32.const 0
    i64.const 0
    f32.convert_i64_s
    local.set 10
    f64.const 0x0.0000000000001p-1022
    i32.const 1
    local.get 6
    i64.store8 offset=8
    f32.const 0x0p+0
    i64.const 0
    f32.const 0x0p+0
    local.get 7
    local.get 8
    global.get 0
    select
    i32.const 0
    i32.const 1
    table.get 0
    ref.is_null
    i32.const 1
    global.set 0
    i64.const 1
    f64.const 0x0.0000000000001p-1022
    i32.trunc_sat_f64_s
    f64.const 0x0.0000000000001p-1022
    i64.reinterpret_f64
    global.set 1
    global.get 0
    i32.xor
    global.set 0
    global.set 1
    global.get 0
    i32.xor
    global.set 0
    global.set 0
    global.get 1
    i64.xor
    global.set 1
    i32.reinterpret_f32
    global.get 0
    i32.xor
    global.set 0
    global.set 1
    i32.reinterpret_f32
    global.set 0
    i64.reinterpret_f64
    global.set 1
    global.get 0
    i32.xor
    global.set 0
    global.set 0
    i32.reinterpret_f32
    i32.xor
    global.set 0
    i64.reinterpret_f64
    global.get 1
    i64.xor
    global.set 1
    global.set 1
    local.get 14)
  (table (;0;) 0 funcref)
  (table (;1;) 3 funcref)
  (memory (;0;) 1)
  (global (;0;) (mut i32) i32.const 0)
  (global (;1;) (mut i64) i64.const 0)
  (export "f1" (func 0))
)
