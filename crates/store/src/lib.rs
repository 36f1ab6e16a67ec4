//! The epoch substrate: the design's key schema in Redis, or in an embedded
//! in-memory store with the same keys, values and expiry.
//!
//! - [`keys`]: every key name, defined once.
//! - [`batch`]: the handful of commands the writer and the snapshot publisher
//!   (`chainboard-service`) issue, applied as pipelines.
//! - [`Store`]: Redis or embedded behind one type, with the reads and the pub/sub
//!   [`Subscription`] both offer.
//! - [`lease`]: one writer per underlying, and fencing for the ones that lost it.
//! - [`writer`]: the epoch substrate's write-behind (the engines' boards).
//!
//! This crate is persistence only: what is written (the engines' boards, the
//! models' documents) is made elsewhere.

pub mod batch;
pub mod embedded;
pub mod keys;
pub mod lease;
pub mod redis_store;
pub mod store;
pub mod writer;

pub use batch::{Batch, Fence, Op};
pub use embedded::{Clock, EmbeddedStore};
pub use keys::KeySchema;
pub use lease::{Acquired, Fences, LeaseGrant};
pub use redis_store::{RedisOptions, RedisStore};
pub use store::{
    KeyType, SUBSCRIPTION_CAPACITY, Store, StoreError, StreamEntry, Subscription, Ttl,
};
