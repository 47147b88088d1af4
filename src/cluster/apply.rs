//! Applying the metadata to this node's replicas: open (or create) the log of every partition
//! assigned here, give each its role, drop the replicas no longer assigned here.
//!
//! Cost: opening or creating a partition's log is bound by fsync latency (a new partition
//! fsyncs its directory, its first segment and its checkpoints; becoming leader writes the
//! leader-epoch checkpoint), not by CPU. Done one partition after another, creating 1,000
//! partitions or loading them at start-up took the sum of thousands of fsyncs; the new
//! replicas are therefore opened and given their roles on up to [`OPEN_THREADS`] threads at
//! once (scoped threads of the calling blocking task), each partition by one thread, results
//! applied in the metadata's order.
//!
//! Topics that did not change since the previous image are carried over as they are
//! ([`Broker::update_topics`]'s `keep`), so that one new topic costs the work of that topic,
//! not of every partition of the broker.

use std::collections::BTreeMap;
use std::fs;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::{
    lock_read, lock_write, parse_partition_metadata, partition_metadata, write_atomic, Broker,
    LocalDelta, Partition, PartitionMeta, PartitionSlot, Topic, TopicSpec, Topics,
    PARTITION_METADATA,
};
use crate::log::{LogConfig, PartitionLog};

/// Threads that open replicas and give them their roles at once (see the module doc).
pub const OPEN_THREADS: usize = 16;

/// `f` over `items` on up to `threads` scoped threads; results in the order of `items`.
pub fn parallel_map<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let n = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let next = || queue.lock().unwrap_or_else(|p| p.into_inner()).next();
    let mut out: Vec<(usize, R)> = Vec::with_capacity(n);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    while let Some((i, item)) = next() {
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        for w in workers {
            match w.join() {
                Ok(done) => out.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    out.sort_unstable_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The work one replica needs: open it (new here), or new settings for a hosted one.
enum Open {
    New {
        topic: String,
        id: Uuid,
        log_config: LogConfig,
    },
    Hosted {
        replica: Arc<Partition>,
        log_config: LogConfig,
    },
}

struct Job {
    /// Index of the topic in `next_topics` and of the partition in its slots.
    topic: usize,
    slot: usize,
    index: i32,
    open: Open,
    meta: PartitionMeta,
    configs: Arc<BTreeMap<String, String>>,
}

/// The role a replica took.
enum Role {
    Leader,
    Follower(i32),
    Failed,
}

impl Broker {
    /// Make this node's topics and replicas what the metadata says: open (or create) the
    /// log of every partition with a replica here, give each its role, and drop (delete
    /// from disk) the replicas no longer assigned here. Blocking (disk work).
    pub fn apply_topics(&self, specs: Vec<TopicSpec>, now: i64) -> LocalDelta {
        self.update_topics(specs, &|_| false, now)
    }

    /// Replicas assigned to this node whose log could not be opened (out of descriptors or
    /// disk space, a damaged directory): applying the same image again retries them.
    pub fn unhosted_replicas(&self) -> usize {
        let me = self.config.node_id;
        lock_read(&self.topics)
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter())
            .filter(|s| s.replica.is_none() && s.meta.replicas.contains(&me))
            .count()
    }

    /// [`Broker::apply_topics`] for the topics of `specs`, while the current topics for
    /// which `keep` is true (and that are not in `specs`) stay as they are; every other
    /// current topic is dropped. A kept topic with a replica assigned here that could not be
    /// opened is applied again from its current metadata (the open is retried).
    pub fn update_topics(
        &self,
        specs: Vec<TopicSpec>,
        keep: &dyn Fn(&Topic) -> bool,
        now: i64,
    ) -> LocalDelta {
        let _admin = self.admin.lock().unwrap_or_else(|p| p.into_inner());
        let me = self.config.node_id;
        // Readers keep seeing the current topics until the new map replaces it whole.
        let old = lock_read(&self.topics).clone();
        let mut delta = LocalDelta::default();
        let mut next = Topics::default();
        let mut specs = specs;
        let named: std::collections::HashSet<String> =
            specs.iter().map(|s| s.name.clone()).collect();
        for (name, t) in &old.by_name {
            if !keep(t) || named.contains(name) {
                continue;
            }
            let complete = t
                .partitions
                .iter()
                .all(|s| s.replica.is_some() || !s.meta.replicas.contains(&me));
            if complete {
                next.by_id.insert(t.id, name.clone());
                next.by_name.insert(name.clone(), Arc::clone(t));
            } else {
                specs.push(TopicSpec {
                    name: name.clone(),
                    id: t.id,
                    configs: t.configs.clone(),
                    partitions: t.partitions.iter().map(|s| s.meta.clone()).collect(),
                });
            }
        }
        let mut built: Vec<(TopicSpec, Vec<PartitionSlot>)> = Vec::with_capacity(specs.len());
        let mut jobs = Vec::new();
        for mut spec in specs {
            let previous = old.by_name.get(&spec.name).filter(|t| t.id == spec.id);
            let same_configs = previous.is_some_and(|t| t.configs == spec.configs);
            let log_config = self.config.log_config(&spec.configs);
            let configs = Arc::new(spec.configs.clone());
            let mut slots = Vec::with_capacity(spec.partitions.len());
            for (i, meta) in std::mem::take(&mut spec.partitions).into_iter().enumerate() {
                let index = i as i32;
                let prev = previous.and_then(|t| t.slot(index));
                let existing = prev.and_then(|s| s.replica.clone());
                if !meta.replicas.contains(&me) {
                    if let Some(r) = existing {
                        r.stop();
                        delta.removed.push(r);
                    }
                    slots.push(PartitionSlot {
                        index,
                        meta,
                        replica: None,
                    });
                    continue;
                }
                let open = match existing {
                    Some(r) if same_configs && prev.is_some_and(|s| s.meta == meta) => {
                        slots.push(PartitionSlot {
                            index,
                            meta,
                            replica: Some(r),
                        });
                        continue;
                    }
                    Some(replica) => Open::Hosted {
                        replica,
                        log_config: log_config.clone(),
                    },
                    None => Open::New {
                        topic: spec.name.clone(),
                        id: spec.id,
                        log_config: log_config.clone(),
                    },
                };
                jobs.push(Job {
                    topic: built.len(),
                    slot: slots.len(),
                    index,
                    open,
                    meta: meta.clone(),
                    configs: Arc::clone(&configs),
                });
                slots.push(PartitionSlot {
                    index,
                    meta,
                    replica: None,
                });
            }
            built.push((spec, slots));
        }
        let placed: Vec<(usize, usize, Option<Arc<Partition>>, Role)> =
            parallel_map(jobs, OPEN_THREADS, |job| {
                let index = job.index;
                let replica = match job.open {
                    Open::New {
                        topic,
                        id,
                        log_config,
                    } => self.host_replica(&topic, id, index, &log_config, now),
                    Open::Hosted {
                        replica,
                        log_config,
                    } => {
                        replica.log().set_config(log_config);
                        Some(replica)
                    }
                };
                let role = match &replica {
                    Some(r) => self.give_role(r, &job.meta, &job.configs, now),
                    None => Role::Failed,
                };
                (job.topic, job.slot, replica, role)
            });
        for (topic, slot, replica, role) in placed {
            if let Some(r) = &replica {
                match role {
                    Role::Leader => delta.leaders.push(Arc::clone(r)),
                    Role::Follower(leader) => delta.followers.push((Arc::clone(r), leader)),
                    Role::Failed => {}
                }
            }
            built[topic].1[slot].replica = replica;
        }
        for (spec, slots) in built {
            // Partitions of the old topic beyond the new count cannot exist (counts only
            // grow); a topic recreated under the same name has a new id and is handled below.
            next.by_id.insert(spec.id, spec.name.clone());
            next.by_name.insert(
                spec.name.clone(),
                Arc::new(Topic {
                    internal: spec.name.starts_with("__"),
                    name: spec.name,
                    id: spec.id,
                    partitions: slots,
                    configs: spec.configs,
                }),
            );
        }
        for (name, topic) in &old.by_name {
            let kept = next.by_name.get(name).is_some_and(|t| t.id == topic.id);
            if !kept {
                for r in topic.hosted() {
                    r.stop();
                    delta.removed.push(Arc::clone(r));
                }
            }
        }
        *lock_write(&self.topics) = next;
        for r in &delta.removed {
            self.remove_replica_dir(r);
        }
        delta
    }

    fn give_role(
        &self,
        r: &Arc<Partition>,
        meta: &PartitionMeta,
        configs: &BTreeMap<String, String>,
        now: i64,
    ) -> Role {
        if meta.leader == self.config.node_id {
            let config = crate::replica::LeaderConfig {
                min_insync_replicas: self.config.min_insync_replicas(configs),
                replica_lag_time_max_ms: self.config.replica_lag_time_max_ms,
            };
            let broker_epoch = self.broker_epoch.load(std::sync::atomic::Ordering::Acquire);
            match r.become_leader(
                meta.leader_epoch,
                meta.partition_epoch,
                &meta.replicas,
                &meta.isr,
                config,
                broker_epoch,
                now,
            ) {
                Ok(()) => Role::Leader,
                Err(e) => {
                    tracing::error!(topic = %r.topic, partition = r.index, "cannot become leader: {e}");
                    Role::Failed
                }
            }
        } else {
            r.become_follower(meta.leader, meta.leader_epoch);
            Role::Follower(meta.leader)
        }
    }

    /// Open (or create) the log of a replica now assigned here. A directory left by an
    /// earlier topic of the same name (another topic id in `partition.metadata`) is
    /// removed first.
    fn host_replica(
        &self,
        topic: &str,
        id: Uuid,
        index: i32,
        log_config: &LogConfig,
        now: i64,
    ) -> Option<Arc<Partition>> {
        let dir = self.partition_dir(topic, index);
        let opened = (|| -> anyhow::Result<PartitionLog> {
            let marker = dir.join(PARTITION_METADATA);
            match fs::read_to_string(&marker) {
                Ok(text) if parse_partition_metadata(&text) == Some(id) => {}
                Ok(_) => {
                    tracing::warn!(dir = %dir.display(), "replacing the log of an earlier topic of the same name");
                    fs::remove_dir_all(&dir)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            let mut log = PartitionLog::open(&dir, log_config.clone(), now)?;
            if let Some(hw) = self.take_recovered_high_watermark(topic, index) {
                log.recover_high_watermark(hw);
            }
            if !marker.exists() {
                write_atomic(&marker, partition_metadata(id).as_bytes())?;
            }
            Ok(log)
        })();
        match opened {
            Ok(log) => Some(Partition::new(topic, index, self.config.node_id, log)),
            Err(e) => {
                tracing::error!(topic, partition = index, "cannot host replica: {e:#}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parallel_map;

    #[test]
    fn parallel_map_keeps_the_order_of_its_items() {
        let items: Vec<u64> = (0..1000).collect();
        let out = parallel_map(items, 8, |x| x * 3);
        assert_eq!(out, (0..1000).map(|x| x * 3).collect::<Vec<u64>>());
    }

    #[test]
    fn parallel_map_of_nothing_and_of_one() {
        assert!(parallel_map(Vec::<u8>::new(), 8, |x| x).is_empty());
        assert_eq!(parallel_map(vec![7u8], 8, |x| x + 1), vec![8]);
    }

    #[test]
    fn parallel_map_uses_several_threads() {
        let ids = parallel_map((0..64).collect::<Vec<u32>>(), 4, |_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            std::thread::current().id()
        });
        let distinct: std::collections::HashSet<_> = ids.into_iter().collect();
        assert!(distinct.len() > 1, "one thread did all the work");
    }
}
