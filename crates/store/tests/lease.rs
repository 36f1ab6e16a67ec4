//! Leases against a real `redis-server`: one holder at a time, tokens that only
//! grow, renewal and release only by the holder, a takeover told from a hand-over,
//! and a former holder's fenced writes refused once a successor holds the lease.

use std::time::Duration;

use chainboard_store::{Acquired, Batch, LeaseGrant, Op, Store, StoreError};
use chainboard_testkit::redis::{RedisServer, unique_prefix};

struct Lease {
    store: Store,
    _server: RedisServer,
    lease: String,
    term: String,
}

impl Lease {
    async fn new(test: &str) -> Self {
        let server = RedisServer::start();
        let store = Store::connect(Some(&server.url())).await.expect("redis");
        let prefix = unique_prefix(test);
        Self {
            store,
            _server: server,
            lease: format!("{prefix}massive:lease:SPX"),
            term: format!("{prefix}massive:lease:term:SPX"),
        }
    }

    async fn acquire(&self, holder: &str, ttl: Duration) -> Acquired {
        self.store
            .acquire_lease(&self.lease, &self.term, holder, ttl)
            .await
            .expect("the store answers")
    }

    async fn granted(&self, holder: &str, ttl: Duration) -> LeaseGrant {
        match self.acquire(holder, ttl).await {
            Acquired::Granted(grant) => grant,
            Acquired::Held(by) => panic!("{holder}: held by {by}"),
        }
    }

    fn write(grant: &LeaseGrant, key: &str, value: &str) -> Batch {
        let mut batch = Batch::fenced(Some(grant.fence.clone()));
        batch.push(Op::Set {
            key: key.to_owned(),
            value: value.to_owned(),
            ttl: None,
        });
        batch
    }
}

const LONG: Duration = Duration::from_secs(60);

#[tokio::test]
async fn one_holder_at_a_time_and_a_clean_hand_over() {
    let l = Lease::new("one_holder").await;
    let a = l.granted("worker-a", LONG).await;
    assert!(!a.took_over, "the first grant takes over from nobody");
    assert_eq!(a.fence.value, format!("{} worker-a", a.token));
    match l.acquire("worker-b", LONG).await {
        Acquired::Held(by) => assert_eq!(by, a.fence.value),
        Acquired::Granted(g) => panic!("granted twice: {g:?}"),
    }
    assert!(l.store.renew_lease(&a, LONG).await.expect("renew"));
    assert!(
        l.store
            .release_lease(&a, &l.term, true)
            .await
            .expect("release")
    );
    // Released: the next holder starts at once, a larger token, not a takeover.
    let b = l.granted("worker-b", LONG).await;
    assert!(b.token > a.token);
    assert!(!b.took_over, "a released lease is handed over, not taken");
    // The former holder can neither renew nor release the successor's lease.
    assert!(!l.store.renew_lease(&a, LONG).await.expect("renew"));
    assert!(
        !l.store
            .release_lease(&a, &l.term, true)
            .await
            .expect("release")
    );
    assert!(matches!(
        l.acquire("worker-a", LONG).await,
        Acquired::Held(_)
    ));
}

#[tokio::test]
async fn a_lapsed_lease_is_taken_over_and_the_former_holder_is_fenced() {
    let l = Lease::new("takeover").await;
    let data = format!("{}data", l.lease);
    let short = Duration::from_millis(300);
    let a = l.granted("worker-a", short).await;
    l.store
        .apply(&Lease::write(&a, &data, "from a"))
        .await
        .expect("the holder writes");
    // worker-a stops renewing (paused, partitioned): its lease lapses.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let b = l.granted("worker-b", LONG).await;
    assert!(b.took_over, "the lease lapsed: a takeover");
    assert!(b.token > a.token);
    l.store
        .apply(&Lease::write(&b, &data, "from b"))
        .await
        .expect("the successor writes");
    // worker-a resumes and writes as if it still led: refused, whole.
    let late = Lease::write(&a, &data, "late from a");
    assert!(matches!(
        l.store.apply(&late).await,
        Err(StoreError::Fenced)
    ));
    assert_eq!(
        l.store.get(&data).await.expect("get").as_deref(),
        Some("from b")
    );
    assert!(!l.store.renew_lease(&a, LONG).await.expect("renew"));
}

#[tokio::test]
async fn a_lapsed_lease_alone_fences_its_holder() {
    let l = Lease::new("lapsed").await;
    let data = format!("{}data", l.lease);
    let a = l.granted("worker-a", Duration::from_millis(200)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Nobody took over, yet the holder cannot know it still leads: refused.
    assert!(matches!(
        l.store.apply(&Lease::write(&a, &data, "x")).await,
        Err(StoreError::Fenced)
    ));
    assert_eq!(l.store.get(&data).await.expect("get"), None);
}

#[tokio::test]
async fn a_lease_given_up_without_a_hand_over_is_taken_over() {
    let l = Lease::new("given_up").await;
    let a = l.granted("worker-a", LONG).await;
    // worker-a steps down (or rolls back a partial grant of a lapsed lease): the
    // next holder is taking over, not being handed the board.
    assert!(
        l.store
            .release_lease(&a, &l.term, false)
            .await
            .expect("release")
    );
    let b = l.granted("worker-b", LONG).await;
    assert!(b.took_over);
    assert!(
        l.store
            .release_lease(&b, &l.term, true)
            .await
            .expect("release")
    );
    assert!(!l.granted("worker-c", LONG).await.took_over);
}

#[tokio::test]
async fn leases_need_redis() {
    let store = Store::connect(None).await.expect("embedded");
    let asked = store
        .acquire_lease("massive:lease:SPX", "massive:lease:term:SPX", "w", LONG)
        .await;
    assert!(
        matches!(asked, Err(StoreError::Unsupported(_))),
        "{asked:?}"
    );
}
