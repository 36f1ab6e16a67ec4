//! What sits downstream of the engines: the store's write-behind and the models.
//!
//! The ingestion loop owns the engines and calls its observers on the same task, so an
//! observer sees each engine between events, never concurrently with hydration. An
//! observer must be quick: it hands slow work to its own task (bounded, with
//! `try_send`, or a latest-value channel) and leaves anything it cannot hand over in
//! its dirty set, where it keeps coalescing. The models' tick runs here (a fraction of
//! a millisecond; milliseconds on a new epoch); frames queue in the bounded socket
//! channel meanwhile.

use crate::Engine;

/// Called by the loop that owns the engines.
pub trait BoardObserver: Send {
    /// `engine` has just started a new epoch; its board and states are complete.
    fn epoch_started(&mut self, engine: &mut Engine, now_ms: i64);
    /// Called on every poll of the loop (a few times a second) for each engine; may
    /// drain its dirty set.
    fn tick(&mut self, engine: &mut Engine, now_ms: i64);
}

/// Several observers in turn (the store's write-behind, then the models), each with
/// its own dirty set (see [`crate::Engine::add_dirty_consumer`]).
impl BoardObserver for Vec<Box<dyn BoardObserver>> {
    fn epoch_started(&mut self, engine: &mut Engine, now_ms: i64) {
        for observer in self.iter_mut() {
            observer.epoch_started(engine, now_ms);
        }
    }

    fn tick(&mut self, engine: &mut Engine, now_ms: i64) {
        for observer in self.iter_mut() {
            observer.tick(engine, now_ms);
        }
    }
}
