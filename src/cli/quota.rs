//! `skua quota set|describe`: client quotas over AlterClientQuotas / DescribeClientQuotas, in
//! the spirit of `kafka-configs.sh --entity-type users|clients|ips`:
//!
//! ```text
//! skua quota set --user alice --client-id app --producer-byte-rate 1048576
//! skua quota set --default-user --consumer-byte-rate 2097152
//! skua quota set --user alice --client-id app --delete producer_byte_rate
//! skua quota describe                      # every entity
//! skua quota describe --user alice         # alice's entities (--strict: only /users/alice)
//! ```
//!
//! Works against skua and Kafka alike. The pure parts ([`entity`], [`render_table`],
//! [`render_json`]) are tested without a broker.

use anyhow::{bail, Result};
use clap::Args;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, DescribeClientQuotasRequest, DescribeClientQuotasResponse,
};

use super::client::{check, str_bytes};
use super::output::{emit, table, Json};
use super::{Common, Output};

/// Which entity a command names (each type: a name, its default, or absent).
#[derive(Args, Debug, Clone, Default)]
pub struct EntityArgs {
    /// The user (principal name, e.g. alice; ANONYMOUS for unauthenticated clients).
    #[arg(long, conflicts_with = "default_user")]
    pub user: Option<String>,
    /// The default user quota (`<default>`).
    #[arg(long)]
    pub default_user: bool,
    /// The client id.
    #[arg(long, conflicts_with = "default_client_id")]
    pub client_id: Option<String>,
    /// The default client-id quota (`<default>`).
    #[arg(long)]
    pub default_client_id: bool,
    /// An IP address (connection_creation_rate only).
    #[arg(long, conflicts_with = "default_ip")]
    pub ip: Option<String>,
    /// The default IP quota.
    #[arg(long)]
    pub default_ip: bool,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub entity: EntityArgs,
    /// producer_byte_rate: bytes per second a producer may send.
    #[arg(long)]
    pub producer_byte_rate: Option<i64>,
    /// consumer_byte_rate: bytes per second a consumer may fetch.
    #[arg(long)]
    pub consumer_byte_rate: Option<i64>,
    /// request_percentage: share of one request handler's time, in percent.
    #[arg(long)]
    pub request_percentage: Option<f64>,
    /// controller_mutation_rate: topic/partition mutations per second.
    #[arg(long)]
    pub controller_mutation_rate: Option<f64>,
    /// connection_creation_rate (ip entities): new connections per second.
    #[arg(long)]
    pub connection_creation_rate: Option<i64>,
    /// Remove these quota keys (repeatable).
    #[arg(long, value_name = "KEY")]
    pub delete: Vec<String>,
    /// Only validate.
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub entity: EntityArgs,
    /// Only entities made of exactly the named types.
    #[arg(long)]
    pub strict: bool,
}

/// The entity parts (type, name; None = default) the arguments name, in Kafka's type order.
pub fn entity(a: &EntityArgs) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut part = |t: &str, name: &Option<String>, default: bool| {
        if let Some(n) = name {
            out.push((t.to_string(), Some(n.clone())));
        } else if default {
            out.push((t.to_string(), None));
        }
    };
    part("user", &a.user, a.default_user);
    part("client-id", &a.client_id, a.default_client_id);
    part("ip", &a.ip, a.default_ip);
    out
}

/// The ops of `set`: (key, value; None removes).
fn ops(a: &SetArgs) -> Vec<(String, Option<f64>)> {
    let mut out: Vec<(String, Option<f64>)> = Vec::new();
    let mut set = |k: &str, v: Option<f64>| {
        if let Some(v) = v {
            out.push((k.to_string(), Some(v)));
        }
    };
    set("producer_byte_rate", a.producer_byte_rate.map(|v| v as f64));
    set("consumer_byte_rate", a.consumer_byte_rate.map(|v| v as f64));
    set("request_percentage", a.request_percentage);
    set("controller_mutation_rate", a.controller_mutation_rate);
    set(
        "connection_creation_rate",
        a.connection_creation_rate.map(|v| v as f64),
    );
    for k in &a.delete {
        out.push((k.clone(), None));
    }
    out
}

fn render_entity(entity: &[(String, Option<String>)]) -> String {
    entity
        .iter()
        .map(|(t, n)| format!("{t}={}", n.as_deref().unwrap_or("<default>")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// One described entity: its parts and its (key, value) quotas.
pub type Described = Vec<(Vec<(String, Option<String>)>, Vec<(String, f64)>)>;

fn described(r: &DescribeClientQuotasResponse) -> Described {
    let mut out: Described = r
        .entries
        .iter()
        .flatten()
        .map(|e| {
            let ent = e
                .entity
                .iter()
                .map(|d| {
                    (
                        d.entity_type.to_string(),
                        d.entity_name.as_ref().map(|n| n.to_string()),
                    )
                })
                .collect();
            let mut vals: Vec<(String, f64)> = e
                .values
                .iter()
                .map(|v| (v.key.to_string(), v.value))
                .collect();
            vals.sort_by(|a, b| a.0.cmp(&b.0));
            (ent, vals)
        })
        .collect();
    out.sort_by_key(|(e, _)| render_entity(e));
    out
}

pub fn render_table(d: &Described) -> String {
    let rows: Vec<Vec<String>> = d
        .iter()
        .map(|(e, vals)| {
            vec![
                render_entity(e),
                vals.iter()
                    .map(|(k, v)| format!("{k}={}", render_value(*v)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table(&["ENTITY", "QUOTAS"], &rows)
}

pub fn render_json(d: &Described) -> String {
    Json::Arr(
        d.iter()
            .map(|(e, vals)| {
                Json::obj(vec![
                    (
                        "entity",
                        Json::Obj(
                            e.iter()
                                .map(|(t, n)| (t.clone(), n.clone().map_or(Json::Null, Json::Str)))
                                .collect(),
                        ),
                    ),
                    (
                        "quotas",
                        Json::Obj(
                            vals.iter()
                                .map(|(k, v)| (k.clone(), Json::Str(render_value(*v))))
                                .collect(),
                        ),
                    ),
                ])
            })
            .collect(),
    )
    .render()
}

pub fn set(a: SetArgs) -> Result<()> {
    use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
    let ent = entity(&a.entity);
    if ent.is_empty() {
        bail!("name an entity: --user/--default-user, --client-id/--default-client-id or --ip/--default-ip");
    }
    let ops = ops(&a);
    if ops.is_empty() {
        bail!("nothing to set: give a quota (e.g. --producer-byte-rate) or --delete KEY");
    }
    let mut cluster = a.common.connect()?;
    let conn = cluster.bootstrap();
    let v = conn.version::<AlterClientQuotasRequest>(0, 1)?;
    let req = AlterClientQuotasRequest::default()
        .with_validate_only(a.validate_only)
        .with_entries(vec![EntryData::default()
            .with_entity(
                ent.iter()
                    .map(|(t, n)| {
                        EntityData::default()
                            .with_entity_type(str_bytes(t))
                            .with_entity_name(n.as_deref().map(str_bytes))
                    })
                    .collect(),
            )
            .with_ops(
                ops.iter()
                    .map(|(k, v)| {
                        OpData::default()
                            .with_key(str_bytes(k))
                            .with_value(v.unwrap_or(0.0))
                            .with_remove(v.is_none())
                    })
                    .collect(),
            )]);
    let resp = conn.call(v, &req)?;
    for e in &resp.entries {
        check(
            e.error_code,
            e.error_message.as_ref(),
            &format!("quota {}", render_entity(&ent)),
        )?;
    }
    let verb = if a.validate_only {
        "Validated"
    } else {
        "Updated"
    };
    eprintln!("{verb} quotas of {}", render_entity(&ent));
    Ok(())
}

pub fn describe(a: DescribeArgs) -> Result<()> {
    use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
    let ent = entity(&a.entity);
    let mut cluster = a.common.connect()?;
    let conn = cluster.bootstrap();
    let v = conn.version::<DescribeClientQuotasRequest>(0, 1)?;
    let req = DescribeClientQuotasRequest::default()
        .with_strict(a.strict)
        .with_components(
            ent.iter()
                .map(|(t, n)| {
                    ComponentData::default()
                        .with_entity_type(str_bytes(t))
                        .with_match_type(if n.is_some() { 0 } else { 1 })
                        .with_match(n.as_deref().map(str_bytes))
                })
                .collect(),
        );
    let resp = conn.call(v, &req)?;
    check(
        resp.error_code,
        resp.error_message.as_ref(),
        "DescribeClientQuotas",
    )?;
    let d = described(&resp);
    match a.common.output {
        Output::Table => emit(&render_table(&d)),
        Output::Json => emit(&render_json(&d)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_from_arguments() {
        let a = EntityArgs {
            user: Some("alice".into()),
            default_client_id: true,
            ..EntityArgs::default()
        };
        assert_eq!(
            entity(&a),
            vec![
                ("user".to_string(), Some("alice".to_string())),
                ("client-id".to_string(), None)
            ]
        );
        assert!(entity(&EntityArgs::default()).is_empty());
    }

    #[test]
    fn renders_tables_and_json() {
        let d: Described = vec![(
            vec![
                ("user".into(), Some("alice".into())),
                ("client-id".into(), None),
            ],
            vec![
                ("producer_byte_rate".into(), 1024.0),
                ("request_percentage".into(), 12.5),
            ],
        )];
        let t = render_table(&d);
        assert!(t.contains("user=alice, client-id=<default>"), "{t}");
        assert!(
            t.contains("producer_byte_rate=1024, request_percentage=12.5"),
            "{t}"
        );
        assert_eq!(
            render_json(&d),
            r#"[{"entity":{"user":"alice","client-id":null},"quotas":{"producer_byte_rate":"1024","request_percentage":"12.5"}}]"#
        );
    }
}
