use super::*;
use crate::controller::errors::*;

fn hb(id: i32, epoch: i64, offset: u64) -> HeartbeatRequest {
    HeartbeatRequest {
        broker_id: id,
        broker_epoch: epoch,
        current_metadata_offset: offset,
        want_fence: false,
        want_shutdown: false,
    }
}

const FENCED: HeartbeatReply = HeartbeatReply {
    is_caught_up: false,
    is_fenced: true,
    in_controlled_shutdown: false,
    should_shutdown: false,
};

#[test]
fn a_new_broker_registers_fenced_and_is_unfenced_once_caught_up() {
    let mut c = Cluster::new();
    let req = c.registration(1, Some("r1"));
    let r = c.c.register_broker(&c.image, &req, c.now);
    assert_eq!(
        r.records,
        vec![MetadataRecord::RegisterBroker {
            broker_id: 1,
            incarnation_id: req.incarnation_id,
            listeners: vec![endpoint(1)],
            rack: Some("r1".into()),
        }]
    );
    assert_eq!(r.response, Ok(RegistrationReply { broker_epoch: None }));
    let epoch = c.commit(&r.records) as i64;
    assert_eq!(epoch, 2);
    assert!(c.image.broker(1).unwrap().fenced);

    // Not yet caught up with its own registration: stays fenced.
    let r = c.c.heartbeat(&c.image, &hb(1, epoch, 1), c.now);
    assert_eq!(r.records, vec![]);
    assert_eq!(r.response, Ok(FENCED));

    let r = c.c.heartbeat(&c.image, &hb(1, epoch, 2), c.now);
    assert_eq!(
        r.records,
        vec![MetadataRecord::UnfenceBroker {
            broker_id: 1,
            broker_epoch: 2
        }]
    );
    assert_eq!(
        r.response,
        Ok(HeartbeatReply {
            is_caught_up: true,
            is_fenced: false,
            in_controlled_shutdown: false,
            should_shutdown: false
        })
    );
    c.commit(&r.records);
    assert!(c.image.is_live(1));
    // Later heartbeats change nothing.
    let r = c.c.heartbeat(&c.image, &hb(1, epoch, 3), c.now);
    assert_eq!(r.records, vec![]);
    assert!(!r.response.unwrap().is_fenced);
}

#[test]
fn registering_the_same_incarnation_again_changes_nothing() {
    let mut c = Cluster::new();
    let req = c.registration(1, None);
    let r = c.c.register_broker(&c.image, &req, c.now);
    let epoch = c.commit(&r.records) as i64;
    let again = c.c.register_broker(&c.image, &req, c.now + 1);
    assert_eq!(again.records, vec![]);
    assert_eq!(
        again.response,
        Ok(RegistrationReply {
            broker_epoch: Some(epoch)
        })
    );
}

#[test]
fn a_registration_from_another_cluster_is_refused() {
    let c = Cluster::new();
    let mut ctl = Controller::new(config(), 1);
    let mut req = BrokerRegistrationRequest {
        broker_id: 1,
        cluster_id: Some("other".into()),
        incarnation_id: Uuid::from_u128(1),
        listeners: vec![],
        rack: None,
    };
    let r = ctl.register_broker(&c.image, &req, c.now);
    assert_eq!(r.records, vec![]);
    assert_eq!(
        r.response,
        Err(ApiError::new(
            INCONSISTENT_CLUSTER_ID,
            "Expected cluster ID test-cluster, but got cluster ID other"
        ))
    );
    req.cluster_id = None;
    assert!(ctl.register_broker(&c.image, &req, c.now).response.is_ok());
}

#[test]
fn a_new_incarnation_is_refused_while_the_old_one_has_a_live_session() {
    let mut c = Cluster::new();
    c.start(&[1]);
    let req = c.registration(1, None);
    let r = c.c.register_broker(&c.image, &req, c.now + TIMEOUT);
    assert_eq!(r.records, vec![]);
    assert_eq!(
        r.response,
        Err(ApiError::new(
            DUPLICATE_BROKER_REGISTRATION,
            "Another broker is registered with that broker id."
        ))
    );
}

#[test]
fn a_new_incarnation_after_the_session_expired_fences_the_old_one_and_replaces_it() {
    let mut c = Cluster::new();
    c.start(&[1]);
    let old_epoch = c.epoch(1);
    let t = c.create("t", &[&[1]]);
    c.advance(TIMEOUT + 1);
    // The controller has not ticked yet: the old registration is still unfenced.
    let req = c.registration(1, None);
    let r = c.c.register_broker(&c.image, &req, c.now);
    assert_eq!(
        r.records,
        vec![
            pc(t, 0).leader(-1).build(),
            MetadataRecord::FenceBroker {
                broker_id: 1,
                broker_epoch: old_epoch
            },
            MetadataRecord::RegisterBroker {
                broker_id: 1,
                incarnation_id: req.incarnation_id,
                listeners: vec![endpoint(1)],
                rack: None,
            },
        ]
    );
    let epoch = c.commit(&r.records) as i64;
    assert_eq!(c.epoch(1), epoch);
    assert!(c.image.broker(1).unwrap().fenced);
    assert_eq!(summary(&c.part("t", 0)), (-1, 1, 1, vec![1]));
    // Caught up, the new incarnation is unfenced and leads its partition again.
    let r = c.c.heartbeat(&c.image, &hb(1, epoch, epoch as u64), c.now);
    assert_eq!(
        r.records,
        vec![
            MetadataRecord::UnfenceBroker {
                broker_id: 1,
                broker_epoch: epoch
            },
            pc(t, 0).leader(1).build(),
        ]
    );
    c.commit(&r.records);
    assert_eq!(summary(&c.part("t", 0)), (1, 2, 2, vec![1]));
}

#[test]
fn a_heartbeat_with_a_stale_or_unknown_epoch_is_refused() {
    let mut c = Cluster::new();
    c.start(&[1]);
    let epoch = c.epoch(1);
    let r = c.c.heartbeat(&c.image, &hb(1, epoch - 1, 10), c.now);
    assert_eq!(r.records, vec![]);
    assert_eq!(
        r.response,
        Err(ApiError::new(
            STALE_BROKER_EPOCH,
            format!(
                "Expected broker epoch {epoch}, but got broker epoch {}",
                epoch - 1
            )
        ))
    );
    let r = c.c.heartbeat(&c.image, &hb(9, 1, 10), c.now);
    assert_eq!(
        r.response,
        Err(ApiError::new(
            STALE_BROKER_EPOCH,
            "No broker registration found for broker id 9"
        ))
    );
}

#[test]
fn an_expired_session_fences_the_broker_moves_its_leaderships_and_shrinks_isrs() {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    let e1 = c.epoch(1);
    let t = c.create("t", &[&[1, 2, 3], &[2, 3, 1]]);
    c.advance(TIMEOUT);
    c.heartbeat_all_but(&[1]);
    // Exactly at the timeout the session is still valid.
    assert_eq!(c.tick(), vec![]);
    c.advance(1);
    assert_eq!(
        c.tick(),
        vec![
            pc(t, 0).leader(2).isr(&[2, 3]).build(),
            pc(t, 1).isr(&[2, 3]).build(),
            MetadataRecord::FenceBroker {
                broker_id: 1,
                broker_epoch: e1
            },
        ]
    );
    assert!(!c.image.is_live(1));
    assert_eq!(summary(&c.part("t", 0)), (2, 1, 1, vec![2, 3]));
    assert_eq!(summary(&c.part("t", 1)), (2, 0, 1, vec![2, 3]));
    // Nothing more to do.
    assert_eq!(c.tick(), vec![]);
}

#[test]
fn the_isr_never_becomes_empty_and_its_last_member_leads_again_when_it_returns() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    let t = c.create("t", &[&[1, 2]]);
    c.advance(TIMEOUT + 1);
    c.heartbeat(1);
    let e2 = c.epoch(2);
    assert_eq!(
        c.tick(),
        vec![
            pc(t, 0).isr(&[1]).build(),
            MetadataRecord::FenceBroker {
                broker_id: 2,
                broker_epoch: e2
            }
        ]
    );
    c.advance(TIMEOUT + 1);
    let e1 = c.epoch(1);
    // The last ISR member goes: the partition is offline, its ISR stays [1].
    assert_eq!(
        c.tick(),
        vec![
            pc(t, 0).leader(-1).build(),
            MetadataRecord::FenceBroker {
                broker_id: 1,
                broker_epoch: e1
            }
        ]
    );
    assert_eq!(summary(&c.part("t", 0)), (-1, 1, 2, vec![1]));
    // Broker 2 (out of sync) returns: no clean leader, unclean election is off.
    let e2 = c.register(2, None);
    c.heartbeat(2);
    assert!(c.image.is_live(2));
    assert_eq!(summary(&c.part("t", 0)), (-1, 1, 2, vec![1]));
    assert_eq!(c.tick(), vec![]);
    // Broker 1 returns and leads again, under a new leader epoch.
    let e1 = c.register(1, None);
    let r = c.c.heartbeat(&c.image, &hb(1, e1, e1 as u64), c.now);
    assert_eq!(
        r.records,
        vec![
            MetadataRecord::UnfenceBroker {
                broker_id: 1,
                broker_epoch: e1
            },
            pc(t, 0).leader(1).build()
        ]
    );
    c.commit(&r.records);
    assert_eq!(summary(&c.part("t", 0)), (1, 2, 3, vec![1]));
    assert!(e2 < e1);
}

#[test]
fn a_controlled_shutdown_moves_leaderships_away_then_lets_the_broker_go() {
    let mut c = Cluster::new();
    c.start(&[1, 2, 3]);
    let t = c.create("t", &[&[1, 2, 3], &[2, 1, 3]]);
    let req = HeartbeatRequest {
        want_shutdown: true,
        ..hb(1, c.epoch(1), c.image.last_applied_index())
    };
    let r = c.c.heartbeat(&c.image, &req, c.now);
    assert_eq!(
        r.records,
        vec![
            pc(t, 0).leader(2).isr(&[2, 3]).build(),
            pc(t, 1).isr(&[2, 3]).build(),
        ]
    );
    assert_eq!(
        r.response,
        Ok(HeartbeatReply {
            is_caught_up: true,
            is_fenced: false,
            in_controlled_shutdown: true,
            should_shutdown: false
        })
    );
    c.commit(&r.records);
    assert!(!c.c.is_active(&c.image, 1));
    assert!(c.image.is_live(1));
    // The other brokers have not seen the new leaders yet: keep waiting.
    let reply = c.heartbeat_with(1, true);
    assert!(reply.in_controlled_shutdown && !reply.should_shutdown);
    c.heartbeat(2);
    c.heartbeat(3);
    let e1 = c.epoch(1);
    let req = HeartbeatRequest {
        want_shutdown: true,
        ..hb(1, e1, c.image.last_applied_index())
    };
    let r = c.c.heartbeat(&c.image, &req, c.now);
    assert_eq!(
        r.records,
        vec![MetadataRecord::FenceBroker {
            broker_id: 1,
            broker_epoch: e1
        }]
    );
    assert_eq!(
        r.response,
        Ok(HeartbeatReply {
            is_caught_up: true,
            is_fenced: true,
            in_controlled_shutdown: false,
            should_shutdown: true
        })
    );
    c.commit(&r.records);
    assert_eq!(summary(&c.part("t", 0)), (2, 1, 1, vec![2, 3]));
}

#[test]
fn a_broker_leading_nothing_may_shut_down_at_once() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    let t = c.create("t", &[&[2, 1]]);
    let e1 = c.epoch(1);
    let req = HeartbeatRequest {
        want_shutdown: true,
        ..hb(1, e1, c.image.last_applied_index())
    };
    let r = c.c.heartbeat(&c.image, &req, c.now);
    assert_eq!(
        r.records,
        vec![
            pc(t, 0).isr(&[2]).build(),
            MetadataRecord::FenceBroker {
                broker_id: 1,
                broker_epoch: e1
            }
        ]
    );
    assert!(r.response.unwrap().should_shutdown);
    // A fenced broker asking to shut down is told to at once, with nothing to write.
    c.register(3, None);
    let req = HeartbeatRequest {
        want_shutdown: true,
        ..hb(3, c.epoch(3), 0)
    };
    let r = c.c.heartbeat(&c.image, &req, c.now);
    assert_eq!(r.records, vec![]);
    assert!(r.response.unwrap().should_shutdown);
}

#[test]
fn a_broker_asking_to_be_fenced_is_fenced() {
    let mut c = Cluster::new();
    c.start(&[1]);
    let e1 = c.epoch(1);
    let req = HeartbeatRequest {
        want_fence: true,
        ..hb(1, e1, c.image.last_applied_index())
    };
    let r = c.c.heartbeat(&c.image, &req, c.now);
    assert_eq!(
        r.records,
        vec![MetadataRecord::FenceBroker {
            broker_id: 1,
            broker_epoch: e1
        }]
    );
    assert!(r.response.unwrap().is_fenced);
}

#[test]
fn a_new_active_controller_starts_every_session_afresh() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    // Long after the last heartbeats, another controller takes over.
    c.advance(10 * TIMEOUT);
    let mut fresh = Controller::new(config(), 7);
    assert_eq!(fresh.tick(&c.image, c.now), vec![]);
    let (e1, e2) = (c.epoch(1), c.epoch(2));
    assert_eq!(fresh.tick(&c.image, c.now + TIMEOUT), vec![]);
    assert_eq!(
        fresh.tick(&c.image, c.now + TIMEOUT + 1),
        vec![
            MetadataRecord::FenceBroker {
                broker_id: 1,
                broker_epoch: e1
            },
            MetadataRecord::FenceBroker {
                broker_id: 2,
                broker_epoch: e2
            }
        ]
    );
}

#[test]
fn unregistering_a_broker_removes_it_from_isrs_first() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    let t = c.create("t", &[&[1, 2]]);
    let e1 = c.epoch(1);
    let r = c.c.unregister_broker(&c.image, 1);
    assert_eq!(
        r.records,
        vec![
            pc(t, 0).leader(2).isr(&[2]).build(),
            MetadataRecord::UnregisterBroker {
                broker_id: 1,
                broker_epoch: e1
            }
        ]
    );
    c.commit(&r.records);
    assert!(c.image.broker(1).is_none());
    let r = c.c.unregister_broker(&c.image, 1);
    assert_eq!(
        r.response,
        Err(ApiError::new(
            BROKER_ID_NOT_REGISTERED,
            "Broker ID 1 is not currently registered"
        ))
    );
}
