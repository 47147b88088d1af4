//! In-process brokers for the server module's tests: a real [`Server`] on a loopback port
//! with its data directory in a temporary directory, stopped cleanly by [`TestServer::stop`].

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::Server;
use crate::cluster::Broker;
use crate::config::{BrokerConfig, ConfigSources};

pub struct TestServer {
    pub addr: SocketAddr,
    pub broker: Arc<Broker>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// The config of a test broker: an ephemeral loopback port, data in `dir`, no initial
/// rebalance delay, plus `sets` (`name=value`).
pub fn test_config(dir: &std::path::Path, sets: &[&str]) -> BrokerConfig {
    let mut all = vec!["group.initial.rebalance.delay.ms=0".to_string()];
    all.extend(sets.iter().map(|s| s.to_string()));
    let src = ConfigSources {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        sets: all,
        ..Default::default()
    };
    BrokerConfig::from_sources(&src).expect("test config")
}

/// Start a broker serving on an ephemeral loopback port.
pub async fn start_server(sets: &[&str]) -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::bind(test_config(dir.path(), sets))
        .await
        .expect("bind");
    let addr = server.local_addr;
    let broker = Arc::clone(&server.broker);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    TestServer {
        addr,
        broker,
        stop: Some(tx),
        task: Some(task),
        _dir: dir,
    }
}

impl TestServer {
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Stop serving and close every log.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Create a topic (replication factor 1) through the controller, asserting it worked.
pub async fn create_topic(broker: &Arc<Broker>, name: &str, partitions: i32) {
    let created = broker
        .create_topics(
            vec![crate::cluster::controller_rpc::NewTopic {
                name: name.into(),
                num_partitions: partitions,
                replication_factor: 1,
                assignments: None,
                configs: std::collections::BTreeMap::new(),
            }],
            false,
        )
        .await;
    assert_eq!(created[0].error_code, 0, "{created:?}");
}
