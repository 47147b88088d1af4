//! The removed admin and offset versions: ListOffsets v0, OffsetCommit v0–1, OffsetFetch v0,
//! CreateTopics v0–1, DeleteTopics v0, DescribeConfigs v0 (a module of legacy_versions.rs).

use super::*;

/// ListOffsets v0 of partition `p`: (error, offsets).
fn list_offsets_v0(c: &mut Client, topic: &str, p: i32, ts: i64, max: i32) -> (i16, Vec<i64>) {
    let body = W::default()
        .i32(-1)
        .i32(1)
        .str(topic)
        .i32(1)
        .i32(p)
        .i64(ts)
        .i32(max);
    let mut r = call_raw(c, 2, 0, &body.0);
    assert_eq!(r.i32(), 1);
    assert_eq!(r.str().as_deref(), Some(topic));
    assert_eq!(r.i32(), 1);
    assert_eq!(r.i32(), p);
    let err = r.i16();
    let n = r.i32();
    let offsets = (0..n).map(|_| r.i64()).collect();
    r.done();
    (err, offsets)
}

#[test]
fn list_offsets_v0_answers_the_old_offsets_list() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "lo", &[]);
    for i in 0..2 {
        let set = message(0, 1, 0, 1_000 * (i + 1), None, b"x");
        let set = [set.clone(), set.clone()].concat();
        assert_eq!(produce_legacy(&mut c, 2, "lo", &set).0, 0);
    }
    assert_eq!(list_offsets_v0(&mut c, "lo", 0, -1, 1), (0, vec![4]));
    assert_eq!(list_offsets_v0(&mut c, "lo", 0, -2, 1), (0, vec![0]));
    assert_eq!(list_offsets_v0(&mut c, "lo", 0, -1, 0), (0, vec![]));
    assert_eq!(list_offsets_v0(&mut c, "lo", 0, 2_000, 1), (0, vec![2]));
    assert_eq!(list_offsets_v0(&mut c, "lo", 0, 9_000, 1), (0, vec![4]));
    assert_eq!(list_offsets_v0(&mut c, "lo", 3, -1, 1), (3, vec![]));
    assert_eq!(list_offsets_v0(&mut c, "nope", 0, -1, 1), (3, vec![]));
}

/// OffsetCommit v0/v1 of one partition: its error.
fn commit(c: &mut Client, version: i16, group: &str, topic: &str, offset: i64, meta: &str) -> i16 {
    let mut body = W::default().str(group);
    if version >= 1 {
        body = body.i32(-1).str("");
    }
    body = body.i32(1).str(topic).i32(1).i32(0).i64(offset);
    if version >= 1 {
        body = body.i64(-1);
    }
    let body = body.str(meta);
    let mut r = call_raw(c, 8, version, &body.0);
    assert_eq!(r.i32(), 1);
    assert_eq!(r.str().as_deref(), Some(topic));
    assert_eq!(r.i32(), 1);
    assert_eq!(r.i32(), 0);
    let err = r.i16();
    r.done();
    err
}

/// OffsetFetch v0 of partition 0: (offset, metadata, error).
fn fetch_offset_v0(c: &mut Client, group: &str, topic: &str) -> (i64, Option<String>, i16) {
    let body = W::default().str(group).i32(1).str(topic).i32(1).i32(0);
    let mut r = call_raw(c, 9, 0, &body.0);
    assert_eq!(r.i32(), 1);
    assert_eq!(r.str().as_deref(), Some(topic));
    assert_eq!(r.i32(), 1);
    assert_eq!(r.i32(), 0);
    let out = (r.i64(), r.str(), r.i16());
    r.done();
    out
}

#[test]
fn offset_commit_v0_v1_and_offset_fetch_v0_share_the_group_store() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    create(&mut c, "oc", &[]);
    assert_eq!(
        fetch_offset_v0(&mut c, "g-old", "oc"),
        (-1, Some(String::new()), 0)
    );
    assert_eq!(commit(&mut c, 0, "g-old", "oc", 7, "m0"), 0);
    assert_eq!(
        fetch_offset_v0(&mut c, "g-old", "oc"),
        (7, Some("m0".into()), 0)
    );
    assert_eq!(commit(&mut c, 1, "g-old", "oc", 9, "m1"), 0);
    assert_eq!(
        fetch_offset_v0(&mut c, "g-old", "oc"),
        (9, Some("m1".into()), 0)
    );
    // The same offsets through the current API.
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g-old")))
        .with_topics(Some(vec![
            offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(name("oc"))
                .with_partition_indexes(vec![0]),
        ]));
    let r: OffsetFetchResponse = c.call(5, &req);
    assert_eq!(r.topics[0].partitions[0].committed_offset, 9);
}

#[test]
fn create_delete_and_describe_topics_at_v0() {
    let b = Broker::start(&[]);
    let mut c = b.client();
    // CreateTopics v0: name, partitions, replication factor, no assignments, one config.
    let topic = |w: W, n: &str, parts: i32| {
        w.str(n)
            .i32(parts)
            .i16(1)
            .i32(0)
            .i32(1)
            .str("retention.ms")
            .str("12345")
    };
    let body = topic(W::default().i32(2), "ct0", 2);
    let body = topic(body, "bad/name", 1).i32(5000);
    let mut r = call_raw(&mut c, 19, 0, &body.0);
    assert_eq!(r.i32(), 2);
    assert_eq!((r.str().as_deref(), r.i16()), (Some("ct0"), 0));
    assert_eq!((r.str().as_deref(), r.i16()), (Some("bad/name"), 17));
    r.done();
    // v1: validate_only, and error messages.
    let body = topic(W::default().i32(1), "ct0", 2).i32(5000).i8(1);
    let mut r = call_raw(&mut c, 19, 1, &body.0);
    assert_eq!(r.i32(), 1);
    assert_eq!((r.str().as_deref(), r.i16()), (Some("ct0"), 36));
    assert!(r.str().is_some(), "an error message");
    r.done();
    let body = topic(W::default().i32(1), "ct1", 3).i32(5000).i8(1);
    let mut r = call_raw(&mut c, 19, 1, &body.0);
    assert_eq!(r.i32(), 1);
    assert_eq!(
        (r.str().as_deref(), r.i16(), r.str()),
        (Some("ct1"), 0, None)
    );
    r.done();
    // validate_only created nothing; ct0 has 2 partitions.
    let m: MetadataResponse = c.call(1, &MetadataRequest::default().with_topics(None));
    let names: Vec<(String, usize)> = m
        .topics
        .iter()
        .filter(|t| !t.is_internal)
        .map(|t| (t.name.as_ref().unwrap().0.to_string(), t.partitions.len()))
        .collect();
    assert_eq!(names, vec![("ct0".to_string(), 2)]);

    // DescribeConfigs v0: one key; is_default is false for the topic override, true for a
    // default.
    let body = W::default()
        .i32(1)
        .i8(2)
        .str("ct0")
        .i32(2)
        .str("retention.ms")
        .str("cleanup.policy");
    let mut r = call_raw(&mut c, 32, 0, &body.0);
    assert_eq!(r.i32(), 0, "throttle");
    assert_eq!(r.i32(), 1);
    assert_eq!(
        (r.i16(), r.str(), r.i8(), r.str().as_deref()),
        (0, None, 2, Some("ct0"))
    );
    assert_eq!(r.i32(), 2);
    let mut entries = Vec::new();
    for _ in 0..2 {
        entries.push((r.str().unwrap(), r.str(), r.i8(), r.i8(), r.i8()));
    }
    r.done();
    entries.sort();
    assert_eq!(
        entries,
        vec![
            ("cleanup.policy".into(), Some("delete".into()), 0, 1, 0),
            ("retention.ms".into(), Some("12345".into()), 0, 0, 0),
        ]
    );

    // DeleteTopics v0: names, timeout; no throttle in the response.
    let body = W::default().i32(2).str("ct0").str("nope").i32(5000);
    let mut r = call_raw(&mut c, 20, 0, &body.0);
    assert_eq!(r.i32(), 2);
    let mut got = vec![(r.str().unwrap(), r.i16()), (r.str().unwrap(), r.i16())];
    got.sort();
    assert_eq!(got, vec![("ct0".into(), 0), ("nope".into(), 3)]);
    r.done();
}
