//! The Schema Registry's runtime over the compacted `_schemas` topic (one partition), as
//! Confluent's registry keeps it: the registry's state ([`Store`]) is what the topic's
//! committed records say. Before answering, the state catches up with the records committed
//! since (records other tools wrote too, so `_schemas` data can be moved in); a change is
//! computed on the caught-up state, appended to `_schemas`-0 as one batch, awaited until
//! committed, then applied by catching up again, all under one lock, so writes are
//! serialized and ids never collide.
//!
//! The topic is created on the first write (1 partition, `cleanup.policy=compact`, replication
//! factor `min(3, live brokers)`, as Confluent's `kafkastore.topic.replication.factor`
//! defaults to 3). Writes are taken on the broker that leads `_schemas`-0; elsewhere they are
//! refused with 50004 (a registry on every broker of a cluster that forwards writes to the
//! leader is not built yet).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::RecordBatchDecoder;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::cluster::controller_rpc::NewTopic;
use crate::cluster::{now_ms, Broker, Partition};
use crate::registry::records::Key;
use crate::registry::store::{RegistryError, Store, Write};
use crate::server::internal_topic::{append_records, Emitted};

/// Confluent's `kafkastore.topic`.
pub const SCHEMAS_TOPIC: &str = "_schemas";
/// How long a write waits for its records to be committed.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

struct State {
    store: Store,
    /// The topic the state was read from (a recreated topic starts over).
    topic_id: Option<Uuid>,
    /// The next offset to apply.
    next: i64,
}

/// The registry's state and its writer.
pub struct Registry {
    broker: Arc<Broker>,
    state: Mutex<State>,
}

fn store_error(code: i32, message: impl Into<String>) -> RegistryError {
    RegistryError {
        status: 500,
        code,
        message: message.into(),
    }
}

impl Registry {
    pub fn new(broker: Arc<Broker>) -> Arc<Registry> {
        Arc::new(Registry {
            broker,
            state: Mutex::new(State {
                store: Store::new(),
                topic_id: None,
                next: 0,
            }),
        })
    }

    /// The local replica of `_schemas`-0, if this broker hosts one.
    fn partition(&self) -> Option<(Uuid, Arc<Partition>)> {
        let t = self.broker.topic(SCHEMAS_TOPIC)?;
        let p = t.slot(0)?.replica.clone()?;
        Some((t.id, p))
    }

    /// Apply the records committed since the last catch-up.
    fn catch_up(&self, st: &mut State) {
        let Some((id, p)) = self.partition() else {
            if self.broker.topic(SCHEMAS_TOPIC).is_none() && st.topic_id.is_some() {
                // The topic was deleted: so was the registry's content.
                *st = State {
                    store: Store::new(),
                    topic_id: None,
                    next: 0,
                };
            }
            return;
        };
        if st.topic_id != Some(id) {
            *st = State {
                store: Store::new(),
                topic_id: Some(id),
                next: 0,
            };
        }
        loop {
            let (bytes, start) = {
                let log = p.log();
                let hw = log.high_watermark();
                let start = log.log_start_offset();
                let from = st.next.max(start);
                if from >= hw {
                    st.next = from;
                    return;
                }
                match log.read_upto(from, 1 << 20, true, hw) {
                    Ok(plan) => (plan.execute(), from),
                    Err(e) => {
                        tracing::warn!("{SCHEMAS_TOPIC}: cannot read at {from}: {e}");
                        return;
                    }
                }
            };
            let mut bytes = match bytes {
                Ok(b) if !b.is_empty() => b,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!("{SCHEMAS_TOPIC}: cannot read at {start}: {e}");
                    return;
                }
            };
            st.next = start;
            while !bytes.is_empty() {
                let set = match RecordBatchDecoder::decode(&mut bytes) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("{SCHEMAS_TOPIC}: unreadable batch at {}: {e}", st.next);
                        return;
                    }
                };
                for r in set.records {
                    if r.offset < st.next {
                        continue;
                    }
                    st.next = r.offset + 1;
                    if r.control {
                        continue;
                    }
                    let Some(key) = r.key.as_ref() else {
                        continue;
                    };
                    match Key::decode(key) {
                        Ok(k) => st.store.apply(&k, r.value.as_deref()),
                        Err(e) => tracing::debug!(
                            "{SCHEMAS_TOPIC}: skipping a record at {}: {e}",
                            r.offset
                        ),
                    }
                }
            }
        }
    }

    /// Read the caught-up state.
    pub async fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        let mut st = self.state.lock().await;
        self.catch_up(&mut st);
        f(&st.store)
    }

    /// Compute a change on the caught-up state and make it durable: `f` answers a value and
    /// the records to write; the value is returned once the records are committed and
    /// applied.
    pub async fn write<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<(T, Vec<Write>), RegistryError>,
    ) -> Result<T, RegistryError> {
        self.ensure_topic().await?;
        let mut st = self.state.lock().await;
        self.catch_up(&mut st);
        let (value, writes) = f(&st.store)?;
        if writes.is_empty() {
            return Ok(value);
        }
        let Some((_, p)) = self.partition().filter(|(_, p)| p.is_leader()) else {
            return Err(store_error(
                50004,
                "Leader not known. (the Schema Registry takes writes on the broker that leads _schemas-0)",
            ));
        };
        let encoded: Vec<(Bytes, Option<Bytes>)> = writes
            .iter()
            .map(|(k, v)| (Bytes::from(k.encode()), v.clone().map(Bytes::from)))
            .collect();
        let emitted = encoded
            .iter()
            .map(|(k, v)| -> Emitted<'_> { (0, None, k, v.as_ref()) });
        let pending = append_records(
            SCHEMAS_TOPIC,
            |i| (i == 0).then(|| Arc::clone(&p)),
            emitted,
            now_ms(),
        )
        .map_err(|e| {
            store_error(
                50001,
                format!("Error while registering the schema: failed while writing to the Kafka store ({e:?})"),
            )
        })?;
        match tokio::time::timeout(COMMIT_TIMEOUT, pending.committed()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                return Err(store_error(
                    50001,
                    format!("failed while writing to the Kafka store ({e:?})"),
                ))
            }
            Err(_) => return Err(store_error(50002, "Register operation timed out")),
        }
        self.catch_up(&mut st);
        Ok(value)
    }

    /// Create `_schemas` if it does not exist, and wait for its leader.
    async fn ensure_topic(&self) -> Result<(), RegistryError> {
        let ready = |b: &Broker| {
            b.topic(SCHEMAS_TOPIC)
                .is_some_and(|t| t.partitions.iter().all(|s| s.meta.leader >= 0))
        };
        if ready(&self.broker) {
            return Ok(());
        }
        if self.broker.topic(SCHEMAS_TOPIC).is_none() {
            let live = self.broker.cluster().live().count().max(1);
            let rf = i16::try_from(live.min(3)).unwrap_or(1);
            let mut configs = BTreeMap::new();
            configs.insert("cleanup.policy".to_string(), Some("compact".to_string()));
            let res = self
                .broker
                .create_topics(
                    vec![NewTopic {
                        name: SCHEMAS_TOPIC.to_string(),
                        num_partitions: 1,
                        replication_factor: rf,
                        assignments: None,
                        configs,
                    }],
                    false,
                )
                .await;
            // TOPIC_ALREADY_EXISTS (36): created meanwhile, by another request or broker.
            if let Some(r) = res.iter().find(|r| r.error_code != 0 && r.error_code != 36) {
                return Err(store_error(
                    50001,
                    format!(
                        "cannot create {SCHEMAS_TOPIC}: error {} {}",
                        r.error_code,
                        r.message.clone().unwrap_or_default()
                    ),
                ));
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if ready(&self.broker) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(store_error(50004, "Leader not known."))
    }
}
