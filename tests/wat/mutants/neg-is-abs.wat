(module (func (export "f") (param f32) (result f32) local.get 0 f32.neg))
