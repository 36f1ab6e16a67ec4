//! What chainboard's integration tests share: real processes to run the code
//! against, started on free ports and killed on drop.
//!
//! - [`redis`]: a `redis-server` per test, to stop (SIGKILL), pause (SIGSTOP),
//!   resume and restart.
//! - [`cluster`]: a Redis Cluster of `redis-server --cluster-enabled yes` processes,
//!   its slots assigned by `redis-cli --cluster create`.

pub mod cluster;
pub mod redis;
