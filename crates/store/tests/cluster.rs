//! The Redis store against a real 3-master Redis Cluster: the underlying's hash tag
//! keeps its fenced writes in one slot, redirections are followed, leases work per
//! slot, and pub/sub reaches a subscriber whatever node the publishing script ran on.

use std::time::Duration;

use chainboard_model::Underlying;
use chainboard_store::{Acquired, Batch, KeySchema, Op, Store, StoreError};
use chainboard_testkit::cluster::RedisCluster;

const TTL: Duration = Duration::from_secs(30);

fn set(key: String, value: &str) -> Op {
    Op::Set {
        key,
        value: value.to_owned(),
        ttl: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_schema_on_a_cluster() {
    let cluster = RedisCluster::start(3);
    let store = Store::connect_cluster(&cluster.seed())
        .await
        .expect("cluster");
    store.ping().await.expect("the cluster answers");
    let schema = KeySchema { cluster: true };
    let (spx, ndx) = (
        Underlying::new("SPX").expect("SPX"),
        Underlying::new("NDX").expect("NDX"),
    );
    // The two underlyings live on different masters here, so the test crosses nodes
    // (the slots of {SPX} and {NDX} are fixed; the assignment is redis-cli's).
    let (spx_node, ndx_node) = (
        cluster.node_of(&schema.current(spx)),
        cluster.node_of(&schema.current(ndx)),
    );
    assert_ne!(spx_node, ndx_node, "pick underlyings on two masters");

    let mut subscription = store
        .subscribe(&schema.heatmap_updates(spx))
        .await
        .expect("subscribe");
    let mut ndx_subscription = store
        .subscribe(&schema.heatmap_updates(ndx))
        .await
        .expect("subscribe");

    for (u, name) in [(spx, "worker-a"), (ndx, "worker-b")] {
        let grant = match store
            .acquire_lease(&schema.lease(u), &schema.lease_term(u), name, TTL)
            .await
            .expect("lease")
        {
            Acquired::Granted(g) => g,
            Acquired::Held(by) => panic!("held by {by}"),
        };
        assert!(store.renew_lease(&grant, TTL).await.expect("renew"));
        // One fenced write of everything the underlying's writer touches.
        let mut batch = Batch::fenced(Some(grant.fence.clone()));
        batch.push(set(schema.current(u), "E1"));
        batch.push(set(schema.heatmap_snapshot(u), "{}"));
        batch.push(set(schema.gex_snapshot(u), "{}"));
        batch.push(set(schema.service_status(u), "{}"));
        batch.push(Op::XAdd {
            key: schema.gex_history(u),
            max_len: 10,
            at_ms: Some(1_000),
            fields: vec![("seq", "1".to_owned())],
        });
        batch.push(Op::Publish {
            channel: schema.heatmap_updates(u),
            message: format!("{u} tick"),
        });
        store.apply(&batch).await.expect("one slot, one script");
        // Read back through the cluster client, whichever node holds them.
        let sampled = store
            .xlast_in(&schema.gex_history(u), &[(0, 999), (1_000, 1_000)])
            .await
            .expect("sampled through the cluster");
        let ids: Vec<Option<&str>> = sampled
            .iter()
            .map(|e| e.as_ref().map(|e| e.id.as_str()))
            .collect();
        assert_eq!(ids, [None, Some("1000-0")]);
        assert_eq!(
            store.get(&schema.current(u)).await.expect("get").as_deref(),
            Some("E1")
        );
        assert_eq!(store.xlen(&schema.gex_history(u)).await.expect("xlen"), 1);
        // A fenced write that strays out of the lease's slot is refused by the
        // cluster, and nothing of it lands.
        let mut stray = Batch::fenced(Some(grant.fence.clone()));
        stray.push(set(format!("elsewhere:{u}"), "x"));
        let refused = store.apply(&stray).await;
        assert!(
            matches!(refused, Err(StoreError::Command(_))),
            "{refused:?}"
        );
    }
    let message = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .expect("the SPX tick arrives");
    assert_eq!(message.as_deref(), Some("SPX tick"));
    let message = tokio::time::timeout(Duration::from_secs(5), ndx_subscription.next())
        .await
        .expect("the NDX tick arrives");
    assert_eq!(message.as_deref(), Some("NDX tick"));
    assert!(matches!(
        store.scan("*").await,
        Err(StoreError::Unsupported(_))
    ));
}
