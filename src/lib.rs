//! skua: a single-binary message broker that speaks the Apache Kafka wire protocol.
//!
//! Layout by responsibility (see DESIGN.md): `protocol` (framing, batch headers; no tokio),
//! `log` (the partition log store; no tokio), `cluster` (topics and partitions of this node),
//! `server` (tokio: listener, connections, dispatch), `api` (one file per Kafka API),
//! `config` (typed configuration with Kafka's names), `group` and `txn` (the group and
//! transaction coordinators as pure state machines; no tokio), `replica` (leader and follower
//! replica state: ISR, high watermark, fetcher decisions; no tokio), `controller` (the cluster
//! controller's decisions over the metadata image; no tokio), `telemetry` (client telemetry of
//! KIP-714: subscriptions, pushes and the pushed metrics; no tokio).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod controller;
pub mod group;
pub mod http;
pub mod log;
pub mod metrics;
pub mod protocol;
pub mod registry;
pub mod replica;
pub mod resource;
pub mod security;
pub mod server;
pub mod share;
pub mod telemetry;
pub mod txn;
