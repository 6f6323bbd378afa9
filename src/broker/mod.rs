//! NATS semantics on top of `protocol`, `subjects` and `runtime`.
