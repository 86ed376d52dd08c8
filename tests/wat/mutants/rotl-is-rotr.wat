(module (func (export "f") (param i64) (result i64) local.get 0 i64.const 1 i64.rotl))
