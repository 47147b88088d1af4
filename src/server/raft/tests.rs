//! In-process quorum tests over loopback: real listeners on ephemeral ports, real files in
//! temporary directories, short timeouts.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::*;

/// What a [`RecordingApplier`] has seen.
#[derive(Debug, Clone, Default)]
struct Seen {
    /// Applied entries in order (replaced by a restore).
    applied: Vec<(u64, Vec<u8>)>,
    /// Index of every `restore` call.
    restores: Vec<u64>,
}

/// Records applied entries; its snapshot is the JSON of that list.
struct RecordingApplier {
    seen: watch::Sender<Seen>,
}

impl RecordingApplier {
    fn new() -> Arc<RecordingApplier> {
        Arc::new(RecordingApplier {
            seen: watch::channel(Seen::default()).0,
        })
    }

    fn applied(&self) -> Vec<(u64, Vec<u8>)> {
        self.seen.borrow().applied.clone()
    }

    fn restores(&self) -> Vec<u64> {
        self.seen.borrow().restores.clone()
    }

    /// Wait until at least `n` entries are applied; return them.
    async fn wait_applied(&self, n: usize) -> Vec<(u64, Vec<u8>)> {
        let mut rx = self.seen.subscribe();
        let waited = tokio::time::timeout(WAIT, rx.wait_for(|s| s.applied.len() >= n)).await;
        assert!(
            waited.is_ok(),
            "timed out waiting for {n} entries, have {:?}",
            self.applied()
        );
        self.applied()
    }
}

impl MetadataApplier for RecordingApplier {
    fn apply(&self, index: u64, payload: &[u8]) {
        self.seen
            .send_modify(|s| s.applied.push((index, payload.to_vec())));
    }

    fn snapshot(&self) -> (u64, Vec<u8>) {
        let seen = self.seen.borrow();
        let index = seen.applied.last().map_or(0, |e| e.0);
        (index, serde_json::to_vec(&seen.applied).unwrap())
    }

    fn restore(&self, index: u64, data: &[u8]) -> anyhow::Result<()> {
        let applied: Vec<(u64, Vec<u8>)> = serde_json::from_slice(data)?;
        self.seen.send_modify(|s| {
            s.applied = applied;
            s.restores.push(index);
        });
        Ok(())
    }
}

/// Answers `"<node id>:<request>"`.
struct EchoApp(u64);

impl AppRpcHandler for EchoApp {
    fn handle(&self, req: Vec<u8>) -> BoxFuture<'_, Vec<u8>> {
        Box::pin(async move {
            let mut out = format!("{}:", self.0).into_bytes();
            out.extend_from_slice(&req);
            out
        })
    }
}

const WAIT: Duration = Duration::from_secs(10);

struct Node {
    raft: MetaRaft,
    applier: Arc<RecordingApplier>,
}

fn free_addrs(n: usize) -> Vec<String> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect()
}

fn settings(
    id: u64,
    voters: &BTreeMap<u64, String>,
    dir: &Path,
    snapshot_every: u64,
) -> RaftSettings {
    let listen = (voters.len() > 1).then(|| voters[&id].clone());
    let mut s = RaftSettings::new(id, listen, voters.clone(), dir.join(format!("node-{id}")));
    s.election_timeout_min_ms = 400;
    s.heartbeat_interval_ms = 100;
    s.snapshot_every_logs = snapshot_every;
    s.write_timeout_ms = 3000;
    s
}

async fn start_node(
    id: u64,
    voters: &BTreeMap<u64, String>,
    dir: &Path,
    snapshot_every: u64,
) -> Node {
    let applier = RecordingApplier::new();
    let raft = MetaRaft::start(
        settings(id, voters, dir, snapshot_every),
        applier.clone(),
        Arc::new(EchoApp(id)),
    )
    .await
    .unwrap();
    Node { raft, applier }
}

/// Start voters 1..=n concurrently (as separate processes would).
async fn start_cluster(
    n: u64,
    dir: &Path,
    snapshot_every: u64,
) -> (BTreeMap<u64, String>, Vec<Node>) {
    let voters: BTreeMap<u64, String> = (1..=n).zip(free_addrs(n as usize)).collect();
    let starts = (1..=n).map(|id| start_node(id, &voters, dir, snapshot_every));
    let nodes = futures::future::join_all(starts).await;
    (voters, nodes)
}

/// Wait until every node in `nodes` names the same leader, not `not`; return it.
async fn agreed_leader(nodes: &[&Node], not: Option<u64>) -> u64 {
    let wait = async {
        let mut first = nodes[0].raft.leader_watch();
        let leader = first
            .wait_for(|l| l.is_some() && *l != not)
            .await
            .unwrap()
            .unwrap();
        for node in nodes {
            let mut rx = node.raft.leader_watch();
            rx.wait_for(|l| *l == Some(leader)).await.unwrap();
        }
        leader
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .expect("no agreed leader in time")
}

fn by_id(nodes: &[Node], id: u64) -> &Node {
    &nodes[(id - 1) as usize]
}

fn payload(i: usize) -> Vec<u8> {
    format!(r#"[{{"record":{i}}}]"#).into_bytes()
}

#[tokio::test]
async fn single_voter_elects_itself_and_applies_writes() {
    let dir = tempfile::tempdir().unwrap();
    let voters = BTreeMap::from([(1, "unused:0".to_string())]);
    let node = start_node(1, &voters, dir.path(), 10_000).await;
    assert_eq!(agreed_leader(&[&node], None).await, 1);
    assert!(node.raft.is_leader());
    // Index 0: the initial membership; 1: the leader's blank entry.
    assert_eq!(node.raft.write(b"a".to_vec()).await, Ok(2));
    assert_eq!(node.raft.write(vec![0xff, 0]).await, Ok(3));
    assert_eq!(
        node.applier.applied(),
        vec![(2, b"a".to_vec()), (3, vec![0xff, 0])]
    );
    assert_eq!(node.raft.last_applied(), 3);
    node.raft.shutdown().await;
}

#[tokio::test]
async fn single_voter_restart_replays_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let voters = BTreeMap::from([(1, "unused:0".to_string())]);
    let node = start_node(1, &voters, dir.path(), 10_000).await;
    for i in 0..3 {
        node.raft.write(payload(i)).await.unwrap();
    }
    let before = node.applier.applied();
    node.raft.shutdown().await;
    drop(node);

    let node = start_node(1, &voters, dir.path(), 10_000).await;
    // Committed entries are re-applied from the log at start, before any new election.
    assert_eq!(node.applier.applied(), before);
    agreed_leader(&[&node], None).await;
    let index = node.raft.write(payload(3)).await.unwrap();
    assert!(index > before.last().unwrap().0, "{index}");
    assert_eq!(node.applier.applied().last(), Some(&(index, payload(3))));
    node.raft.shutdown().await;
}

#[tokio::test]
async fn a_torn_log_tail_is_truncated_on_open_and_the_node_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let voters = BTreeMap::from([(1, "unused:0".to_string())]);
    let node = start_node(1, &voters, dir.path(), 10_000).await;
    for i in 0..3 {
        node.raft.write(payload(i)).await.unwrap();
    }
    let before = node.applier.applied();
    node.raft.shutdown().await;
    drop(node);

    // A half-written frame after the last entry, as a crash mid-append leaves it.
    let segment = last_segment(&dir.path().join("node-1"));
    let mut f = OpenOptions::new().append(true).open(&segment).unwrap();
    f.write_all(&[0, 0, 1, 0, 0xde, 0xad, b'{', b'"']).unwrap();
    drop(f);

    let node = start_node(1, &voters, dir.path(), 10_000).await;
    assert_eq!(node.applier.applied(), before);
    agreed_leader(&[&node], None).await;
    let index = node.raft.write(payload(9)).await.unwrap();
    assert_eq!(node.applier.applied().last(), Some(&(index, payload(9))));
    node.raft.shutdown().await;
}

fn last_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "raftlog"))
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

#[tokio::test]
async fn three_voters_form_a_quorum_and_apply_the_same_entries_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_voters, nodes) = start_cluster(3, dir.path(), 10_000).await;
    let all: Vec<&Node> = nodes.iter().collect();
    let leader = agreed_leader(&all, None).await;
    let mut indexes = Vec::new();
    for i in 0..5 {
        indexes.push(by_id(&nodes, leader).raft.write(payload(i)).await.unwrap());
    }
    assert!(indexes.windows(2).all(|w| w[1] == w[0] + 1), "{indexes:?}");
    let expected: Vec<(u64, Vec<u8>)> = indexes.iter().copied().zip((0..5).map(payload)).collect();
    for node in &nodes {
        assert_eq!(node.applier.wait_applied(5).await, expected);
    }
    for node in &nodes {
        node.raft.shutdown().await;
    }
}

#[tokio::test]
async fn a_write_on_a_follower_is_refused_with_the_leader_id() {
    let dir = tempfile::tempdir().unwrap();
    let (_voters, nodes) = start_cluster(3, dir.path(), 10_000).await;
    let all: Vec<&Node> = nodes.iter().collect();
    let leader = agreed_leader(&all, None).await;
    let follower = nodes.iter().find(|n| n.raft.node_id() != leader).unwrap();
    assert!(!follower.raft.is_leader());
    assert_eq!(
        follower.raft.write(payload(0)).await,
        Err(WriteError::NotLeader {
            leader: Some(leader)
        })
    );
    for node in &nodes {
        node.raft.shutdown().await;
    }
}

#[tokio::test]
async fn when_the_leader_stops_another_is_elected_and_writes_continue() {
    let dir = tempfile::tempdir().unwrap();
    let (_voters, nodes) = start_cluster(3, dir.path(), 10_000).await;
    let all: Vec<&Node> = nodes.iter().collect();
    let old = agreed_leader(&all, None).await;
    let first = by_id(&nodes, old).raft.write(payload(0)).await.unwrap();
    by_id(&nodes, old).raft.shutdown().await;

    let rest: Vec<&Node> = nodes.iter().filter(|n| n.raft.node_id() != old).collect();
    let started = std::time::Instant::now();
    let new = agreed_leader(&rest, Some(old)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let second = by_id(&nodes, new).raft.write(payload(1)).await.unwrap();
    assert!(second > first);
    for node in &rest {
        let applied = node.applier.wait_applied(2).await;
        assert_eq!(applied, vec![(first, payload(0)), (second, payload(1))]);
        node.raft.shutdown().await;
    }
}

#[tokio::test]
async fn a_restarted_follower_keeps_its_log_and_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let (voters, mut nodes) = start_cluster(3, dir.path(), 10_000).await;
    let all: Vec<&Node> = nodes.iter().collect();
    let leader = agreed_leader(&all, None).await;
    let f = if leader == 1 { 2 } else { 1 };
    for i in 0..3 {
        by_id(&nodes, leader).raft.write(payload(i)).await.unwrap();
    }
    let early = by_id(&nodes, f).applier.wait_applied(3).await;
    by_id(&nodes, f).raft.shutdown().await;
    for i in 3..6 {
        by_id(&nodes, leader).raft.write(payload(i)).await.unwrap();
    }

    let restarted = start_node(f, &voters, dir.path(), 10_000).await;
    // Its own committed entries come back from its log at start.
    assert_eq!(restarted.applier.applied()[..3], early[..]);
    let caught_up = restarted.applier.wait_applied(6).await;
    assert_eq!(caught_up, by_id(&nodes, leader).applier.applied());
    nodes[(f - 1) as usize] = restarted;
    for node in &nodes {
        node.raft.shutdown().await;
    }
}

#[tokio::test]
async fn a_lagging_follower_is_sent_a_snapshot_and_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let every = 3;
    let (voters, mut nodes) = start_cluster(3, dir.path(), every).await;
    let all: Vec<&Node> = nodes.iter().collect();
    let leader = agreed_leader(&all, None).await;
    let f = if leader == 1 { 2 } else { 1 };
    by_id(&nodes, leader).raft.write(payload(0)).await.unwrap();
    by_id(&nodes, f).applier.wait_applied(1).await;
    by_id(&nodes, f).raft.shutdown().await;
    // Far past the follower's log: several snapshots, the log before them purged.
    for i in 1..20 {
        by_id(&nodes, leader).raft.write(payload(i)).await.unwrap();
    }
    let leader_applied = by_id(&nodes, leader).applier.applied();
    // Snapshots are built and the log purged in the background: wait until the entries after
    // the follower's last one are gone, so only a snapshot can catch it up.
    let follower_last = leader_applied[0].0;
    let mut metrics = by_id(&nodes, leader).raft.raft.metrics();
    let purged = metrics.wait_for(|m| m.purged.is_some_and(|p| p.index > follower_last + 1));
    tokio::time::timeout(WAIT, purged).await.unwrap().unwrap();

    let restarted = start_node(f, &voters, dir.path(), every).await;
    let at_start = restarted.applier.restores();
    let caught_up = restarted.applier.wait_applied(20).await;
    assert_eq!(caught_up, leader_applied);
    let restores = restarted.applier.restores();
    assert!(
        restores.len() > at_start.len() && *restores.last().unwrap() > leader_applied[0].0,
        "no snapshot installed: restores at start {at_start:?}, now {restores:?}"
    );
    nodes[(f - 1) as usize] = restarted;
    for node in &nodes {
        node.raft.shutdown().await;
    }
}

#[tokio::test]
async fn call_app_reaches_the_target_nodes_handler() {
    let dir = tempfile::tempdir().unwrap();
    let (voters, nodes) = start_cluster(3, dir.path(), 10_000).await;
    let t = Duration::from_secs(2);
    let n1 = &nodes[0].raft;
    assert_eq!(
        n1.call_app(2, b"ping".to_vec(), t).await.unwrap(),
        b"2:ping"
    );
    assert_eq!(
        n1.call_app(3, b"pong".to_vec(), t).await.unwrap(),
        b"3:pong"
    );
    assert_eq!(
        n1.call_app(1, b"self".to_vec(), t).await.unwrap(),
        b"1:self"
    );
    assert!(n1.call_app(9, b"x".to_vec(), t).await.is_err());
    // Concurrent requests share the connection.
    let many = (0..20).map(|i| n1.call_app(2, vec![b'a' + i], t));
    let answers = futures::future::join_all(many).await;
    for (i, a) in answers.into_iter().enumerate() {
        assert_eq!(a.unwrap(), vec![b'2', b':', b'a' + i as u8]);
    }
    // A broker-only node reaches the voters the same way.
    let client = AppClient::new(&voters, DEFAULT_MAX_FRAME_BYTES);
    assert_eq!(client.call(3, b"b".to_vec(), t).await.unwrap(), b"3:b");
    client.close().await;
    for node in &nodes {
        node.raft.shutdown().await;
    }
}

#[tokio::test]
async fn a_taken_controller_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let voters = BTreeMap::from([(1, addr.clone()), (2, "127.0.0.1:1".to_string())]);
    let err = MetaRaft::start(
        settings(1, &voters, dir.path(), 10_000),
        RecordingApplier::new(),
        Arc::new(EchoApp(1)),
    )
    .await
    .err()
    .expect("start must fail");
    let msg = format!("{err:#}");
    assert!(msg.contains(&format!("cannot listen on {addr}")), "{msg}");
}

#[tokio::test]
async fn a_leader_cut_off_from_the_quorum_stops_calling_itself_leader() {
    let dir = tempfile::tempdir().unwrap();
    let (_voters, nodes) = start_cluster(3, dir.path(), 10_000).await;
    let all: Vec<&Node> = nodes.iter().collect();
    let leader = agreed_leader(&all, None).await;
    let lead = by_id(&nodes, leader);
    lead.raft.write(payload(0)).await.unwrap();
    assert!(lead.raft.is_leader());
    for node in nodes.iter().filter(|n| n.raft.node_id() != leader) {
        node.raft.shutdown().await;
    }
    // Within the lease (2 x 400 ms) plus a tick or two.
    let mut watch = lead.raft.leader_watch();
    tokio::time::timeout(Duration::from_secs(3), watch.wait_for(|l| l.is_none()))
        .await
        .expect("the isolated leader still calls itself leader")
        .unwrap();
    assert!(!lead.raft.is_leader());
    let write = tokio::time::timeout(Duration::from_millis(500), lead.raft.write(payload(1))).await;
    assert!(!matches!(write, Ok(Ok(_))), "{write:?}");
    lead.raft.shutdown().await;
}

#[tokio::test]
async fn a_write_too_large_for_a_frame_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let voters = BTreeMap::from([(1, "unused:0".to_string())]);
    let mut s = settings(1, &voters, dir.path(), 10_000);
    s.max_frame_bytes = 100 * 1024;
    let raft = MetaRaft::start(s, RecordingApplier::new(), Arc::new(EchoApp(1)))
        .await
        .unwrap();
    let err = raft.write(vec![b'x'; 40 * 1024]).await.unwrap_err();
    assert_eq!(
        err,
        WriteError::TooLarge {
            bytes: 40 * 1024 + 2,
            max: 36 * 1024
        }
    );
    raft.shutdown().await;
}

/// Start node `id` as a learner of `voters`, listening (and reached) at `addr`.
async fn start_learner(id: u64, voters: &BTreeMap<u64, String>, addr: &str, dir: &Path) -> Node {
    let mut s = RaftSettings::new(
        id,
        Some(addr.to_string()),
        voters.clone(),
        dir.join(format!("node-{id}")),
    );
    s.election_timeout_min_ms = 400;
    s.heartbeat_interval_ms = 100;
    s.write_timeout_ms = 3000;
    s.learner_addr = Some(addr.to_string());
    let applier = RecordingApplier::new();
    let raft = MetaRaft::start(s, applier.clone(), Arc::new(EchoApp(id)))
        .await
        .unwrap();
    Node { raft, applier }
}

#[tokio::test]
async fn a_learner_follows_the_log_and_the_leader_but_never_counts_for_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (voters, nodes) = start_cluster(3, dir.path(), 10_000).await;
    let all: Vec<&Node> = nodes.iter().collect();
    let leader = agreed_leader(&all, None).await;
    let first = by_id(&nodes, leader).raft.write(payload(0)).await.unwrap();

    let addr = free_addrs(1).remove(0);
    let learner = start_learner(4, &voters, &addr, dir.path()).await;
    assert!(learner.raft.is_learner());
    // It asks a voter, the leader adds it, and it gets what was written before it came.
    assert_eq!(agreed_leader(&[&learner], None).await, leader);
    assert_eq!(
        learner.applier.wait_applied(1).await,
        vec![(first, payload(0))]
    );
    assert!(by_id(&nodes, leader).raft.in_membership(4));
    assert!(!learner.raft.is_leader());
    // Its application requests reach the leader.
    let answer = learner
        .raft
        .call_app(leader, b"hi".to_vec(), WAIT)
        .await
        .unwrap();
    assert_eq!(answer, format!("{leader}:hi").into_bytes());

    // The leader stops: another voter is elected and the learner follows it.
    by_id(&nodes, leader).raft.shutdown().await;
    let rest: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.raft.node_id() != leader)
        .collect();
    let new = agreed_leader(&rest, Some(leader)).await;
    assert_eq!(agreed_leader(&[&learner], Some(leader)).await, new);
    let second = by_id(&nodes, new).raft.write(payload(1)).await.unwrap();
    assert_eq!(
        learner.applier.wait_applied(2).await,
        vec![(first, payload(0)), (second, payload(1))]
    );

    // With one voter left of three, nothing commits: the learner is no substitute.
    let other = rest.iter().find(|n| n.raft.node_id() != new).unwrap();
    other.raft.shutdown().await;
    let third = by_id(&nodes, new).raft.write(payload(2)).await;
    assert!(
        matches!(
            third,
            Err(WriteError::Timeout) | Err(WriteError::NotLeader { .. })
        ),
        "{third:?}"
    );
    assert_eq!(learner.applier.applied().len(), 2);
    assert!(!learner.raft.is_leader());
    by_id(&nodes, new).raft.shutdown().await;
    learner.raft.shutdown().await;
}
