;; 2^63 + 2^39 + 1 is just above the halfway point between two f32 values: it rounds up to
;; 2^63 + 2^40; rounded to f64 first it becomes the tie 2^63 + 2^39, which rounds to even
(module (func (export "f") (result f32) i64.const 0x8000008000000001 f32.convert_i64_u))
