//! A throwaway Redis Cluster: `masters` `redis-server --cluster-enabled yes`
//! processes on free loopback ports, each in a directory of its own (a node writes
//! its `nodes.conf`), joined and given the 16,384 slots by `redis-cli --cluster
//! create`, and awaited until every node says `cluster_state:ok`. Killed on drop.
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
        while cluster.ports.len() < masters {
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
                Err(_) => continue,
            }
        }
        cluster.create();
        cluster.await_healthy();
        cluster
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

    /// Which node's port serves `key` (by `CLUSTER KEYSLOT` and `CLUSTER NODES`
    /// through `redis-cli`).
    pub fn node_of(&self, key: &str) -> u16 {
        let slot: u16 = cli(self.ports[0], &["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("a slot");
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
            for range in fields.iter().skip(8) {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(from), Ok(to)) = (from.parse::<u16>(), to.parse::<u16>())
                    && (from..=to).contains(&slot)
                {
                    return port;
                }
            }
        }
        panic!("no node serves slot {slot} of {key}: {nodes}");
    }

    fn create(&self) {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
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

    fn await_healthy(&self) {
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
