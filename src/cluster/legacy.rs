//! Migration of a data directory written before the metadata quorum existed: topics were
//! then kept in `meta/topics/<topic>.properties` (`topic.id`, `partitions`,
//! `config.<name>=<value>`) and producer ids in `meta/producer-id-block`. On the first start
//! with the quorum, the node reads them here and the controller imports them as metadata
//! records (same topic ids, replicas = this node); once imported, the files are renamed to
//! `meta/topics.imported` so they are never imported twice and stay for inspection.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::read_properties;

/// A topic of a pre-quorum data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyTopic {
    pub name: String,
    pub id: Uuid,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
}

fn topics_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("meta").join("topics")
}

/// The topics of a pre-quorum data directory (none if it has no `meta/topics`).
pub fn legacy_topics(data_dir: &Path) -> anyhow::Result<Vec<LegacyTopic>> {
    let dir = topics_dir(data_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("properties") {
            continue;
        }
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let mut id = None;
        let mut partitions = 0i32;
        let mut configs = BTreeMap::new();
        for (k, v) in read_properties(&path)? {
            match k.as_str() {
                "topic.id" => id = Uuid::parse_str(&v).ok(),
                "partitions" => partitions = v.parse().unwrap_or(0),
                _ => {
                    if let Some(c) = k.strip_prefix("config.") {
                        configs.insert(c.to_string(), v);
                    }
                }
            }
        }
        let id = id.ok_or_else(|| anyhow::anyhow!("{} has no valid topic.id", path.display()))?;
        if partitions < 1 {
            anyhow::bail!("{} has no valid partition count", path.display());
        }
        out.push(LegacyTopic {
            name,
            id,
            partitions,
            configs,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The next producer id of a pre-quorum data directory, if it recorded one.
pub fn legacy_next_producer_id(data_dir: &Path) -> Option<i64> {
    fs::read_to_string(data_dir.join("meta").join("producer-id-block"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The legacy topics were imported: keep the files, out of the way.
pub fn retire_legacy_topics(data_dir: &Path) -> std::io::Result<()> {
    let dir = topics_dir(data_dir);
    if dir.exists() {
        fs::rename(&dir, data_dir.join("meta").join("topics.imported"))?;
        fs::File::open(data_dir.join("meta"))?.sync_all()?;
    }
    Ok(())
}
