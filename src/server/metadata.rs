//! The metadata image as the controller quorum's state machine: committed entries (batches of
//! [`MetadataRecord`]s) are applied here in log order, and each new image is published whole
//! on a watch channel (readers never lock). Raft snapshots are the image serialized.
//!
//! Concurrency: `apply`, `snapshot` and `restore` are called by the raft state machine task
//! one at a time; the mutex only guards against that task and publishers racing.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::raft::MetadataApplier;
use crate::cluster::image::MetadataImage;
use crate::cluster::records::decode_batch;

pub struct MetadataStore {
    image: Mutex<MetadataImage>,
    published: watch::Sender<Arc<MetadataImage>>,
}

impl MetadataStore {
    pub fn new() -> Arc<MetadataStore> {
        Arc::new(MetadataStore {
            image: Mutex::new(MetadataImage::new()),
            published: watch::channel(Arc::new(MetadataImage::new())).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, MetadataImage> {
        self.image.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest image.
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.published.borrow())
    }

    /// Follow the image as it changes.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.published.subscribe()
    }

    /// Wait until the image has applied `index` (or `timeout` passes); returns the image.
    pub async fn wait_for_index(
        &self,
        index: u64,
        timeout: std::time::Duration,
    ) -> Option<Arc<MetadataImage>> {
        let mut rx = self.subscribe();
        let waited = tokio::time::timeout(
            timeout,
            rx.wait_for(|img| img.last_applied_index() >= index),
        )
        .await;
        match waited {
            Ok(Ok(img)) => Some(Arc::clone(&img)),
            _ => None,
        }
    }

    fn publish(&self, image: &MetadataImage) {
        self.published.send_replace(Arc::new(image.clone()));
    }
}

impl MetadataApplier for MetadataStore {
    fn apply(&self, index: u64, payload: &[u8]) {
        let mut image = self.lock();
        match decode_batch(payload) {
            Ok(records) => {
                for (i, e) in image.apply_batch(index, &records) {
                    tracing::warn!(index, record = i, "metadata record not applied: {e}");
                }
            }
            Err(e) => {
                tracing::error!(index, "undecodable metadata entry skipped: {e}");
                image.apply_batch(index, &[]);
            }
        }
        self.publish(&image);
    }

    fn snapshot(&self) -> (u64, Vec<u8>) {
        let image = self.lock();
        (image.last_applied_index(), image.to_snapshot())
    }

    fn restore(&self, index: u64, data: &[u8]) -> anyhow::Result<()> {
        let restored = MetadataImage::from_snapshot(data)?;
        let mut image = self.lock();
        *image = restored;
        if image.last_applied_index() < index {
            image.apply_batch(index, &[]);
        }
        self.publish(&image);
        Ok(())
    }
}
