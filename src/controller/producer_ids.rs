//! Producer id blocks (Kafka's `ProducerIdControlManager`): a broker asks for a block of
//! [`BLOCK_SIZE`] ids; the controller hands out `[next, next + BLOCK_SIZE)` and records that
//! the next block starts after it, so no id is ever handed out twice, across controller
//! failovers included (the record is committed before the broker uses the block).

use super::errors::{ApiError, UNKNOWN_SERVER_ERROR};
use super::{Controller, ControllerResult};
use crate::cluster::image::MetadataImage;
pub use crate::cluster::producer_ids::BLOCK_SIZE;
use crate::cluster::records::MetadataRecord;

/// A block of producer ids handed to one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdBlock {
    pub broker_id: i32,
    pub first_producer_id: i64,
    pub size: i32,
}

impl Controller {
    /// AllocateProducerIds: the next block, for a broker of the current epoch
    /// (STALE_BROKER_EPOCH otherwise).
    pub fn allocate_producer_ids(
        &self,
        image: &MetadataImage,
        broker_id: i32,
        broker_epoch: i64,
    ) -> ControllerResult<Result<ProducerIdBlock, ApiError>> {
        if let Err(e) = Self::check_broker_epoch(image, broker_id, broker_epoch) {
            return ControllerResult::new(Vec::new(), Err(e));
        }
        let first = image.next_producer_id();
        let Some(next) = first.checked_add(BLOCK_SIZE) else {
            return ControllerResult::new(
                Vec::new(),
                Err(ApiError::new(
                    UNKNOWN_SERVER_ERROR,
                    "Exhausted all producerIds as the next block's end producerId has exceeded the int64 type limit",
                )),
            );
        };
        ControllerResult::new(
            vec![MetadataRecord::ProducerIds {
                broker_id,
                broker_epoch,
                next_producer_id: next,
            }],
            Ok(ProducerIdBlock {
                broker_id,
                first_producer_id: first,
                size: BLOCK_SIZE as i32,
            }),
        )
    }

    /// The record that carries a single-node data directory's producer id position
    /// (`meta/producer-id-block`) into the metadata log, if it is ahead of the log's.
    pub fn import_producer_ids(
        &self,
        image: &MetadataImage,
        next_producer_id: i64,
    ) -> Vec<MetadataRecord> {
        if next_producer_id <= image.next_producer_id() {
            return Vec::new();
        }
        vec![MetadataRecord::ProducerIds {
            broker_id: self.config.node_id,
            broker_epoch: -1,
            next_producer_id,
        }]
    }
}
