//! Command line flags, compatible with nats-server's.
