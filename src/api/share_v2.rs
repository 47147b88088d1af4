//! What ShareFetch and ShareAcknowledge v2 add (Kafka 4.2), checked in one place for both
//! handlers, as Kafka's KafkaApis checks it:
//!
//! - **RENEW** (acknowledge type 4, KIP-1222): the holder of a record keeps it with a new full
//!   acquisition lock (`crate::share::partition`). Only v2 knows the type: at v1 it is an
//!   unknown type. A request carrying RENEW sets `IsRenewAck`; a partition with a RENEW in a
//!   request without it, or with a type outside the version's range, is answered
//!   INVALID_REQUEST and none of its acknowledgements is applied. `IsRenewAck` with other
//!   types beside RENEW is fine (Kafka's client sends whatever is pending).
//! - **A renewing ShareFetch does not fetch**: with `IsRenewAck` it must ask for nothing
//!   (MaxWaitMs, MinBytes, MaxBytes and MaxRecords all 0, else INVALID_REQUEST for the whole
//!   request); it applies its acknowledgements and answers without records.
//! - **ShareAcquireMode** (KIP-1206): 0 = batch-optimized, 1 = record-limit (at most MaxRecords
//!   records, strictly); any other value is INVALID_REQUEST. skua acquires record by record and
//!   never goes past MaxRecords in either mode (Kafka's batch-optimized mode may, to end on a
//!   batch boundary), so both modes run the same code.

use super::share_fetch::AckBatches;
use crate::server::share_runtime::INVALID_REQUEST;

/// Acknowledge type RENEW (KIP-1222).
pub const RENEW: i8 = 4;

/// ShareFetch `ShareAcquireMode` (KIP-1206).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcquireMode {
    BatchOptimized = 0,
    RecordLimit = 1,
}

impl AcquireMode {
    pub fn from_id(id: i8) -> Option<AcquireMode> {
        match id {
            0 => Some(AcquireMode::BatchOptimized),
            1 => Some(AcquireMode::RecordLimit),
            _ => None,
        }
    }
}

/// The highest acknowledge type a request `version` may carry (REJECT before v2, RENEW from v2).
fn max_ack_type(version: i16) -> i8 {
    if version >= 2 {
        RENEW
    } else {
        3
    }
}

/// The acknowledgement types of one partition against the request: Some(INVALID_REQUEST) for
/// a type the version does not know, or a RENEW without `IsRenewAck`.
pub fn ack_types_error(version: i16, is_renew_ack: bool, acks: &AckBatches) -> Option<i16> {
    let max = max_ack_type(version);
    let bad = acks
        .iter()
        .flat_map(|(_, _, types)| types.iter())
        .any(|t| *t < 0 || *t > max || (*t == RENEW && !is_renew_ack));
    bad.then_some(INVALID_REQUEST)
}

/// The v2 fields of a ShareFetch: the acquire mode, or the request's INVALID_REQUEST message.
pub fn check_fetch(
    share_acquire_mode: i8,
    is_renew_ack: bool,
    max_wait_ms: i32,
    min_bytes: i32,
    max_bytes: i32,
    max_records: i32,
) -> Result<AcquireMode, &'static str> {
    let mode = AcquireMode::from_id(share_acquire_mode).ok_or("Unknown ShareAcquireMode.")?;
    if is_renew_ack && (max_wait_ms != 0 || min_bytes != 0 || max_bytes != 0 || max_records != 0) {
        return Err(
            "A ShareFetch with IsRenewAck fetches nothing: MaxWaitMs, MinBytes, MaxBytes and \
             MaxRecords must be 0.",
        );
    }
    Ok(mode)
}

#[cfg(test)]
#[path = "share_v2_tests.rs"]
mod tests;
