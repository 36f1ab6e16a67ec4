//! The epoch substrate: the design's key schema in Redis, or in an embedded
//! in-memory store with the same keys, values and expiry.
//!
//! - [`keys`]: every key name, defined once.
//! - [`batch`]: the handful of commands the writer issues, applied as pipelines.
//! - [`Store`]: Redis or embedded behind one type.

pub mod batch;
pub mod embedded;
pub mod keys;
pub mod redis_store;
pub mod store;
pub mod writer;

pub use batch::{Batch, Op};
pub use embedded::{Clock, EmbeddedStore};
pub use keys::KeySchema;
pub use redis_store::{RedisOptions, RedisStore};
pub use store::{KeyType, Store, StoreError, Ttl};
