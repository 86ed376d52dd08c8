"""Running compiled code under Unicorn: stores, instances, host functions, traps."""
