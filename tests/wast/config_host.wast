;;! nan_canonicalization = true
;;! warp_drive = true

(module (func (export "nan") (result f32) (f32.div (f32.const 0) (f32.const 0))))
(assert_return (invoke "nan") (f32.const nan:canonical))
