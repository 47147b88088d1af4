//! The operator CLI: `skua topic|group|cluster|quota|produce|consume ...`. It speaks the Kafka
//! protocol to any broker (skua or Kafka) through the small blocking client in [`client`],
//! negotiating versions with ApiVersions. Data goes to stdout, progress and errors to stderr;
//! every failure is an `Err` (the binary prints it and exits non-zero), with Kafka's error code
//! name when the broker answered one.

pub mod acl;
pub mod client;
pub mod cluster;
pub mod consume;
pub mod group;
pub mod output;
pub mod produce;
pub mod quota;
pub mod sasl_client;
pub mod security;
pub mod share_group;
pub mod topic;
pub mod user;

use clap::{Args, Subcommand, ValueEnum};

/// Output format of the data a command prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    #[default]
    Table,
    Json,
}

/// Options every CLI command takes.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// Broker to bootstrap from.
    #[arg(
        long,
        short = 'b',
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap_server: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// The CLI's own TLS/SASL settings: a properties file with security.protocol,
    /// ssl.truststore.location, ssl.keystore.location, sasl.mechanism, sasl.jaas.config.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
}

impl Common {
    /// Connect to the cluster with these options.
    pub fn connect(&self) -> anyhow::Result<client::Cluster> {
        let security = security::ClientSecurity::load(self.command_config.as_deref())?;
        client::Cluster::connect_with(&self.bootstrap_server, security)
    }
}

#[derive(Subcommand, Debug)]
pub enum TopicCommand {
    /// Create a topic.
    Create(topic::CreateArgs),
    /// List topics.
    List(topic::ListArgs),
    /// Show a topic's partitions (leader, replicas, ISR, offsets) and config overrides.
    Describe(topic::DescribeArgs),
    /// Delete a topic.
    Delete(topic::DeleteArgs),
    /// Set or delete topic config overrides (IncrementalAlterConfigs).
    AlterConfig(topic::AlterConfigArgs),
}

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// List consumer groups (asks every broker).
    List(group::ListArgs),
    /// Show a group's state, members, committed offsets and lag.
    Describe(group::DescribeArgs),
    /// Move a group's committed offsets (dry run unless --execute).
    ResetOffsets(group::ResetArgs),
    /// Delete a group (it must have no members).
    Delete(group::DeleteArgs),
}

#[derive(Subcommand, Debug)]
pub enum ClusterCommand {
    /// Show the cluster id, brokers, active controller, and partitions that are
    /// under-replicated, under min ISR or offline.
    Describe(cluster::DescribeArgs),
}

#[derive(Subcommand, Debug)]
pub enum AclCommand {
    /// Add ACLs (CreateAcls): --allow-principal/--deny-principal, --operation, a resource.
    Add(acl::AddArgs),
    /// List ACLs (DescribeAcls), optionally of a resource or a principal.
    List(acl::ListArgs),
    /// Remove the ACLs matching the flags (DeleteAcls).
    Remove(acl::RemoveArgs),
}

pub fn run_acl(cmd: AclCommand) -> anyhow::Result<()> {
    match cmd {
        AclCommand::Add(a) => acl::add(a),
        AclCommand::List(a) => acl::list(a),
        AclCommand::Remove(a) => acl::remove(a),
    }
}

#[derive(Subcommand, Debug)]
pub enum QuotaCommand {
    /// Set or delete client quotas of a user, client id, both, or an IP (AlterClientQuotas).
    Set(quota::SetArgs),
    /// Show client quotas (DescribeClientQuotas); every entity when none is named.
    Describe(quota::DescribeArgs),
}

pub fn run_quota(cmd: QuotaCommand) -> anyhow::Result<()> {
    match cmd {
        QuotaCommand::Set(a) => quota::set(a),
        QuotaCommand::Describe(a) => quota::describe(a),
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a SCRAM user, or replace its credential (AlterUserScramCredentials; the
    /// password is salted here and never sent).
    Create(user::CreateArgs),
    /// Delete a user's SCRAM credentials (all of them, or the mechanisms given).
    Delete(user::DeleteArgs),
    /// List SCRAM users with their mechanisms and iterations.
    List(user::ListArgs),
}

pub fn run_user(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create(a) => user::create(a),
        UserCommand::Delete(a) => user::delete(a),
        UserCommand::List(a) => user::list(a),
    }
}

pub fn run_topic(cmd: TopicCommand) -> anyhow::Result<()> {
    match cmd {
        TopicCommand::Create(a) => topic::create(a),
        TopicCommand::List(a) => topic::list(a),
        TopicCommand::Describe(a) => topic::describe(a),
        TopicCommand::Delete(a) => topic::delete(a),
        TopicCommand::AlterConfig(a) => topic::alter_config(a),
    }
}

pub fn run_group(cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::List(a) => group::list(a),
        GroupCommand::Describe(a) => group::describe(a),
        GroupCommand::ResetOffsets(a) => group::reset_offsets(a),
        GroupCommand::Delete(a) => group::delete(a),
    }
}

pub fn run_cluster(cmd: ClusterCommand) -> anyhow::Result<()> {
    match cmd {
        ClusterCommand::Describe(a) => cluster::describe(a),
    }
}

/// Split `k=v`.
pub fn parse_kv(s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => anyhow::bail!("expected NAME=VALUE, got {s:?}"),
    }
}
