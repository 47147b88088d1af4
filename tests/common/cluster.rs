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
//!  --data-dir DIR/node-i --metrics-listen off --advertise 127.0.0.1:<inbound[i]>
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

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, MetadataRequest, MetadataResponse, ProduceRequest, ResponseHeader,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Request, StrBytes};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::proxy::{socket_owner, Classifier, CutMode, Proxy};
use super::{free_port, Client};

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
/// production defaults, and internal topics replicated like user topics.
pub const FAST_FAILOVER: &[&str] = &[
    "broker.session.timeout.ms=3000",
    "broker.heartbeat.interval.ms=500",
    "replica.lag.time.max.ms=3000",
    "offsets.topic.replication.factor=3",
    "transaction.state.log.replication.factor=3",
    "transaction.state.log.min.isr=2",
    "group.initial.rebalance.delay.ms=0",
];

/// How long a cluster may take to form (three release processes on two busy cores).
const FORM_TIMEOUT: Duration = Duration::from_secs(60);
/// Default deadline of the wait helpers.
pub const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
const LOG_TAIL_LINES: usize = 80;

/// One partition as a node's Metadata shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionState {
    pub error_code: i16,
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline: Vec<i32>,
}

/// One node's Metadata answer.
#[derive(Clone, Debug)]
pub struct View {
    /// The node that answered.
    pub from: i32,
    pub controller_id: i32,
    pub cluster_id: Option<String>,
    /// (node id, "host:port"), sorted by id.
    pub brokers: Vec<(i32, String)>,
    /// topic -> (error code, partitions sorted by index).
    pub topics: HashMap<String, (i16, Vec<PartitionState>)>,
}

impl View {
    pub fn broker_ids(&self) -> Vec<i32> {
        self.brokers.iter().map(|b| b.0).collect()
    }

    pub fn partition(&self, topic: &str, p: i32) -> Option<&PartitionState> {
        self.topics.get(topic)?.1.get(usize::try_from(p).ok()?)
    }
}

struct Node {
    id: i32,
    broker_port: u16,
    controller_port: u16,
    data_dir: PathBuf,
    log_path: PathBuf,
    args: Vec<String>,
    child: Mutex<Option<Child>>,
    paused: AtomicBool,
    starts: Mutex<u32>,
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
    /// Start `n` nodes with `FAST_FAILOVER` plus `extra_sets` (`name=value`, later wins) and
    /// wait until every node's Metadata lists all `n` brokers and a controller. Picks new
    /// ports and starts over (at most 3 times) if a node dies at start because its port
    /// was taken meanwhile.
    pub fn start(n: usize, extra_sets: &[&str]) -> Cluster {
        let mut sets: Vec<&str> = FAST_FAILOVER.to_vec();
        sets.extend_from_slice(extra_sets);
        for attempt in 0..3 {
            let c = Cluster::spawn(n, &sets);
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
        assert!(n >= 1);
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
        let mut links = HashMap::new();
        for &i in &ids {
            for &j in &ids {
                if i != j {
                    links.insert((i, j), Proxy::start(addr(ports[j as usize - 1].1)));
                }
            }
        }
        let nodes = ids
            .iter()
            .map(|&i| {
                let (bp, cp) = ports[i as usize - 1];
                let voters: Vec<String> = ids
                    .iter()
                    .map(|&j| {
                        let port = if i == j { cp } else { links[&(i, j)].port() };
                        format!("{j}@127.0.0.1:{port}")
                    })
                    .collect();
                let data_dir = tmp.path().join(format!("node-{i}"));
                let mut args: Vec<String> = vec![
                    "serve".into(),
                    "--node-id".into(),
                    i.to_string(),
                    "--listen".into(),
                    format!("127.0.0.1:{bp}"),
                    "--controller-listen".into(),
                    format!("127.0.0.1:{cp}"),
                    "--data-dir".into(),
                    data_dir.display().to_string(),
                    "--metrics-listen".into(),
                    "off".into(),
                    "--advertise".into(),
                    inbound[i as usize - 1].addr().to_string(),
                    "--set".into(),
                    format!("controller.quorum.voters={}", voters.join(",")),
                ];
                for s in sets {
                    args.push("--set".into());
                    args.push(s.to_string());
                }
                Node {
                    id: i,
                    broker_port: bp,
                    controller_port: cp,
                    log_path: tmp.path().join(format!("node-{i}.log")),
                    data_dir,
                    args,
                    child: Mutex::new(None),
                    paused: AtomicBool::new(false),
                    starts: Mutex::new(0),
                }
            })
            .collect();
        let c = Cluster {
            tmp,
            bin: skua_bin(),
            nodes,
            inbound,
            links,
            pids,
            isolated: Mutex::default(),
            isolation_mode: CutMode::Blackhole,
        };
        for &i in &ids {
            c.start_node(i);
        }
        c
    }

    fn node(&self, id: i32) -> &Node {
        self.nodes
            .get(usize::try_from(id - 1).unwrap_or(usize::MAX))
            .unwrap_or_else(|| panic!("no node {id}"))
    }

    pub fn ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
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

    /// The advertised addresses of every node but `skip`.
    pub fn bootstrap_except(&self, skip: &[i32]) -> String {
        self.ids()
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

    // ---- views ----

    /// Nodes that are running, not paused and not isolated.
    pub fn reachable(&self) -> Vec<i32> {
        let isolated = self.isolated.lock().unwrap().clone();
        self.nodes
            .iter()
            .filter(|n| {
                n.child.lock().unwrap().is_some()
                    && !n.paused.load(Ordering::SeqCst)
                    && !isolated.contains(&n.id)
            })
            .map(|n| n.id)
            .collect()
    }

    /// Node `id`'s Metadata (v12), asked on its real listener; `topics` None = all topics.
    pub fn view_from(&self, id: i32, topics: Option<&[&str]>) -> Result<View, String> {
        let req = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        let r: MetadataResponse = call(&self.direct_addr(id), 12, &req, Duration::from_secs(5))
            .map_err(|e| format!("node {id}: Metadata: {e}"))?;
        let mut brokers: Vec<(i32, String)> = r
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        brokers.sort();
        let topics = r
            .topics
            .iter()
            .map(|t| {
                let mut parts: Vec<(i32, PartitionState)> = t
                    .partitions
                    .iter()
                    .map(|p| {
                        (
                            p.partition_index,
                            PartitionState {
                                error_code: p.error_code,
                                leader: p.leader_id.0,
                                leader_epoch: p.leader_epoch,
                                replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                                isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                                offline: p.offline_replicas.iter().map(|b| b.0).collect(),
                            },
                        )
                    })
                    .collect();
                parts.sort_by_key(|p| p.0);
                let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
                (
                    name,
                    (t.error_code, parts.into_iter().map(|p| p.1).collect()),
                )
            })
            .collect();
        Ok(View {
            from: id,
            controller_id: r.controller_id.0,
            cluster_id: r.cluster_id.map(|s| s.to_string()),
            brokers,
            topics,
        })
    }

    /// Metadata from every reachable node (an error if one does not answer).
    pub fn views(&self, topics: Option<&[&str]>) -> Result<Vec<View>, String> {
        let ids = self.reachable();
        if ids.is_empty() {
            return Err("no reachable node".into());
        }
        ids.into_iter().map(|i| self.view_from(i, topics)).collect()
    }

    /// Metadata from the first reachable node that answers.
    pub fn view(&self, topics: Option<&[&str]>) -> Result<View, String> {
        let mut last = "no reachable node".to_string();
        for i in self.reachable() {
            match self.view_from(i, topics) {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn partition(&self, topic: &str, p: i32) -> Option<PartitionState> {
        self.view(Some(&[topic])).ok()?.partition(topic, p).cloned()
    }

    /// The partition's leader as a reachable node sees it (None: unknown or no leader).
    pub fn leader_of(&self, topic: &str, p: i32) -> Option<i32> {
        self.partition(topic, p)
            .map(|s| s.leader)
            .filter(|&l| l >= 0)
    }

    pub fn isr_of(&self, topic: &str, p: i32) -> Option<Vec<i32>> {
        self.partition(topic, p).map(|s| s.isr)
    }

    pub fn replicas_of(&self, topic: &str, p: i32) -> Option<Vec<i32>> {
        self.partition(topic, p).map(|s| s.replicas)
    }

    /// The active controller as a reachable node sees it.
    pub fn controller_id(&self) -> Option<i32> {
        self.view(Some(&[]))
            .ok()
            .map(|v| v.controller_id)
            .filter(|&c| c >= 0)
    }

    // ---- waits ----

    /// Poll `f` every 100 ms until it returns Ok, at most `timeout`; panics with `what` and
    /// `f`'s last error, or at once if a node exits unexpectedly.
    pub fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Cluster) -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            if let Err(e) = self.check_alive() {
                panic!("while waiting for {what}: {e}");
            }
            let last = match f(self) {
                Ok(v) => return v,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {what}; last: {last}");
            }
            std::thread::sleep(POLL);
        }
    }

    fn wait_formed(&self) -> Result<(), String> {
        let want = self.ids();
        let deadline = Instant::now() + FORM_TIMEOUT;
        loop {
            self.check_alive()?;
            let last = match self.views(Some(&[])) {
                Ok(vs) => match vs.iter().find(|v| v.broker_ids() != want) {
                    None if vs.iter().all(|v| v.controller_id > 0) => return Ok(()),
                    None => "no controller yet".to_string(),
                    Some(v) => format!("node {} lists brokers {:?}", v.from, v.broker_ids()),
                },
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!("not formed within {FORM_TIMEOUT:?}: {last}"));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Wait until every reachable node lists exactly the brokers `ids`.
    pub fn wait_for_brokers(&self, ids: &[i32]) -> View {
        let mut want = ids.to_vec();
        want.sort();
        self.wait_for(&format!("brokers {want:?}"), WAIT, |c| {
            let vs = c.views(Some(&[]))?;
            match vs.iter().find(|v| v.broker_ids() != want) {
                None => Ok(vs.into_iter().next().unwrap()),
                Some(v) => Err(format!("node {} lists {:?}", v.from, v.broker_ids())),
            }
        })
    }

    /// Wait until every reachable node names the same active controller satisfying `ok`.
    pub fn wait_for_controller(&self, ok: impl Fn(i32) -> bool) -> i32 {
        self.wait_for("an agreed active controller", WAIT, |c| {
            let vs = c.views(Some(&[]))?;
            let ids: BTreeSet<i32> = vs.iter().map(|v| v.controller_id).collect();
            match ids.iter().next() {
                Some(&id) if ids.len() == 1 && id > 0 && ok(id) => Ok(id),
                _ => Err(format!("controller ids {ids:?}")),
            }
        })
    }

    /// Wait until every reachable node shows the same state of `topic`-`p` satisfying `ok`.
    pub fn wait_partition(
        &self,
        what: &str,
        topic: &str,
        p: i32,
        timeout: Duration,
        ok: impl Fn(&PartitionState) -> bool,
    ) -> PartitionState {
        self.wait_for(&format!("{topic}-{p}: {what}"), timeout, |c| {
            let vs = c.views(Some(&[topic]))?;
            let states: Vec<(i32, Option<&PartitionState>)> =
                vs.iter().map(|v| (v.from, v.partition(topic, p))).collect();
            let first = states[0].1;
            if states.iter().all(|s| s.1 == first) {
                if let Some(s) = first.filter(|s| ok(s)) {
                    return Ok(s.clone());
                }
            }
            Err(format!("views {states:?}"))
        })
    }

    /// Wait until the reachable nodes agree on a reachable leader of `topic`-`p`.
    pub fn wait_for_leader(&self, topic: &str, p: i32) -> i32 {
        let live = self.reachable();
        self.wait_partition("a reachable leader", topic, p, WAIT, |s| {
            live.contains(&s.leader)
        })
        .leader
    }

    /// Wait until the reachable nodes agree on a reachable leader other than `old`.
    pub fn wait_for_leader_change(&self, topic: &str, p: i32, old: i32) -> i32 {
        let live = self.reachable();
        self.wait_partition(&format!("a leader other than {old}"), topic, p, WAIT, |s| {
            s.leader != old && live.contains(&s.leader)
        })
        .leader
    }

    /// Wait until the reachable nodes agree that the ISR of `topic`-`p` is the set `isr`.
    pub fn wait_isr(&self, topic: &str, p: i32, isr: &[i32]) -> PartitionState {
        let want: BTreeSet<i32> = isr.iter().copied().collect();
        self.wait_partition(&format!("isr {want:?}"), topic, p, WAIT, |s| {
            s.isr.iter().copied().collect::<BTreeSet<_>>() == want && s.leader >= 0
        })
    }

    /// Wait until every partition of `topic` has a reachable leader and a full ISR
    /// (= its replicas) on every reachable node.
    pub fn wait_healthy(&self, topic: &str) -> Vec<PartitionState> {
        let live = self.reachable();
        self.wait_for(&format!("{topic} fully replicated"), WAIT, |c| {
            let vs = c.views(Some(&[topic]))?;
            let first = vs[0].topics.get(topic).cloned();
            for v in &vs {
                let t = v.topics.get(topic);
                let ok = t.is_some_and(|(e, ps)| {
                    *e == code::NONE
                        && !ps.is_empty()
                        && ps.iter().all(|s| {
                            live.contains(&s.leader)
                                && sorted(&s.isr) == sorted(&s.replicas)
                                && s.offline.is_empty()
                        })
                });
                if !ok || t != first.as_ref() {
                    return Err(format!("node {}: {:?}", v.from, t));
                }
            }
            Ok(first.map(|t| t.1).unwrap_or_default())
        })
    }

    // ---- requests ----

    /// CreateTopics v7 sent to the active controller if known, else to any reachable node,
    /// moving on to another node on NOT_CONTROLLER: the topic's result.
    pub fn create_topic_raw(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(&str, &str)],
    ) -> CreatableTopicResult {
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(15000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(topic_name(name))
                .with_num_partitions(partitions)
                .with_replication_factor(replication_factor)
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_string(k.to_string()))
                                .with_value(Some(StrBytes::from_string(v.to_string())))
                        })
                        .collect(),
                )]);
        self.wait_for(&format!("CreateTopics {name}"), WAIT, |c| {
            let mut order = c.reachable();
            if let Some(ctl) = c.controller_id() {
                order.sort_by_key(|&i| i != ctl);
            }
            let mut last = "no reachable node".to_string();
            for id in order {
                match call(&c.direct_addr(id), 7, &req, Duration::from_secs(20)) {
                    Ok(r) => {
                        let t = r.topics.into_iter().next().ok_or("no topic in response")?;
                        if t.error_code != code::NOT_CONTROLLER {
                            return Ok(t);
                        }
                        last = format!("node {id}: NOT_CONTROLLER");
                    }
                    Err(e) => last = format!("node {id}: {e}"),
                }
            }
            Err(last)
        })
    }

    /// Create a topic (asserting success) and wait until it is fully replicated.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(&str, &str)],
    ) -> Vec<PartitionState> {
        let r = self.create_topic_raw(name, partitions, replication_factor, configs);
        assert_eq!(
            r.error_code,
            code::NONE,
            "create {name}: {:?}",
            r.error_message
        );
        let states = self.wait_healthy(name);
        assert_eq!(states.len(), partitions as usize, "{name}: {states:?}");
        states
    }

    /// An rdkafka config with the advertised addresses of the reachable nodes and timeouts
    /// short enough for failover tests.
    pub fn client_config(&self) -> ClientConfig {
        let skip: Vec<i32> = self
            .ids()
            .into_iter()
            .filter(|i| !self.reachable().contains(i))
            .collect();
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", self.bootstrap_except(&skip))
            .set("topic.metadata.refresh.interval.ms", "1000")
            .set("socket.timeout.ms", "10000")
            .set("reconnect.backoff.max.ms", "500")
            .set("retry.backoff.max.ms", "500");
        cfg
    }

    /// Every record of `topic`-`p` from offset 0 up to its high watermark, read with an
    /// rdkafka consumer through the advertised addresses: (offset, value).
    pub fn read_partition(&self, topic: &str, p: i32) -> Vec<(i64, Vec<u8>)> {
        let c: BaseConsumer = self
            .client_config()
            .set("group.id", "cluster-test-reader")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "100")
            .create()
            .expect("consumer");
        let (low, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("watermarks of {topic}-{p}: {e}"));
        assert_eq!(low, 0, "{topic}-{p}: log start offset");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
        c.assign(&tpl).unwrap();
        let mut out: Vec<(i64, Vec<u8>)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while out.last().map_or(0, |r| r.0 + 1) < high {
            assert!(
                Instant::now() < deadline,
                "{topic}-{p}: read {} records up to offset {:?} of high watermark {high} in 60 s",
                out.len(),
                out.last().map(|r| r.0)
            );
            match c.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => out.push((m.offset(), m.payload().unwrap_or(&[]).to_vec())),
                Some(Err(e)) => eprintln!("{topic}-{p}: consumer: {e}"),
                None => {}
            }
        }
        out
    }

    /// A raw acks/timeout Produce v9 of `records` to `topic`-`p` at `addr`; the partition's
    /// answer, or an error when no answer came within `wait`.
    pub fn produce_raw(
        &self,
        addr: &str,
        topic: &str,
        p: i32,
        records: Bytes,
        acks: i16,
        timeout_ms: i32,
        wait: Duration,
    ) -> Result<PartitionProduceResponse, String> {
        let req = ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(timeout_ms)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(topic_name(topic))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(p)
                    .with_records(Some(records))])]);
        let r = call(addr, 9, &req, wait)?;
        r.responses
            .into_iter()
            .next()
            .and_then(|t| t.partition_responses.into_iter().next())
            .ok_or_else(|| "no partition in the Produce response".to_string())
    }
}

fn sorted(v: &[i32]) -> Vec<i32> {
    let mut v = v.to_vec();
    v.sort();
    v
}

pub fn topic_name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

/// One request/response on a fresh connection to `addr`, without panicking: connect within
/// 2 s, answer within `wait`.
pub fn call<R: Request>(
    addr: &str,
    version: i16,
    req: &R,
    wait: Duration,
) -> Result<R::Response, String> {
    let sa: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let stream = TcpStream::connect_timeout(&sa, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(wait))
        .and_then(|_| stream.set_write_timeout(Some(wait)))
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut c = Client {
        stream,
        correlation: 0,
    };
    let (corr, frame) = c.encode_request(version, req);
    c.stream
        .write_all(&frame)
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut frame = c
        .read_frame()
        .ok_or_else(|| format!("no answer from {addr} within {wait:?} (or closed)"))?;
    let key = ApiKey::try_from(R::KEY).map_err(|_| "api key")?;
    let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))
        .map_err(|e| format!("{addr}: header: {e}"))?;
    if header.correlation_id != corr {
        return Err(format!(
            "{addr}: correlation {} != {corr}",
            header.correlation_id
        ));
    }
    let resp = R::Response::decode(&mut frame, version).map_err(|e| format!("{addr}: {e}"))?;
    if frame.remaining() != 0 {
        return Err(format!("{addr}: {key:?} v{version}: trailing bytes"));
    }
    Ok(resp)
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
