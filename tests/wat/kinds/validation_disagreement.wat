;; validation disagreement: the double rejects this valid module.
(module
  (func (export "f") (param i32) (result i32)
    (block (result i32) (br_if 0 (local.get 0) (local.get 0)))))
