use super::*;
use crate::controller::errors::*;

#[test]
fn brokers_get_consecutive_blocks_of_a_thousand_ids() {
    let mut c = Cluster::new();
    c.start(&[1, 2]);
    let (e1, e2) = (c.epoch(1), c.epoch(2));
    let r = c.c.allocate_producer_ids(&c.image, 1, e1);
    assert_eq!(
        r.records,
        vec![MetadataRecord::ProducerIds {
            broker_id: 1,
            broker_epoch: e1,
            next_producer_id: 1000
        }]
    );
    assert_eq!(
        r.response,
        Ok(ProducerIdBlock {
            broker_id: 1,
            first_producer_id: 0,
            size: 1000
        })
    );
    c.commit(&r.records);
    let r = c.c.allocate_producer_ids(&c.image, 2, e2);
    assert_eq!(r.response.unwrap().first_producer_id, 1000);
    c.commit(&r.records);
    assert_eq!(c.image.next_producer_id(), 2000);
    // A snapshot keeps the position.
    let restored = MetadataImage::from_snapshot(&c.image.to_snapshot()).unwrap();
    let r = c.c.allocate_producer_ids(&restored, 1, e1);
    assert_eq!(r.response.unwrap().first_producer_id, 2000);
}

#[test]
fn a_stale_broker_epoch_gets_no_block() {
    let mut c = Cluster::new();
    c.start(&[1]);
    let r = c.c.allocate_producer_ids(&c.image, 1, c.epoch(1) + 1);
    assert_eq!(r.records, vec![]);
    assert_eq!(r.response.unwrap_err().code, STALE_BROKER_EPOCH);
    let r = c.c.allocate_producer_ids(&c.image, 7, 1);
    assert_eq!(r.response.unwrap_err().code, STALE_BROKER_EPOCH);
}

#[test]
fn a_single_node_producer_id_position_is_imported_once() {
    let mut c = Cluster::new();
    let records = c.c.import_producer_ids(&c.image, 5000);
    assert_eq!(
        records,
        vec![MetadataRecord::ProducerIds {
            broker_id: 1,
            broker_epoch: -1,
            next_producer_id: 5000
        }]
    );
    c.commit(&records);
    assert_eq!(c.c.import_producer_ids(&c.image, 5000), vec![]);
    assert_eq!(c.c.import_producer_ids(&c.image, 0), vec![]);
    c.start(&[1]);
    let r = c.c.allocate_producer_ids(&c.image, 1, c.epoch(1));
    assert_eq!(r.response.unwrap().first_producer_id, 5000);
}
