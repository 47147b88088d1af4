//! Share groups (KIP-932) at the coordinator: which members the Outcome reports as gone
//! (their share sessions end and their records are released by the runtime at once): those
//! expired, not those leaving by heartbeat (their share sessions carry their last
//! acknowledgements and end them).

use std::sync::Arc;

use uuid::Uuid;

use super::*;
use crate::share::group::Heartbeat;

fn image() -> Arc<TopicsImage> {
    Arc::new(TopicsImage {
        by_name: [(
            "t".to_string(),
            TopicInfo {
                id: Uuid::from_bytes([1; 16]),
                partitions: 1,
                internal: false,
            },
        )]
        .into_iter()
        .collect(),
    })
}

fn hb(member: &str, epoch: i32) -> Request {
    Request::ShareHeartbeat(Box::new(ShareHeartbeatRequest {
        group_id: "sg".into(),
        heartbeat: Heartbeat {
            member_id: member.into(),
            member_epoch: epoch,
            rack_id: None,
            subscribed_topic_names: (epoch == 0).then(|| vec!["t".to_string()]),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
        },
        topics: image(),
    }))
}

fn left(out: &Outcome) -> Vec<(&str, &str)> {
    out.share_members_left
        .iter()
        .map(|(g, m)| (g.as_str(), m.as_str()))
        .collect()
}

#[test]
fn a_member_leaving_by_heartbeat_is_not_reported() {
    let mut h = Harness::new();
    let (_, out) = h.send(hb("a", 0));
    assert!(left(&out).is_empty());
    h.send(hb("b", 0));
    let (_, out) = h.send(hb("a", -1));
    assert!(left(&out).is_empty());
    let (_, out) = h.send(hb("nobody", -1));
    assert!(left(&out).is_empty());
}

#[test]
fn a_member_whose_session_expires_is_reported() {
    let mut h = Harness::new();
    h.send(hb("a", 0));
    h.advance(20_000);
    let (_, out) = h.send(hb("b", 0));
    assert!(left(&out).is_empty());
    // a's session (45 s) ends first; b heartbeats on and stays.
    h.advance(20_000);
    h.send(hb("b", 2));
    let outs = h.advance(10_000);
    let gone: Vec<(&str, &str)> = outs.iter().flat_map(left).collect();
    assert_eq!(gone, vec![("sg", "a")]);
}
