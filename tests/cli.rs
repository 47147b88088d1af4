//! The operator CLI end to end: one `skua` process is the broker, others are the CLI
//! (`skua topic|group|produce|consume`), and the tests assert their exact output and exit codes.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{free_port, Broker};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run the CLI against `addr` with `args`, feeding `stdin`.
fn skua_at(addr: &str, args: &[&str], stdin: &str) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skua"))
        .args(args)
        .arg("--bootstrap-server")
        .arg(addr)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run skua");
    {
        let mut input = child.stdin.take().expect("stdin");
        // The CLI may exit before reading its input (a dead broker): a broken pipe is fine.
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("wait skua");
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !o.stderr.contains("panicked"),
        "skua {args:?} panicked: {}",
        o.stderr
    );
    o
}

fn skua(b: &Broker, args: &[&str]) -> Out {
    skua_at(&b.addr(), args, "")
}

/// Run and require exit status 0; returns stdout.
fn ok(b: &Broker, args: &[&str]) -> String {
    let o = skua(b, args);
    assert_eq!(o.code, 0, "skua {args:?} failed: {}", o.stderr);
    o.stdout
}

fn produce(b: &Broker, args: &[&str], lines: &str) -> Out {
    let o = skua_at(&b.addr(), args, lines);
    assert_eq!(o.code, 0, "skua {args:?} failed: {}", o.stderr);
    o
}

#[test]
fn topic_create_list_describe_delete() {
    let b = Broker::start(&[]);
    assert_eq!(
        ok(&b, &["topic", "create", "orders", "--partitions", "3"]),
        "created topic orders\n"
    );
    assert_eq!(
        ok(&b, &["topic", "create", "audit", "--partitions", "1"]),
        "created topic audit\n"
    );
    assert_eq!(
        ok(&b, &["topic", "list"]),
        "TOPIC   PARTITIONS\naudit   1\norders  3\n"
    );
    assert_eq!(
        ok(&b, &["topic", "list", "--output", "json"]),
        "[{\"name\":\"audit\",\"partitions\":1},{\"name\":\"orders\",\"partitions\":3}]\n"
    );
    produce(&b, &["produce", "orders", "--partition", "1"], "a\nb\nc\n");
    assert_eq!(
        ok(&b, &["topic", "describe", "orders"]),
        "topic: orders\n\
         partitions: 3\n\
         replication factor: 1\n\
         configs: (none)\n\
         \n\
         PARTITION  LEADER  REPLICAS  ISR  LOG-START-OFFSET  LOG-END-OFFSET\n\
         0          1       1         1    0                 0\n\
         1          1       1         1    0                 3\n\
         2          1       1         1    0                 0\n"
    );
    assert_eq!(
        ok(&b, &["topic", "describe", "audit", "--output", "json"]),
        "{\"name\":\"audit\",\"replication_factor\":1,\"partitions\":[{\"partition\":0,\
         \"leader\":1,\"replicas\":[1],\"isr\":[1],\"log_start_offset\":0,\
         \"log_end_offset\":0}],\"configs\":{}}\n"
    );
    assert_eq!(
        ok(&b, &["topic", "delete", "orders"]),
        "deleted topic orders\n"
    );
    assert_eq!(ok(&b, &["topic", "list"]), "TOPIC  PARTITIONS\naudit  1\n");
    let o = skua(&b, &["topic", "describe", "orders"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    assert_eq!(o.stderr, "skua: topic orders: UNKNOWN_TOPIC_OR_PARTITION\n");
}

#[test]
fn create_existing_topic_fails_with_error_name() {
    let b = Broker::start(&[]);
    ok(&b, &["topic", "create", "dup"]);
    let o = skua(&b, &["topic", "create", "dup"]);
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    assert!(
        o.stderr
            .starts_with("skua: create topic dup: TOPIC_ALREADY_EXISTS"),
        "{}",
        o.stderr
    );
    let o = skua(&b, &["topic", "create", "bad/name"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("INVALID_TOPIC_EXCEPTION"), "{}", o.stderr);
    let o = skua(&b, &["topic", "delete", "nope"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("UNKNOWN_TOPIC_OR_PARTITION"),
        "{}",
        o.stderr
    );
    // Bad usage is clap's exit status 2.
    let o = skua(&b, &["group", "reset-offsets", "g", "--topic", "dup"]);
    assert_eq!(o.code, 2);
}

#[test]
fn bootstrap_server_takes_a_comma_separated_list() {
    let b = Broker::start(&[]);
    let dead = format!("127.0.0.1:{}", free_port());
    ok(&b, &["topic", "create", "listed", "--partitions", "2"]);
    // The first address is down: the next one answers, as with Kafka's tools.
    let o = skua_at(&format!("{dead},{}", b.addr()), &["topic", "list"], "");
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some("listed")),
        "{}",
        o.stdout
    );
    // Every address down: the error names the last one tried.
    let dead2 = format!("127.0.0.1:{}", free_port());
    let o = skua_at(&format!("{dead},{dead2}"), &["topic", "list"], "");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .starts_with(&format!("skua: cannot connect to broker {dead2}: ")),
        "{}",
        o.stderr
    );
}

#[test]
fn dead_broker_fails_with_clear_message() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    for args in [
        &["topic", "list"][..],
        &["topic", "create", "x"],
        &["group", "list"],
        &["cluster", "describe"],
        &["consume", "x", "--max-messages", "1"],
    ] {
        let o = skua_at(&addr, args, "");
        assert_eq!(o.code, 1, "{args:?}");
        assert_eq!(o.stdout, "");
        assert!(
            o.stderr
                .starts_with(&format!("skua: cannot connect to broker {addr}: ")),
            "{args:?}: {}",
            o.stderr
        );
    }
    let o = skua_at(&addr, &["produce", "x"], "a\nb\n");
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("cannot connect to broker"),
        "{}",
        o.stderr
    );
    let o = skua_at("no-such-host.invalid:9092", &["topic", "list"], "");
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("no-such-host.invalid"), "{}", o.stderr);
}

fn lines_with_keys(n: usize) -> String {
    (0..n).map(|i| format!("key-{i}|value {i}\n")).collect()
}

#[test]
fn produce_with_keys_and_headers_then_consume_json() {
    let b = Broker::start(&[]);
    ok(&b, &["topic", "create", "events", "--partitions", "1"]);
    let o = produce(
        &b,
        &[
            "produce",
            "events",
            "--key-separator",
            "|",
            "--header",
            "source=cli",
            "--header",
            "n=1",
        ],
        &lines_with_keys(100),
    );
    assert_eq!(o.stdout, "");
    assert!(
        o.stderr
            .starts_with("produced 100 records (1380 bytes) to events in "),
        "{}",
        o.stderr
    );
    let o = skua(
        &b,
        &[
            "consume",
            "events",
            "--from-beginning",
            "--exit-at-end",
            "--output",
            "json",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 100);
    for (i, line) in lines.iter().enumerate() {
        let head = format!("{{\"topic\":\"events\",\"partition\":0,\"offset\":{i},\"timestamp\":");
        let tail = format!(
            ",\"key\":\"key-{i}\",\"value\":\"value {i}\",\"headers\":{{\"source\":\"cli\",\"n\":\"1\"}}}}"
        );
        assert!(line.starts_with(&head), "{line}");
        assert!(line.ends_with(&tail), "{line}");
        let ts = &line[head.len()..line.len() - tail.len()];
        assert!(ts.parse::<i64>().is_ok_and(|t| t > 0), "{line}");
    }
    assert!(o.stderr.starts_with("consumed 100 records from events"));
    assert_eq!(
        ok(&b, &["topic", "describe", "events"]).lines().last(),
        Some("0          1       1         1    0                 100")
    );
}

#[test]
fn consume_max_messages_and_format() {
    let b = Broker::start(&[]);
    ok(&b, &["topic", "create", "logs", "--partitions", "1"]);
    produce(
        &b,
        &["produce", "logs", "--key-separator", "|", "--header", "h=v"],
        &lines_with_keys(20),
    );
    assert_eq!(
        ok(
            &b,
            &[
                "consume",
                "logs",
                "--from-beginning",
                "--max-messages",
                "3",
                "--format",
                "%p:%o %k=%v [%h]",
            ]
        ),
        "0:0 key-0=value 0 [h=v]\n0:1 key-1=value 1 [h=v]\n0:2 key-2=value 2 [h=v]\n"
    );
    // Default format is the value only; without --from-beginning it starts at the end and
    // --timeout-ms ends it.
    assert_eq!(
        ok(
            &b,
            &["consume", "logs", "--max-messages", "1", "--from-beginning"]
        ),
        "value 0\n"
    );
    assert_eq!(ok(&b, &["consume", "logs", "--timeout-ms", "300"]), "");
    // Keyed records land on Kafka's murmur2 partition.
    ok(&b, &["topic", "create", "keyed", "--partitions", "4"]);
    produce(
        &b,
        &["produce", "keyed", "--key-separator", "|"],
        "abc|1\nfoobar|2\n",
    );
    let p_abc = skua::protocol::partitioner::key_partition(b"abc", 4);
    let p_foo = skua::protocol::partitioner::key_partition(b"foobar", 4);
    let out = ok(
        &b,
        &[
            "consume",
            "keyed",
            "--from-beginning",
            "--exit-at-end",
            "--format",
            "%k %p",
        ],
    );
    let mut got: Vec<&str> = out.lines().collect();
    got.sort();
    assert_eq!(got, vec![format!("abc {p_abc}"), format!("foobar {p_foo}")]);
}

#[test]
fn group_reset_offsets_dry_run_then_execute_and_delete() {
    let b = Broker::start(&[]);
    ok(&b, &["topic", "create", "jobs", "--partitions", "2"]);
    produce(&b, &["produce", "jobs", "--partition", "0"], "a\nb\nc\nd\n");
    produce(&b, &["produce", "jobs", "--partition", "1"], "e\nf\n");
    let out = ok(
        &b,
        &[
            "consume",
            "jobs",
            "--group",
            "workers",
            "--from-beginning",
            "--exit-at-end",
        ],
    );
    assert_eq!(out.lines().count(), 6);
    let committed = "group: workers\n\
         type: classic\n\
         state: Empty\n\
         protocol type: -\n\
         protocol: -\n\
         members: 0\n\
         \n\
         TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID\n\
         jobs   0          4               4               0    -\n\
         jobs   1          2               2               0    -\n";
    assert_eq!(ok(&b, &["group", "describe", "workers"]), committed);
    assert_eq!(
        ok(&b, &["group", "list"]),
        "GROUP    TYPE     STATE  PROTOCOL-TYPE\nworkers  classic  Empty\n"
    );

    // Dry run: the plan, nothing committed.
    let o = skua(
        &b,
        &[
            "group",
            "reset-offsets",
            "workers",
            "--topic",
            "jobs",
            "--to-earliest",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET\n\
         jobs   0          4               0\n\
         jobs   1          2               0\n"
    );
    assert!(
        o.stderr.starts_with("dry run: nothing committed"),
        "{}",
        o.stderr
    );
    assert_eq!(ok(&b, &["group", "describe", "workers"]), committed);

    // Execute: visible through OffsetFetch in group describe.
    let o = skua(
        &b,
        &[
            "group",
            "reset-offsets",
            "workers",
            "--topic",
            "jobs",
            "--to-offset",
            "3",
            "--execute",
        ],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        o.stdout,
        "TOPIC  PARTITION  CURRENT-OFFSET  NEW-OFFSET\n\
         jobs   0          4               3\n\
         jobs   1          2               2\n"
    );
    assert_eq!(
        ok(&b, &["group", "describe", "workers", "--output", "json"]),
        "{\"group\":\"workers\",\"type\":\"classic\",\"state\":\"Empty\",\"protocol_type\":\"\",\"protocol\":\"\",\
         \"members\":[],\"offsets\":[\
         {\"topic\":\"jobs\",\"partition\":0,\"committed_offset\":3,\"log_end_offset\":4,\"lag\":1},\
         {\"topic\":\"jobs\",\"partition\":1,\"committed_offset\":2,\"log_end_offset\":2,\"lag\":0}]}\n"
    );
    // The group consumer resumes from the committed offsets.
    assert_eq!(
        ok(
            &b,
            &["consume", "jobs", "--group", "workers", "--exit-at-end"]
        ),
        "d\n"
    );
    ok(
        &b,
        &[
            "group",
            "reset-offsets",
            "workers",
            "--topic",
            "jobs",
            "--to-latest",
            "--execute",
        ],
    );

    assert_eq!(
        ok(&b, &["group", "delete", "workers"]),
        "deleted group workers\n"
    );
    assert_eq!(
        ok(&b, &["group", "list"]),
        "GROUP  TYPE  STATE  PROTOCOL-TYPE\n"
    );
    let o = skua(&b, &["group", "delete", "workers"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("GROUP_ID_NOT_FOUND"), "{}", o.stderr);
}

#[test]
fn alter_config_round_trip() {
    let b = Broker::start(&[]);
    ok(
        &b,
        &[
            "topic",
            "create",
            "cfg",
            "--config",
            "retention.bytes=1048576",
        ],
    );
    let configs = |b: &Broker| {
        ok(b, &["topic", "describe", "cfg"])
            .lines()
            .find(|l| l.starts_with("configs: "))
            .map(str::to_string)
    };
    assert_eq!(
        configs(&b).as_deref(),
        Some("configs: retention.bytes=1048576")
    );
    assert_eq!(
        ok(
            &b,
            &[
                "topic",
                "alter-config",
                "cfg",
                "--set",
                "retention.ms=60000",
                "--set",
                "max.message.bytes=2048"
            ]
        ),
        "altered config of topic cfg\n"
    );
    assert_eq!(
        configs(&b).as_deref(),
        Some("configs: max.message.bytes=2048, retention.bytes=1048576, retention.ms=60000")
    );
    ok(
        &b,
        &[
            "topic",
            "alter-config",
            "cfg",
            "--delete",
            "retention.bytes",
            "--delete",
            "retention.ms",
        ],
    );
    assert_eq!(
        configs(&b).as_deref(),
        Some("configs: max.message.bytes=2048")
    );
    let o = skua(
        &b,
        &["topic", "alter-config", "cfg", "--set", "retention.ms=abc"],
    );
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("INVALID_CONFIG"), "{}", o.stderr);
    let o = skua(&b, &["topic", "alter-config", "cfg"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("nothing to change"), "{}", o.stderr);
}

#[test]
fn cluster_describe_shows_the_single_node_as_broker_and_controller() {
    let b = Broker::start(&[]);
    ok(&b, &["topic", "create", "orders", "--partitions", "3"]);
    ok(
        &b,
        &[
            "topic",
            "create",
            "strict",
            "--config",
            "min.insync.replicas=2",
        ],
    );
    let described = b.client().call(
        0,
        &kafka_protocol::messages::DescribeClusterRequest::default(),
    );
    assert_eq!(described.error_code, 0);
    let cluster_id = described.cluster_id.as_str().to_string();
    assert!(!cluster_id.is_empty());
    let addr = b.addr();
    let w = addr.len().max("HOST:PORT".len());
    // One broker, its own controller; one partition under min ISR (ISR [1] < 2), none
    // under-replicated or offline. Partitions: 3 + 1 of the topics above, and the 50 + 50 of
    // __consumer_offsets and __transaction_state (both created at start).
    assert_eq!(
        ok(&b, &["cluster", "describe"]),
        format!(
            "cluster id: {cluster_id}\n\
             controller: 1\n\
             partitions: 104\n\
             under-replicated partitions: 0\n\
             under-min-isr partitions: 1\n\
             offline partitions: 0\n\
             \n\
             BROKER  {:<w$}  RACK  STATUS\n\
             1       {:<w$}  -     active\n\
             \n\
             TOPIC   PARTITION  LEADER  REPLICAS  ISR  MIN-ISR  STATUS\n\
             strict  0          1       1         1    2        under-min-isr\n",
            "HOST:PORT", addr
        )
    );
    assert_eq!(
        ok(&b, &["cluster", "describe", "--output", "json"]),
        format!(
            "{{\"cluster_id\":\"{cluster_id}\",\"controller\":1,\"brokers\":[\
             {{\"id\":1,\"host\":\"127.0.0.1\",\"port\":{},\"rack\":null,\"fenced\":false}}],\
             \"partitions\":104,\"under_replicated\":[],\"under_min_isr\":[\
             {{\"topic\":\"strict\",\"partition\":0,\"leader\":1,\"replicas\":[1],\"isr\":[1],\
             \"min_isr\":2}}],\"offline\":[]}}\n",
            b.port
        )
    );
}

#[test]
fn serve_subcommand_still_runs_the_broker() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_skua"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let out = loop {
        let o = skua_at(&addr, &["topic", "list"], "");
        if o.code == 0 || std::time::Instant::now() > deadline {
            break o;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "TOPIC  PARTITIONS\n");
}

#[test]
fn group_with_members_shows_assignment_and_refuses_reset() {
    use bytes::{BufMut, Bytes, BytesMut};
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
    use kafka_protocol::messages::{
        ConsumerProtocolAssignment, GroupId, JoinGroupRequest, SyncGroupRequest, TopicName,
    };
    use kafka_protocol::protocol::{Encodable, StrBytes};

    let b = Broker::start(&["group.initial.rebalance.delay.ms=0"]);
    ok(&b, &["topic", "create", "jobs", "--partitions", "2"]);
    produce(&b, &["produce", "jobs", "--partition", "1"], "x\ny\n");
    let s = |x: &str| StrBytes::from_string(x.to_string());
    let mut c = b.client();
    let mut join = JoinGroupRequest::default();
    join.group_id = GroupId(s("busy"));
    join.session_timeout_ms = 30_000;
    join.rebalance_timeout_ms = 30_000;
    join.protocol_type = s("consumer");
    let mut proto = JoinGroupRequestProtocol::default();
    proto.name = s("range");
    proto.metadata = Bytes::from_static(b"\0\0\0\0\0\0\xff\xff\xff\xff");
    join.protocols = vec![proto];
    let joined = c.call(3, &join);
    assert_eq!(joined.error_code, 0);
    let member = joined.member_id.as_str().to_string();
    let mut asg = ConsumerProtocolAssignment::default();
    let mut tp = TopicPartition::default();
    tp.topic = TopicName(s("jobs"));
    tp.partitions = vec![0, 1];
    asg.assigned_partitions = vec![tp];
    let mut bytes = BytesMut::new();
    bytes.put_i16(0);
    asg.encode(&mut bytes, 0).unwrap();
    let mut sync = SyncGroupRequest::default();
    sync.group_id = GroupId(s("busy"));
    sync.generation_id = joined.generation_id;
    sync.member_id = s(&member);
    let mut a = SyncGroupRequestAssignment::default();
    a.member_id = s(&member);
    a.assignment = bytes.freeze();
    sync.assignments = vec![a];
    assert_eq!(c.call(3, &sync).error_code, 0);
    // The member commits with its generation, as a real consumer does.
    let mut commit = kafka_protocol::messages::OffsetCommitRequest::default();
    commit.group_id = GroupId(s("busy"));
    commit.generation_id_or_member_epoch = joined.generation_id;
    commit.member_id = s(&member);
    commit.retention_time_ms = -1;
    let mut t =
        kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic::default();
    t.name = TopicName(s("jobs"));
    let mut p =
        kafka_protocol::messages::offset_commit_request::OffsetCommitRequestPartition::default();
    p.partition_index = 1;
    p.committed_offset = 1;
    t.partitions = vec![p];
    commit.topics = vec![t];
    let r = c.call(3, &commit);
    assert_eq!(r.topics[0].partitions[0].error_code, 0);

    let w = member.len().max("MEMBER-ID".len());
    let pad = |x: &str, w: usize| format!("{x:<w$}");
    assert_eq!(
        ok(&b, &["group", "describe", "busy"]),
        format!(
            "group: busy\n\
             type: classic\n\
             state: Stable\n\
             protocol type: consumer\n\
             protocol: range\n\
             members: 1\n\
             \n\
             {}  CLIENT-ID  HOST        ASSIGNMENT\n\
             {}  skua-test  /127.0.0.1  jobs:0,1\n\
             \n\
             TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID\n\
             jobs   1          1               2               1    {member}\n",
            pad("MEMBER-ID", w),
            pad(&member, w)
        )
    );
    let o = skua(
        &b,
        &[
            "group",
            "reset-offsets",
            "busy",
            "--topic",
            "jobs",
            "--to-earliest",
            "--execute",
        ],
    );
    assert_eq!(o.code, 1);
    assert_eq!(o.stdout, "");
    assert!(
        o.stderr
            .starts_with("skua: group busy has 1 active member(s) (state Stable)"),
        "{}",
        o.stderr
    );
    // A simple commit (what consume --group does) is refused too, with Kafka's error.
    let o = skua(&b, &["consume", "jobs", "--group", "busy", "--exit-at-end"]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("commit offset of group busy"),
        "{}",
        o.stderr
    );
    let o = skua(&b, &["group", "delete", "busy"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("NON_EMPTY_GROUP"), "{}", o.stderr);
}

#[test]
fn consumer_groups_are_listed_with_their_type_described_and_deleted() {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::{
        ConsumerGroupHeartbeatRequest, GroupId, OffsetCommitRequest, TopicName,
    };
    use kafka_protocol::protocol::StrBytes;

    let b = Broker::start(&["group.initial.rebalance.delay.ms=0"]);
    ok(&b, &["topic", "create", "jobs", "--partitions", "2"]);
    produce(&b, &["produce", "jobs", "--partition", "1"], "x\ny\n");
    let s = |x: &str| StrBytes::from_string(x.to_string());
    let mut c = b.client();
    // A KIP-848 member joins: epoch 1, both partitions.
    let join = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("cg")))
        .with_member_id(s("m1"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(5000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("jobs"))]))
        .with_topic_partitions(Some(vec![]));
    let r = c.call(1, &join);
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    // It commits with its member epoch (OffsetCommit v9).
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("cg")))
        .with_generation_id_or_member_epoch(1)
        .with_member_id(s("m1"))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("jobs")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(1)
                .with_committed_offset(1)])]);
    let r = c.call(9, &commit);
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    // A classic (simple) group beside it.
    produce(
        &b,
        &[
            "consume",
            "jobs",
            "--group",
            "old",
            "--from-beginning",
            "--exit-at-end",
        ],
        "",
    );
    assert_eq!(
        ok(&b, &["group", "list"]),
        "GROUP  TYPE      STATE   PROTOCOL-TYPE\n\
         cg     consumer  Stable  consumer\n\
         old    classic   Empty\n"
    );
    assert_eq!(
        ok(&b, &["group", "describe", "cg"]),
        "group: cg\n\
         type: consumer\n\
         state: Stable\n\
         group epoch: 1\n\
         assignment epoch: 1\n\
         assignor: uniform\n\
         members: 1\n\
         \n\
         MEMBER-ID  EPOCH  CLIENT-ID  HOST        SUBSCRIPTION  ASSIGNMENT  TARGET\n\
         m1         1      skua-test  /127.0.0.1  jobs          jobs:0,1    jobs:0,1\n\
         \n\
         TOPIC  PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID\n\
         jobs   1          1               2               1    m1\n"
    );
    assert_eq!(
        ok(&b, &["group", "describe", "cg", "--output", "json"]),
        "{\"group\":\"cg\",\"type\":\"consumer\",\"state\":\"Stable\",\"group_epoch\":1,\
         \"assignment_epoch\":1,\"assignor\":\"uniform\",\"members\":[{\"member_id\":\"m1\",\
         \"member_epoch\":1,\"client_id\":\"skua-test\",\"host\":\"/127.0.0.1\",\
         \"subscription\":[\"jobs\"],\"assignment\":[{\"topic\":\"jobs\",\"partitions\":[0,1]}],\
         \"target_assignment\":[{\"topic\":\"jobs\",\"partitions\":[0,1]}]}],\
         \"offsets\":[{\"topic\":\"jobs\",\"partition\":1,\"committed_offset\":1,\
         \"log_end_offset\":2,\"lag\":1}]}\n"
    );
    // Not while it has a member.
    let o = skua(&b, &["group", "delete", "cg"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("NON_EMPTY_GROUP"), "{}", o.stderr);
    // The member leaves: the group is Empty (epoch 2), then deleted with its offsets.
    let leave = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("cg")))
        .with_member_id(s("m1"))
        .with_member_epoch(-1);
    assert_eq!(c.call(1, &leave).error_code, 0);
    let described = ok(&b, &["group", "describe", "cg"]);
    assert!(
        described.starts_with(
            "group: cg\ntype: consumer\nstate: Empty\ngroup epoch: 2\nassignment epoch: 1\n"
        ),
        "{described}"
    );
    assert_eq!(ok(&b, &["group", "delete", "cg"]), "deleted group cg\n");
    assert_eq!(
        ok(&b, &["group", "list"]),
        "GROUP  TYPE     STATE  PROTOCOL-TYPE\nold    classic  Empty\n"
    );
}
