;; compiler crash: the double's compiler raises an exception.
(module
  (func (export "f") (result f64) (f64.sqrt (f64.const 2))))
