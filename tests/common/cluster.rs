//! A multi-process skua cluster for the fault tests: n nodes of the real binary on loopback,
//! each in its own process with its own data dir, with fault-injecting proxies
//! ([`super::proxy`]) placed so that a test can cut one node off from the others.
//!
//! Layout (node ids 1..=n; "B" = broker listener, "C" = controller listener):
//! ```text
//!  clients, other brokers ──> inbound[i] proxy (node i's advertised address) ──> B_i
//!  node i's raft/app RPCs to j ──> link(i,j) proxy ──> C_j      (node i's voters list names it)
//!  tests' own admin requests ──> B_i directly (direct_addr)
//! ```
//! Node i is started with (the CLI contract of issue 8, item 5):
//! `skua serve --node-id i --listen 127.0.0.1:B_i --controller-listen 127.0.0.1:C_i
//!  --data-dir DIR/node-i --metrics-listen off (and the console, registry, proxy off) --advertise 127.0.0.1:<inbound[i]>
//!  --set controller.quorum.voters=1@..,2@..,3@.. [--set name=value]...`
//! where its own voters entry is C_i and entry j is the port of link(i,j).
//!
//! [`Cluster::isolate`] cuts (blackhole by default) node i's inbound proxy, every link to or
//! from it, and node i's own connections to the other nodes' inbound proxies (the inbound
//! proxies tag each connection with the node whose process opened it, via /proc). Test clients
//! still reach the majority through their advertised addresses and the isolated node through
//! [`Cluster::direct_addr`].
//!
//! Views of the cluster come from raw Metadata v12 requests sent to each node's real listener;
//! the wait helpers poll every *reachable* node (running, not paused, not isolated) every
//! 100 ms until all of them agree, within a bounded deadline, and fail with the last
//! observation. A node that exits without being told to fails the test at once. Node logs go
//! to files in the cluster's temp dir; their tails are printed when a test panics (set
//! SKUA_KEEP_CLUSTER=1 to keep the whole dir). Every process is killed by pid on drop.
//!
//! Concurrency: every method takes `&self` (children behind mutexes), so a test may share the
//! cluster with a producer thread.
//!
//! Files: this one starts and signals processes and cuts the network; `cluster/views.rs` reads
//! Metadata and waits; `cluster/clients.rs` sends requests (raw and rdkafka) and checks logs.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::free_port;
use super::proxy::{socket_owner, Classifier, CutMode, Proxy};

mod clients;
mod views;

// Not every test binary that includes `common` uses them.
#[allow(unused_imports)]
pub use clients::{call, produce_raw, topic_name, verify_log, Acked, Acks, Feeder};
#[allow(unused_imports)]
pub use views::{PartitionState, View};

/// Kafka error codes the cluster tests name.
pub mod code {
    pub const NONE: i16 = 0;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const NOT_CONTROLLER: i16 = 41;
}

/// Settings every test cluster runs with: failure detection in seconds, not Kafka's
/// production defaults (internal topics are replicated as in `internal_topic_sets`).
pub const FAST_FAILOVER: &[&str] = &[
    "broker.session.timeout.ms=3000",
    "broker.heartbeat.interval.ms=500",
    "replica.lag.time.max.ms=3000",
    "group.initial.rebalance.delay.ms=0",
];

/// The internal topics of an `n`-node cluster replicated like production ones: replication
/// factor min(n, 3), and two in-sync replicas for the transaction log when there are three.
pub fn internal_topic_sets(n: usize) -> Vec<String> {
    let rf = n.min(3);
    vec![
        format!("offsets.topic.replication.factor={rf}"),
        format!("transaction.state.log.replication.factor={rf}"),
        format!("transaction.state.log.min.isr={}", rf.min(2)),
    ]
}

/// How long a cluster may take to form (three release processes on two busy cores).
const FORM_TIMEOUT: Duration = Duration::from_secs(60);
/// Default deadline of the wait helpers.
pub const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
const LOG_TAIL_LINES: usize = 80;

/// A node's `process.roles`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `broker,controller` (the default; no `process.roles` on the command line).
    Combined,
    /// `controller`: a voter with no broker listener.
    Controller,
    /// `broker`: a raft learner, not in the voters.
    Broker,
}

impl Role {
    pub fn is_broker(self) -> bool {
        self != Role::Controller
    }

    pub fn is_controller(self) -> bool {
        self != Role::Broker
    }
}

struct Node {
    id: i32,
    role: Role,
    broker_port: u16,
    controller_port: u16,
    data_dir: PathBuf,
    log_path: PathBuf,
    args: Vec<String>,
    child: Mutex<Option<Child>>,
    paused: AtomicBool,
    starts: Mutex<u32>,
}

impl Node {
    /// The issue-8 command line of this node (after the binary).
    fn command_line(&self, inbound: &Proxy, voters: &[String], sets: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--node-id".into(),
            self.id.to_string(),
            "--listen".into(),
            format!("127.0.0.1:{}", self.broker_port),
            "--controller-listen".into(),
            format!("127.0.0.1:{}", self.controller_port),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--metrics-listen".into(),
            "off".into(),
            "--console-listen".into(),
            "off".into(),
            "--schema-registry-listen".into(),
            "off".into(),
            "--rest-proxy-listen".into(),
            "off".into(),
            "--advertise".into(),
            inbound.addr().to_string(),
            "--set".into(),
            format!("controller.quorum.voters={}", voters.join(",")),
        ];
        match self.role {
            Role::Combined => {}
            Role::Controller => args.extend(["--set".into(), "process.roles=controller".into()]),
            Role::Broker => args.extend(["--set".into(), "process.roles=broker".into()]),
        }
        for s in sets {
            args.push("--set".into());
            args.push(s.to_string());
        }
        args
    }
}

pub struct Cluster {
    tmp: tempfile::TempDir,
    bin: PathBuf,
    nodes: Vec<Node>,
    /// inbound[i - 1]: node i's advertised address.
    inbound: Vec<Proxy>,
    /// (from, to) -> the proxy node `from` reaches node `to`'s controller listener through.
    links: HashMap<(i32, i32), Proxy>,
    /// pid -> node id, for the inbound proxies' classifier.
    pids: Arc<Mutex<HashMap<u32, i32>>>,
    isolated: Mutex<BTreeSet<i32>>,
    /// How `isolate` cuts (default Blackhole, a real partition's silence).
    pub isolation_mode: CutMode,
}

/// The binary under test: $SKUA_TEST_BIN, else cargo's build of it (target/release/skua
/// under `cargo test --release`, as the other integration tests use).
pub fn skua_bin() -> PathBuf {
    std::env::var_os("SKUA_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_skua")))
}

impl Cluster {
    /// Start `n` nodes with `FAST_FAILOVER`, `internal_topic_sets(n)` and `extra_sets`
    /// (`name=value`, later wins) and
    /// wait until every node's Metadata lists all `n` brokers and a controller. Picks new
    /// ports and starts over (at most 3 times) if a node dies at start because its port
    /// was taken meanwhile.
    pub fn start(n: usize, extra_sets: &[&str]) -> Cluster {
        Cluster::start_roles(&vec![Role::Combined; n], extra_sets)
    }

    /// [`Cluster::start`] with each node's role (node i has `roles[i - 1]`); the voters are
    /// the nodes with the controller role, the internal topics are replicated as for the
    /// number of broker nodes, and the cluster counts as formed once every broker node lists
    /// exactly the broker nodes.
    pub fn start_roles(roles: &[Role], extra_sets: &[&str]) -> Cluster {
        let internal = internal_topic_sets(roles.iter().filter(|r| r.is_broker()).count());
        let mut sets: Vec<&str> = FAST_FAILOVER.to_vec();
        sets.extend(internal.iter().map(String::as_str));
        sets.extend_from_slice(extra_sets);
        for attempt in 0..3 {
            let c = Cluster::layout_roles(roles, &sets);
            for i in c.ids() {
                c.start_node(i);
            }
            match c.wait_formed() {
                Ok(()) => return c,
                Err(e) if e.contains("in use") && attempt < 2 => {
                    eprintln!("cluster start attempt {attempt}: {e}; retrying on new ports");
                }
                Err(e) => panic!("cluster did not form: {e}"),
            }
        }
        unreachable!()
    }

    /// Create the nodes and proxies and start every process, without waiting.
    pub fn spawn(n: usize, sets: &[&str]) -> Cluster {
        let c = Cluster::layout(n, sets);
        for i in c.ids() {
            c.start_node(i);
        }
        c
    }

    /// Create the nodes (ports, data dirs, command lines) and proxies; start no process.
    pub fn layout(n: usize, sets: &[&str]) -> Cluster {
        Cluster::layout_roles(&vec![Role::Combined; n], sets)
    }

    /// [`Cluster::layout`] with each node's role: links go only to controller nodes.
    pub fn layout_roles(roles: &[Role], sets: &[&str]) -> Cluster {
        let n = roles.len();
        assert!(n >= 1);
        assert!(roles.iter().any(|r| r.is_controller()), "no voter");
        let tmp = tempfile::tempdir().expect("tempdir");
        let pids: Arc<Mutex<HashMap<u32, i32>>> = Arc::default();
        let ids: Vec<i32> = (1..=n as i32).collect();
        let ports: Vec<(u16, u16)> = ids.iter().map(|_| (free_port(), free_port())).collect();
        let addr = |port: u16| -> SocketAddr { SocketAddr::from(([127, 0, 0, 1], port)) };
        let classify: Classifier = {
            let pids = pids.clone();
            Arc::new(move |peer, local| {
                let table: Vec<(u32, i32)> =
                    pids.lock().unwrap().iter().map(|(p, n)| (*p, *n)).collect();
                let candidates: Vec<u32> = table.iter().map(|t| t.0).collect();
                let pid = socket_owner(peer, local, &candidates)?;
                table.iter().find(|t| t.0 == pid).map(|t| t.1)
            })
        };
        let inbound: Vec<Proxy> = ports
            .iter()
            .map(|(b, _)| Proxy::start_with(addr(*b), Some(classify.clone())))
            .collect();
        let role = |i: i32| roles[i as usize - 1];
        let controllers: Vec<i32> = ids
            .iter()
            .copied()
            .filter(|&j| role(j).is_controller())
            .collect();
        let mut links = HashMap::new();
        for &i in &ids {
            for &j in &controllers {
                if i != j {
                    links.insert((i, j), Proxy::start(addr(ports[j as usize - 1].1)));
                }
            }
        }
        let nodes = ids
            .iter()
            .map(|&i| {
                let (bp, cp) = ports[i as usize - 1];
                // Its own entry is its own listener; a peer's is the link proxy to that peer.
                // (A broker-only node's own controller listener is its raft learner endpoint,
                // which the leader reaches directly.)
                let voters: Vec<String> = controllers
                    .iter()
                    .map(|&j| {
                        let port = if i == j { cp } else { links[&(i, j)].port() };
                        format!("{j}@127.0.0.1:{port}")
                    })
                    .collect();
                let mut node = Node {
                    id: i,
                    role: role(i),
                    broker_port: bp,
                    controller_port: cp,
                    log_path: tmp.path().join(format!("node-{i}.log")),
                    data_dir: tmp.path().join(format!("node-{i}")),
                    args: Vec::new(),
                    child: Mutex::new(None),
                    paused: AtomicBool::new(false),
                    starts: Mutex::new(0),
                };
                node.args = node.command_line(&inbound[i as usize - 1], &voters, sets);
                node
            })
            .collect();
        Cluster {
            tmp,
            bin: skua_bin(),
            nodes,
            inbound,
            links,
            pids,
            isolated: Mutex::default(),
            isolation_mode: CutMode::Blackhole,
        }
    }

    fn node(&self, id: i32) -> &Node {
        self.nodes
            .get(usize::try_from(id - 1).unwrap_or(usize::MAX))
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    pub fn ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// The nodes with the broker role (they serve Kafka clients).
    pub fn broker_ids(&self) -> Vec<i32> {
        let brokers = self.nodes.iter().filter(|n| n.role.is_broker());
        brokers.map(|n| n.id).collect()
    }

    /// The nodes with the controller role (the voters).
    pub fn controller_ids(&self) -> Vec<i32> {
        let voters = self.nodes.iter().filter(|n| n.role.is_controller());
        voters.map(|n| n.id).collect()
    }

    pub fn role(&self, id: i32) -> Role {
        self.node(id).role
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn data_dir(&self, id: i32) -> PathBuf {
        self.node(id).data_dir.clone()
    }

    pub fn log_path(&self, id: i32) -> PathBuf {
        self.node(id).log_path.clone()
    }

    /// The command line node `id` runs with (after the binary).
    pub fn args(&self, id: i32) -> Vec<String> {
        self.node(id).args.clone()
    }

    /// Node `id`'s advertised address: its inbound proxy.
    pub fn advertised_addr(&self, id: i32) -> String {
        self.inbound[id as usize - 1].addr().to_string()
    }

    /// Node `id`'s real broker listener, bypassing its proxy.
    pub fn direct_addr(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.node(id).broker_port)
    }

    /// Node `id`'s real controller listener.
    pub fn controller_addr(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.node(id).controller_port)
    }

    /// Every advertised address, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.bootstrap_except(&[])
    }

    /// The advertised addresses of every broker node but `skip`.
    pub fn bootstrap_except(&self, skip: &[i32]) -> String {
        self.broker_ids()
            .into_iter()
            .filter(|i| !skip.contains(i))
            .map(|i| self.advertised_addr(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn inbound(&self, id: i32) -> &Proxy {
        &self.inbound[id as usize - 1]
    }

    /// The proxy node `from` reaches node `to`'s controller listener through.
    pub fn link(&self, from: i32, to: i32) -> &Proxy {
        &self.links[&(from, to)]
    }

    // ---- processes ----

    /// Start node `id`'s process (same arguments, same data dir); it must not be running.
    /// Does not wait: use the wait helpers.
    pub fn start_node(&self, id: i32) {
        let node = self.node(id);
        let mut child = node.child.lock().unwrap();
        assert!(child.is_none(), "node {id} is already running");
        let mut starts = node.starts.lock().unwrap();
        *starts += 1;
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log_path)
            .expect("node log");
        let _ = writeln!(
            log,
            "\n===== start #{} of node {id}: {} {}",
            *starts,
            self.bin.display(),
            node.args.join(" ")
        );
        let mut cmd = Command::new(&self.bin);
        cmd.args(&node.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        // Log files, not terminals: no colour codes.
        cmd.env("NO_COLOR", "1");
        if let Ok(filter) = std::env::var("SKUA_CLUSTER_LOG") {
            cmd.env("RUST_LOG", filter);
        }
        let c = cmd.spawn().expect("start skua");
        self.pids.lock().unwrap().insert(c.id(), id);
        node.paused.store(false, Ordering::SeqCst);
        *child = Some(c);
    }

    /// Start a stopped or killed node again.
    pub fn restart(&self, id: i32) {
        self.start_node(id);
    }

    pub fn is_running(&self, id: i32) -> bool {
        self.node(id).child.lock().unwrap().is_some()
    }

    fn pid(&self, id: i32) -> Option<i32> {
        self.node(id)
            .child
            .lock()
            .unwrap()
            .as_ref()
            .map(|c| c.id() as i32)
    }

    fn forget(&self, id: i32, child: &Child) {
        self.pids.lock().unwrap().remove(&child.id());
        self.node(id).paused.store(false, Ordering::SeqCst);
    }

    /// SIGKILL node `id` and reap it.
    pub fn kill9(&self, id: i32) {
        let mut slot = self.node(id).child.lock().unwrap();
        let mut c = slot
            .take()
            .unwrap_or_else(|| panic!("node {id} is not running"));
        let _ = c.kill();
        let _ = c.wait();
        self.forget(id, &c);
    }

    /// SIGTERM node `id` and wait (at most 30 s) for it to exit; its exit status.
    pub fn stop(&self, id: i32) -> ExitStatus {
        let mut slot = self.node(id).child.lock().unwrap();
        let mut c = slot
            .take()
            .unwrap_or_else(|| panic!("node {id} is not running"));
        if self.node(id).paused.load(Ordering::SeqCst) {
            // SAFETY: signalling our own child by pid.
            unsafe { libc::kill(c.id() as i32, libc::SIGCONT) };
        }
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Ok(Some(s)) = c.try_wait() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                self.forget(id, &c);
                panic!("node {id} did not exit within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.forget(id, &c);
        status
    }

    /// SIGSTOP node `id`: alive but silent (its sockets stay open).
    pub fn pause(&self, id: i32) {
        let pid = self
            .pid(id)
            .unwrap_or_else(|| panic!("node {id} is not running"));
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        self.node(id).paused.store(true, Ordering::SeqCst);
    }

    /// SIGCONT node `id`.
    pub fn resume(&self, id: i32) {
        let pid = self
            .pid(id)
            .unwrap_or_else(|| panic!("node {id} is not running"));
        // SAFETY: signalling our own child by pid.
        unsafe { libc::kill(pid, libc::SIGCONT) };
        self.node(id).paused.store(false, Ordering::SeqCst);
    }

    /// Panic (with its log) if a node that should be running has exited.
    pub fn check_alive(&self) -> Result<(), String> {
        for n in &self.nodes {
            let mut slot = n.child.lock().unwrap();
            if let Some(c) = slot.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let pid = c.id();
                    *slot = None;
                    self.pids.lock().unwrap().remove(&pid);
                    return Err(format!(
                        "node {} exited unexpectedly ({status}); log tail:\n{}",
                        n.id,
                        self.log_tail(n.id, LOG_TAIL_LINES)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The running controller node whose log says it is the active controller now (its last
    /// "active controller" line not followed by "no longer the active controller"), if
    /// exactly one is.
    pub fn active_controller_from_logs(&self) -> Option<i32> {
        let active: Vec<i32> = self
            .controller_ids()
            .into_iter()
            .filter(|&id| self.is_running(id))
            .filter(|&id| {
                let text = std::fs::read_to_string(&self.node(id).log_path).unwrap_or_default();
                // Only this process's lines (the log is appended to across restarts).
                let current = text.rsplit("===== start #").next().unwrap_or("");
                current
                    .lines()
                    .rev()
                    .find(|l| l.contains("active controller"))
                    .is_some_and(|l| !l.contains("no longer the active controller"))
            })
            .collect();
        match active[..] {
            [id] => Some(id),
            _ => None,
        }
    }

    /// The last `lines` lines of node `id`'s log.
    pub fn log_tail(&self, id: i32, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.node(id).log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    // ---- network faults ----

    /// Cut node `id` off from the other nodes and from clients using advertised addresses:
    /// its inbound proxy, every controller link to or from it, and its own connections to
    /// the other nodes' inbound proxies (mode: `isolation_mode`).
    pub fn isolate(&self, id: i32) {
        self.isolated.lock().unwrap().insert(id);
        self.apply_isolation();
    }

    /// Undo `isolate(id)`.
    pub fn heal(&self, id: i32) {
        self.isolated.lock().unwrap().remove(&id);
        self.apply_isolation();
    }

    pub fn is_isolated(&self, id: i32) -> bool {
        self.isolated.lock().unwrap().contains(&id)
    }

    fn apply_isolation(&self) {
        let isolated = self.isolated.lock().unwrap().clone();
        let mode = self.isolation_mode;
        for n in &self.nodes {
            let p = self.inbound(n.id);
            if isolated.contains(&n.id) {
                p.cut(mode);
            } else {
                p.heal();
            }
            for other in self.ids() {
                if isolated.contains(&other) && other != n.id {
                    p.cut_source(other, mode);
                } else {
                    p.heal_source(other);
                }
            }
        }
        for (&(from, to), p) in &self.links {
            if isolated.contains(&from) || isolated.contains(&to) {
                p.cut(mode);
            } else {
                p.heal();
            }
        }
    }

    /// Broker nodes that are running, not paused and not isolated.
    pub fn reachable(&self) -> Vec<i32> {
        let isolated = self.isolated.lock().unwrap().clone();
        self.nodes
            .iter()
            .filter(|n| {
                n.role.is_broker()
                    && n.child.lock().unwrap().is_some()
                    && !n.paused.load(Ordering::SeqCst)
                    && !isolated.contains(&n.id)
            })
            .map(|n| n.id)
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        for n in &self.nodes {
            if let Some(mut c) = n.child.lock().unwrap_or_else(|e| e.into_inner()).take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if failed {
            for n in &self.nodes {
                eprintln!(
                    "----- node {} log ({}), last {LOG_TAIL_LINES} lines -----\n{}",
                    n.id,
                    n.log_path.display(),
                    self.log_tail(n.id, LOG_TAIL_LINES)
                );
            }
            if std::env::var_os("SKUA_KEEP_CLUSTER").is_some() {
                self.tmp.disable_cleanup(true);
                eprintln!("cluster dir kept: {}", self.tmp.path().display());
            }
        }
    }
}
