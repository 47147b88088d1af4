//! The `skua` binary: `skua` / `skua serve` runs the broker;
//! `skua topic|group|cluster|produce|consume` is the operator CLI (src/cli), which speaks the
//! Kafka protocol to any broker.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use skua::cli::{
    self, AclCommand, ClusterCommand, GroupCommand, QuotaCommand, TopicCommand, UserCommand,
};
use skua::config::{BrokerConfig, ConfigSources};
use skua::http::listen::ListenSpec;
use skua::server::{HttpRole, Server};

#[derive(Parser)]
#[command(
    name = "skua",
    version,
    about = "A single-binary message broker that speaks the Apache Kafka protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker (the default).
    Serve(ServeArgs),
    /// Create, list, describe, delete topics and alter their configs.
    Topic {
        #[command(subcommand)]
        command: TopicCommand,
    },
    /// List, describe, delete consumer groups and reset their offsets.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Describe the cluster: brokers, controller, unhealthy partitions.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
    /// Add, list and remove ACLs (kafka-acls.sh's --add/--list/--remove).
    Acl {
        #[command(subcommand)]
        command: AclCommand,
    },
    /// Set and describe client quotas (users, client ids, IPs).
    Quota {
        #[command(subcommand)]
        command: QuotaCommand,
    },
    /// Create, delete and list SCRAM users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Produce lines from stdin as records.
    Produce(cli::produce::ProduceArgs),
    /// Consume records to stdout.
    Consume(cli::consume::ConsumeArgs),
}

#[derive(Args, Clone, Default)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Address returned to clients in Metadata (default: the listen address).
    #[arg(long, value_name = "HOST:PORT")]
    advertise: Option<String>,
    /// Data directory (default ./data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Java properties file with Kafka's server.properties names.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Set one Kafka config, e.g. --set num.partitions=3 (repeatable; wins over --config).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics, or `off` [default:
    /// 127.0.0.1:9644, skipped with a warning when that port is taken].
    #[arg(long, value_name = "HOST:PORT|off")]
    metrics_listen: Option<String>,
    /// Serve the web console at http://HOST:PORT/, or `off` [default: 127.0.0.1:8080,
    /// skipped with a warning when that port is taken].
    #[arg(long, value_name = "HOST:PORT|off")]
    console_listen: Option<String>,
    /// Serve the Schema Registry (Confluent's REST API) at http://HOST:PORT/, or `off`
    /// [default: 127.0.0.1:8081, skipped with a warning when that port is taken].
    #[arg(long, value_name = "HOST:PORT|off")]
    schema_registry_listen: Option<String>,
    /// Serve the HTTP proxy (Confluent REST Proxy API) at http://HOST:PORT/, or `off`
    /// [default: 127.0.0.1:8082, skipped with a warning when that port is taken].
    #[arg(long, value_name = "HOST:PORT|off")]
    rest_proxy_listen: Option<String>,
    /// This node's id (node.id), e.g. in a cluster of several.
    #[arg(long, value_name = "N")]
    node_id: Option<i32>,
    /// Where the controller quorum listens (this node's entry of controller.quorum.voters).
    #[arg(long, value_name = "HOST:PORT")]
    controller_listen: Option<String>,
}

const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9644";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Serve(a)) => serve(a),
        None => serve(cli.serve),
        Some(Command::Topic { command }) => cli::run_topic(command),
        Some(Command::Group { command }) => cli::run_group(command),
        Some(Command::Cluster { command }) => cli::run_cluster(command),
        Some(Command::Acl { command }) => cli::run_acl(command),
        Some(Command::Quota { command }) => cli::run_quota(command),
        Some(Command::User { command }) => cli::run_user(command),
        Some(Command::Produce(a)) => cli::produce::produce(a),
        Some(Command::Consume(a)) => cli::consume::consume(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skua: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn")),
        )
        .init();
    run(args)
}

fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = BrokerConfig::from_sources(&ConfigSources {
        listen: args.listen,
        advertise: args.advertise,
        data_dir: args.data_dir,
        config_file: args.config,
        sets: args.set,
        node_id: args.node_id,
        controller_listen: args.controller_listen,
    })?;
    let metrics_spec = ListenSpec {
        flag: "--metrics-listen",
        what: "metrics",
        given: args.metrics_listen,
        default: DEFAULT_METRICS_LISTEN,
    };
    let http_specs = [
        (
            HttpRole::Console,
            ListenSpec {
                flag: "--console-listen",
                what: "the console",
                given: args.console_listen,
                default: "127.0.0.1:8080",
            },
        ),
        (
            HttpRole::SchemaRegistry,
            ListenSpec {
                flag: "--schema-registry-listen",
                what: "the schema registry",
                given: args.schema_registry_listen,
                default: "127.0.0.1:8081",
            },
        ),
        (
            HttpRole::RestProxy,
            ListenSpec {
                flag: "--rest-proxy-listen",
                what: "the HTTP proxy",
                given: args.rest_proxy_listen,
                default: "127.0.0.1:8082",
            },
        ),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async move {
        if config.is_controller_only() {
            // Kafka's dedicated controller: the controller listener only (no client
            // listener, no metrics endpoint: its metrics are a broker's).
            let node = skua::server::controller_node::ControllerNode::start(config).await?;
            return node.run(shutdown_signal()).await;
        }
        // Bound first: a taken explicit port fails the start before the data dir is opened;
        // a taken default port (another broker on this machine) is skipped with a warning.
        let metrics = metrics_spec.bind().await?;
        let mut http = Vec::new();
        for (role, spec) in &http_specs {
            if let Some(l) = spec.bind().await? {
                http.push((*role, l));
            }
        }
        let mut server = Server::bind(config).await?;
        if let Some(l) = metrics {
            server = server.with_metrics(l);
        }
        for (role, l) in http {
            server = server.with_http(role, l);
        }
        server.run(shutdown_signal()).await
    });
    // Everything is flushed and closed by now; don't wait on idle blocking-pool threads.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    result
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
