//! DescribeTransactions, ListTransactions (state, producer id and duration filters, KIP-664
//! and KIP-994) and the expiry of idle transactional ids (tombstones).

use super::errors::*;
use super::state::TxnState;
use super::types::{DescribedTxn, Outcome, PartitionsUpdate, Response};
use super::TransactionCoordinator;

impl TransactionCoordinator {
    pub(super) fn describe(&self, transactional_ids: &[String]) -> Response {
        let transactions = transactional_ids
            .iter()
            .map(|tid| {
                if tid.is_empty() {
                    return DescribedTxn::error(tid, INVALID_REQUEST);
                }
                match self.txns.get(tid) {
                    Some(m) if m.state != TxnState::Dead => DescribedTxn {
                        transactional_id: tid.clone(),
                        error: NONE,
                        state: m.state.name().to_string(),
                        timeout_ms: m.timeout_ms,
                        start_timestamp_ms: m.start_timestamp_ms,
                        producer_id: m.producer_id,
                        producer_epoch: m.producer_epoch,
                        partitions: m.partition_list(),
                    },
                    _ => DescribedTxn::error(tid, TRANSACTIONAL_ID_NOT_FOUND),
                }
            })
            .collect();
        Response::Describe { transactions }
    }

    /// Kafka's listTransactionStates: unknown state names are reported and match nothing;
    /// a duration filter ≥ 0 keeps transactions with `now - start > duration` (as in Kafka,
    /// that includes ids that never started one, whose start is -1). A transactional id
    /// pattern (v2, KIP-1152) must match the whole id (Kafka's `Matcher.matches`); an invalid
    /// one (or one that compiles beyond [`MAX_PATTERN_BYTES`]) is INVALID_REGULAR_EXPRESSION
    /// with nothing listed.
    pub(super) fn list(
        &self,
        now_ms: i64,
        state_filters: &[String],
        producer_id_filters: &[i64],
        duration_filter_ms: i64,
        transactional_id_pattern: Option<&str>,
    ) -> Response {
        let pattern = match transactional_id_pattern.filter(|p| !p.is_empty()) {
            None => None,
            Some(p) => match regex::RegexBuilder::new(&format!("^(?:{p})$"))
                .size_limit(MAX_PATTERN_BYTES)
                .build()
            {
                Ok(r) => Some(r),
                Err(_) => {
                    return Response::List {
                        error: INVALID_REGULAR_EXPRESSION,
                        unknown_state_filters: Vec::new(),
                        transactions: Vec::new(),
                    }
                }
            },
        };
        let mut unknown_state_filters = Vec::new();
        let mut states = Vec::new();
        for name in state_filters {
            match TxnState::from_name(name) {
                Some(s) => states.push(s),
                None => unknown_state_filters.push(name.clone()),
            }
        }
        let transactions = self
            .txns
            .iter()
            .filter(|(_, m)| {
                m.state != TxnState::Dead
                    && (producer_id_filters.is_empty()
                        || producer_id_filters.contains(&m.producer_id))
                    && (state_filters.is_empty() || states.contains(&m.state))
                    && (duration_filter_ms < 0
                        || now_ms.saturating_sub(m.start_timestamp_ms) > duration_filter_ms)
            })
            .filter(|(tid, _)| pattern.as_ref().is_none_or(|r| r.is_match(tid)))
            .map(|(tid, m)| (tid.clone(), m.producer_id, m.state.name().to_string()))
            .collect();
        Response::List {
            error: NONE,
            unknown_state_filters,
            transactions,
        }
    }

    /// Kafka's removeExpiredTransactionalIds: ids with no transaction open or completing and
    /// no update for `transactional_id_expiration_ms` are removed with a tombstone.
    pub(super) fn expire_transactional_ids(&mut self, now_ms: i64, out: &mut Outcome) {
        let cutoff = now_ms.saturating_sub(self.config.transactional_id_expiration_ms);
        let expired: Vec<(String, i64)> = self
            .txns
            .iter()
            .filter(|(_, m)| m.state.is_idle() && m.last_update_timestamp_ms <= cutoff)
            .map(|(tid, m)| (tid.clone(), m.producer_id))
            .collect();
        for (tid, producer_id) in expired {
            self.tombstone(now_ms, &tid, out);
            // Idle ids have no open transaction; said again for a produce path that missed it.
            out.partitions.push(PartitionsUpdate::Clear { producer_id });
        }
    }
}

/// The largest compiled transactional id pattern accepted (the regex crate's size limit), so
/// that a request cannot make the coordinator build a huge automaton.
const MAX_PATTERN_BYTES: usize = 1 << 20;
