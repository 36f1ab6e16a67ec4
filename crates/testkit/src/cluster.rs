//! A throwaway Redis Cluster: `redis-server --cluster-enabled yes` processes on
//! free loopback ports, each in a directory of its own (a node writes its
//! `nodes.conf`), joined and given the 16,384 slots by `redis-cli --cluster create`
//! (with replicas if asked), and awaited until every node says `cluster_state:ok`.
//! A node can be killed to stage a failover. Killed on drop.
//!
//! Unlike [`crate::redis::RedisServer`] it ignores `REDIS_URL`: a cluster test needs
//! a cluster, and one server is not one.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::redis::{free_port, spawn_with};

/// How long the nodes get to agree on a healthy cluster.
const CONVERGE: Duration = Duration::from_secs(30);

/// A running cluster; its processes are killed and its directories removed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    ports: Vec<u16>,
    children: Vec<Child>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts `masters` nodes (no replicas) and waits until the cluster is healthy.
    /// Panics with the reason when it cannot.
    pub fn start(masters: usize) -> Self {
        Self::start_with_replicas(masters, 0)
    }

    /// Starts `masters` masters with `replicas` replicas each, and waits until the
    /// cluster is healthy.
    pub fn start_with_replicas(masters: usize, replicas: usize) -> Self {
        let nodes = masters * (1 + replicas);
        let dir = std::env::temp_dir().join(format!(
            "chainboard-cluster-{}-{}",
            std::process::id(),
            free_port()
        ));
        let mut cluster = Self {
            ports: Vec::new(),
            children: Vec::new(),
            dir,
        };
        let mut failures = 0;
        while cluster.ports.len() < nodes {
            let port = cluster_port();
            let node_dir = cluster.dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("a directory for the node");
            let node_dir = node_dir.to_string_lossy().into_owned();
            let args = [
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                "--dir",
                &node_dir,
            ];
            match spawn_with(port, &args) {
                Ok(child) => {
                    cluster.ports.push(port);
                    cluster.children.push(child);
                }
                // The port was taken between the probe and the start: another one.
                Err(e) => {
                    failures += 1;
                    assert!(failures < 20, "cannot start cluster nodes: {e}");
                }
            }
        }
        cluster.create(replicas);
        cluster.await_healthy();
        cluster.await_replicas_synced();
        cluster
    }

    /// Waits until every replica's link to its master is up: a replica that has not
    /// synced yet would not stand for election when its master dies.
    fn await_replicas_synced(&self) {
        let deadline = Instant::now() + CONVERGE;
        for &port in &self.ports {
            loop {
                let info = cli(port, &["INFO", "replication"]);
                if info.contains("role:master") || info.contains("master_link_status:up") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the replica on {port} never synced: {info}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Kills the node on `port` (SIGKILL): its replica, if it has one, is promoted
    /// once the others have seen it gone for the node timeout (2 s).
    pub fn kill(&mut self, port: u16) {
        if let Some(i) = self.ports.iter().position(|&p| p == port) {
            self.ports.remove(i);
            let mut child = self.children.remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until every node left says `cluster_state:ok` (after a failover: the
    /// replica promoted and its slots served again).
    pub fn await_healthy(&self) {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let healthy = self
                .ports
                .iter()
                .all(|&p| cli(p, &["CLUSTER", "INFO"]).contains("cluster_state:ok"));
            if healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the cluster on {:?} never reported cluster_state:ok",
                self.ports
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every node's URL, comma-separated: what `--redis` takes with
    /// `--redis-cluster`.
    pub fn urls(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// One node's URL: enough for a cluster client to find the rest.
    pub fn seed(&self) -> String {
        format!("redis://127.0.0.1:{}", self.ports[0])
    }

    /// The nodes' ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// Which master's port serves `key` (by `CLUSTER KEYSLOT` and `CLUSTER NODES`
    /// through `redis-cli`), as the nodes see it now.
    pub fn node_of(&self, key: &str) -> u16 {
        self.master_of(key)
            .unwrap_or_else(|| panic!("no live master serves {key}"))
    }

    /// Kills the master of `key` and waits until a replica serves its slot and the
    /// cluster is healthy again; returns the new master's port.
    pub fn fail_over(&mut self, key: &str) -> u16 {
        let old = self.node_of(key);
        self.kill(old);
        let deadline = Instant::now() + CONVERGE;
        loop {
            if let Some(new) = self.master_of(key).filter(|&p| p != old) {
                self.await_healthy();
                return new;
            }
            assert!(
                Instant::now() < deadline,
                "no replica took over {key}'s slot from {old}: {}",
                self.ports
                    .first()
                    .map(|&p| cli(p, &["CLUSTER", "NODES"]))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The live master serving `key`'s slot, as the first live node sees it.
    fn master_of(&self, key: &str) -> Option<u16> {
        let slot: u16 = cli(self.ports[0], &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .ok()?;
        // CLUSTER NODES: `<id> <ip:port@bus> <flags> … <slot ranges>`; the node whose
        // ranges hold the slot.
        let nodes = cli(self.ports[0], &["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(address) = fields.get(1) else {
                continue;
            };
            let port: u16 = address
                .split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            // A failed master keeps its line (flagged `fail`) until forgotten.
            if fields.get(2).is_some_and(|flags| flags.contains("fail")) {
                continue;
            }
            for range in fields.iter().skip(8) {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(from), Ok(to)) = (from.parse::<u16>(), to.parse::<u16>())
                    && (from..=to).contains(&slot)
                    && self.ports.contains(&port)
                {
                    return Some(port);
                }
            }
        }
        None
    }

    fn create(&self, replicas: usize) {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!("redis-cli must be installed with redis-server (redis-tools): {e}")
            });
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free port whose cluster bus port (port + 10,000) is free too.
fn cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// `redis-cli -p port args…`'s output ("" if it could not run).
fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
