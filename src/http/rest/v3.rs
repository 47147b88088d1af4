//! REST Proxy API v3 (`/v3/clusters/…`): the cluster, its brokers, topics, partitions,
//! replicas and topic configs, read and written through Metadata, CreateTopics,
//! DeleteTopics, CreatePartitions, DescribeConfigs and IncrementalAlterConfigs; consumer
//! groups are in [`super::groups`], the record stream in [`super::produce`]. Bodies follow
//! Confluent's `api/v3/openapi.yaml`: resources carry `kind`, `metadata` (`self` URL built
//! from the Host header, `resource_name` as a CRN) and `related` links.

use hyper::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::calls::{OP_DELETE, OP_SET};
use super::{base_url, parse_body, related, Answer, Rest, RestError, V3_JSON};
use crate::http::{percent_encode, Request, Response};
use kafka_protocol::messages::metadata_response::{
    MetadataResponsePartition, MetadataResponseTopic,
};

/// The URLs of one cluster's resources.
pub struct Urls {
    pub base: String,
    pub cluster: String,
}

impl Urls {
    pub fn new(req: &Request, cluster: &str) -> Urls {
        Urls {
            base: base_url(req),
            cluster: cluster.to_string(),
        }
    }

    /// `<base>/v3/clusters/<c>` + `path` (segments already encoded).
    pub fn at(&self, path: &str) -> String {
        format!(
            "{}/v3/clusters/{}{path}",
            self.base,
            percent_encode(&self.cluster)
        )
    }

    pub fn topic(&self, t: &str) -> String {
        self.at(&format!("/topics/{}", percent_encode(t)))
    }

    pub fn partition(&self, t: &str, p: i32) -> String {
        format!("{}/partitions/{p}", self.topic(t))
    }

    pub fn broker(&self, id: i32) -> String {
        self.at(&format!("/brokers/{id}"))
    }

    pub fn crn(&self, rest: &str) -> String {
        format!("crn:///kafka={}{rest}", self.cluster)
    }

    /// `{"self": …, "resource_name": …}`.
    pub fn metadata(&self, url: String, crn_rest: &str) -> Value {
        json!({ "self": url, "resource_name": self.crn(crn_rest) })
    }

    /// A collection: `{"kind", "metadata": {"self", "next": null}, "data"}`.
    pub fn list(&self, kind: &str, url: String, data: Vec<Value>) -> Value {
        json!({ "kind": kind, "metadata": { "self": url, "next": null }, "data": data })
    }
}

pub fn ok(v: &Value) -> Answer {
    Ok(Response::json(200, V3_JSON, v))
}

fn only(req: &Request, m: Method) -> Result<(), RestError> {
    if req.method == m {
        Ok(())
    } else {
        Err(RestError::method_not_allowed())
    }
}

/// 404 unless `c` is this cluster's id.
pub fn check_cluster(rest: &Rest, c: &str) -> Result<(), RestError> {
    if c == rest.broker.cluster_id {
        Ok(())
    } else {
        Err(RestError::new(
            404,
            404,
            format!("Cluster {c} cannot be found."),
        ))
    }
}

pub async fn route(rest: &std::sync::Arc<Rest>, req: &Request) -> Answer {
    let segs = req.segs();
    let m = &req.method;
    match segs.as_slice() {
        ["v3", "clusters"] => {
            only(req, Method::GET)?;
            let u = Urls::new(req, &rest.broker.cluster_id);
            let c = cluster(rest, &u).await?;
            ok(&u.list(
                "KafkaClusterList",
                format!("{}/v3/clusters", u.base),
                vec![c],
            ))
        }
        ["v3", "clusters", c, tail @ ..] => {
            check_cluster(rest, c)?;
            let u = Urls::new(req, c);
            match tail {
                [] => {
                    only(req, Method::GET)?;
                    ok(&cluster(rest, &u).await?)
                }
                ["brokers"] => {
                    only(req, Method::GET)?;
                    let brokers = brokers(rest, &u).await?;
                    ok(&u.list("KafkaBrokerList", u.at("/brokers"), brokers))
                }
                ["brokers", id] => {
                    only(req, Method::GET)?;
                    let want = json!(id.parse::<i32>().map_err(|_| RestError::not_found())?);
                    let b = brokers(rest, &u)
                        .await?
                        .into_iter()
                        .find(|b| b["broker_id"] == want)
                        .ok_or_else(|| {
                            RestError::new(404, 404, format!("Broker {id} cannot be found."))
                        })?;
                    ok(&b)
                }
                ["topics"] => match *m {
                    Method::GET => {
                        let md = rest.metadata(None).await?;
                        let mut topics: Vec<&MetadataResponseTopic> =
                            md.topics.iter().filter(|t| t.error_code == 0).collect();
                        topics.sort_by(|a, b| name(a).cmp(name(b)));
                        let data = topics.into_iter().map(|t| topic_data(&u, t)).collect();
                        ok(&u.list("KafkaTopicList", u.at("/topics"), data))
                    }
                    Method::POST => create_topic(rest, req, &u).await,
                    _ => Err(RestError::method_not_allowed()),
                },
                ["topics", t, rest_of @ ..] => topic_route(rest, req, &u, t, rest_of).await,
                ["consumer-groups", ..] => super::groups::route(rest, req, &u, &tail[1..]).await,
                _ => Err(RestError::not_found()),
            }
        }
        _ => Err(RestError::not_found()),
    }
}

/// `…/topics/{t}/…`.
async fn topic_route(
    rest: &std::sync::Arc<Rest>,
    req: &Request,
    u: &Urls,
    t: &str,
    tail: &[&str],
) -> Answer {
    match tail {
        [] => match req.method {
            Method::GET => ok(&topic_data(u, &rest.topic_metadata(t).await?)),
            Method::DELETE => {
                rest.delete_topic(t).await?;
                Ok(Response::no_content())
            }
            Method::PATCH => {
                #[derive(Deserialize)]
                struct Patch {
                    partitions_count: i32,
                }
                let p: Patch = parse_body(req)?;
                rest.create_partitions(t, p.partitions_count).await?;
                ok(&topic_data(u, &rest.topic_metadata(t).await?))
            }
            _ => Err(RestError::method_not_allowed()),
        },
        ["partitions"] => {
            only(req, Method::GET)?;
            let md = rest.topic_metadata(t).await?;
            let mut parts: Vec<&MetadataResponsePartition> = md.partitions.iter().collect();
            parts.sort_by_key(|p| p.partition_index);
            let data = parts.into_iter().map(|p| partition_data(u, t, p)).collect();
            ok(&u.list(
                "KafkaPartitionList",
                format!("{}/partitions", u.topic(t)),
                data,
            ))
        }
        ["partitions", p, rest_of @ ..] => {
            only(req, Method::GET)?;
            let md = rest.topic_metadata(t).await?;
            let part = p
                .parse::<i32>()
                .ok()
                .and_then(|p| md.partitions.iter().find(|x| x.partition_index == p))
                .ok_or_else(|| RestError::kafka(3, None))?;
            match rest_of {
                [] => ok(&partition_data(u, t, part)),
                ["replicas"] => {
                    let data = replicas(u, t, part);
                    let url = format!("{}/replicas", u.partition(t, part.partition_index));
                    ok(&u.list("KafkaReplicaList", url, data))
                }
                ["replicas", b] => {
                    let b = b.parse::<i32>().map_err(|_| RestError::not_found())?;
                    replicas(u, t, part)
                        .into_iter()
                        .find(|r| r["broker_id"] == json!(b))
                        .map_or_else(
                            || {
                                Err(RestError::new(
                                    404,
                                    404,
                                    format!(
                                        "Replica {b} of partition {} of topic {t} could not be found.",
                                        part.partition_index
                                    ),
                                ))
                            },
                            |r| ok(&r),
                        )
                }
                _ => Err(RestError::not_found()),
            }
        }
        ["configs"] => {
            only(req, Method::GET)?;
            let data = topic_configs(rest, u, t).await?;
            ok(&u.list(
                "KafkaTopicConfigList",
                format!("{}/configs", u.topic(t)),
                data,
            ))
        }
        ["configs:alter"] => {
            only(req, Method::POST)?;
            alter_configs(rest, req, u, t).await
        }
        ["configs", name] => config(rest, req, u, t, name).await,
        ["records"] => {
            only(req, Method::POST)?;
            super::produce::v3_records(rest, req, t).await
        }
        _ => Err(RestError::not_found()),
    }
}

fn name(t: &MetadataResponseTopic) -> &str {
    t.name.as_ref().map_or("", |n| n.0.as_str())
}

async fn cluster(rest: &Rest, u: &Urls) -> Result<Value, RestError> {
    let md = rest.metadata(Some(&[])).await?;
    let controller = if md.controller_id.0 >= 0 {
        related(u.broker(md.controller_id.0))
    } else {
        Value::Null
    };
    Ok(json!({
        "kind": "KafkaCluster",
        "metadata": u.metadata(u.at(""), ""),
        "cluster_id": u.cluster,
        "controller": controller,
        "acls": related(u.at("/acls")),
        "brokers": related(u.at("/brokers")),
        "broker_configs": related(u.at("/broker-configs")),
        "consumer_groups": related(u.at("/consumer-groups")),
        "topics": related(u.at("/topics")),
        "partition_reassignments": related(u.at("/topics/-/partitions/-/reassignment")),
    }))
}

async fn brokers(rest: &Rest, u: &Urls) -> Result<Vec<Value>, RestError> {
    let md = rest.metadata(Some(&[])).await?;
    let mut bs = md.brokers;
    bs.sort_by_key(|b| b.node_id.0);
    Ok(bs
        .iter()
        .map(|b| {
            let id = b.node_id.0;
            json!({
                "kind": "KafkaBroker",
                "metadata": u.metadata(u.broker(id), &format!("/broker={id}")),
                "cluster_id": u.cluster,
                "broker_id": id,
                "host": b.host.as_str(),
                "port": b.port,
                "rack": b.rack.as_ref().map(|r| r.as_str()),
                "configs": related(format!("{}/configs", u.broker(id))),
                "partition_replicas": related(format!("{}/partition-replicas", u.broker(id))),
            })
        })
        .collect())
}

pub fn topic_data(u: &Urls, t: &MetadataResponseTopic) -> Value {
    let n = name(t);
    let rf = t.partitions.first().map_or(0, |p| p.replica_nodes.len());
    topic_value(u, n, t.is_internal, rf as i64, t.partitions.len() as i64)
}

fn topic_value(u: &Urls, n: &str, internal: bool, rf: i64, partitions: i64) -> Value {
    json!({
        "kind": "KafkaTopic",
        "metadata": u.metadata(u.topic(n), &format!("/topic={n}")),
        "cluster_id": u.cluster,
        "topic_name": n,
        "is_internal": internal,
        "replication_factor": rf,
        "partitions_count": partitions,
        "partitions": related(format!("{}/partitions", u.topic(n))),
        "configs": related(format!("{}/configs", u.topic(n))),
        "partition_reassignments": related(format!("{}/partitions/-/reassignment", u.topic(n))),
        "authorized_operations": [],
    })
}

fn partition_data(u: &Urls, t: &str, p: &MetadataResponsePartition) -> Value {
    let id = p.partition_index;
    let url = u.partition(t, id);
    let leader = if p.leader_id.0 >= 0 {
        related(format!("{url}/replicas/{}", p.leader_id.0))
    } else {
        Value::Null
    };
    json!({
        "kind": "KafkaPartition",
        "metadata": u.metadata(url.clone(), &format!("/topic={t}/partition={id}")),
        "cluster_id": u.cluster,
        "topic_name": t,
        "partition_id": id,
        "leader": leader,
        "replicas": related(format!("{url}/replicas")),
        "reassignment": related(format!("{url}/reassignment")),
    })
}

fn replicas(u: &Urls, t: &str, p: &MetadataResponsePartition) -> Vec<Value> {
    let id = p.partition_index;
    p.replica_nodes
        .iter()
        .map(|b| {
            let b = b.0;
            json!({
                "kind": "KafkaReplica",
                "metadata": u.metadata(
                    format!("{}/replicas/{b}", u.partition(t, id)),
                    &format!("/topic={t}/partition={id}/replica={b}"),
                ),
                "cluster_id": u.cluster,
                "topic_name": t,
                "partition_id": id,
                "broker_id": b,
                "is_leader": p.leader_id.0 == b,
                "is_in_sync": p.isr_nodes.iter().any(|i| i.0 == b),
                "broker": related(u.broker(b)),
            })
        })
        .collect()
}

async fn topic_configs(rest: &Rest, u: &Urls, t: &str) -> Result<Vec<Value>, RestError> {
    let r = rest.topic_configs(t).await?;
    let mut configs = r.configs;
    configs.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    Ok(configs
        .iter()
        .map(|c| {
            let n = c.name.as_str();
            json!({
                "kind": "KafkaTopicConfig",
                "metadata": u.metadata(
                    format!("{}/configs/{}", u.topic(t), percent_encode(n)),
                    &format!("/topic={t}/config={n}"),
                ),
                "cluster_id": u.cluster,
                "topic_name": t,
                "name": n,
                "value": c.value.as_ref().map(|v| v.as_str()),
                "is_default": c.config_source == 5,
                "is_read_only": c.read_only,
                "is_sensitive": c.is_sensitive,
                "source": crate::http::kafka::config_source_name(c.config_source),
                "synonyms": c.synonyms.iter().map(|s| json!({
                    "name": s.name.as_str(),
                    "value": s.value.as_ref().map(|v| v.as_str()),
                    "source": crate::http::kafka::config_source_name(s.source),
                })).collect::<Vec<_>>(),
            })
        })
        .collect())
}

fn config_not_found(u: &Urls, t: &str, name: &str) -> RestError {
    RestError::new(
        404,
        404,
        format!(
            "Config {name} cannot be found for topic {t} in cluster {}.",
            u.cluster
        ),
    )
}

async fn config(rest: &Rest, req: &Request, u: &Urls, t: &str, name: &str) -> Answer {
    let configs = topic_configs(rest, u, t).await?;
    let found = configs.into_iter().find(|c| c["name"] == json!(name));
    match req.method {
        Method::GET => found.map_or_else(|| Err(config_not_found(u, t, name)), |c| ok(&c)),
        Method::PUT => {
            #[derive(Deserialize)]
            struct Update {
                value: Option<String>,
            }
            let body: Update = parse_body(req)?;
            if found.is_none() {
                return Err(config_not_found(u, t, name));
            }
            rest.alter_topic_configs(t, &[(name.to_string(), OP_SET, body.value)], false)
                .await?;
            Ok(Response::no_content())
        }
        Method::DELETE => {
            if found.is_none() {
                return Err(config_not_found(u, t, name));
            }
            rest.alter_topic_configs(t, &[(name.to_string(), OP_DELETE, None)], false)
                .await?;
            Ok(Response::no_content())
        }
        _ => Err(RestError::method_not_allowed()),
    }
}

async fn alter_configs(rest: &Rest, req: &Request, u: &Urls, t: &str) -> Answer {
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        value: Option<String>,
        operation: Option<String>,
    }
    #[derive(Deserialize)]
    struct Batch {
        data: Vec<Entry>,
        #[serde(default)]
        validate_only: bool,
    }
    let body: Batch = parse_body(req)?;
    let configs = topic_configs(rest, u, t).await?;
    let mut ops = Vec::with_capacity(body.data.len());
    for e in body.data {
        if !configs.iter().any(|c| c["name"] == json!(e.name)) {
            return Err(config_not_found(u, t, &e.name));
        }
        let op = match e
            .operation
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("SET") => OP_SET,
            Some("DELETE") => OP_DELETE,
            Some(other) => {
                return Err(RestError::new(
                    400,
                    400,
                    format!("Unknown config operation: {other}"),
                ))
            }
        };
        ops.push((e.name, op, e.value));
    }
    rest.alter_topic_configs(t, &ops, body.validate_only)
        .await?;
    Ok(Response::no_content())
}

async fn create_topic(rest: &Rest, req: &Request, u: &Urls) -> Answer {
    #[derive(Deserialize)]
    struct Config {
        name: String,
        value: Option<String>,
    }
    #[derive(Deserialize)]
    struct Create {
        topic_name: String,
        partitions_count: Option<i32>,
        replication_factor: Option<i16>,
        #[serde(default)]
        replicas_assignments: std::collections::BTreeMap<String, Vec<i32>>,
        #[serde(default)]
        configs: Vec<Config>,
        #[serde(default)]
        validate_only: bool,
    }
    let body: Create = parse_body(req)?;
    let mut assignments = Vec::with_capacity(body.replicas_assignments.len());
    for (p, brokers) in body.replicas_assignments {
        let p = p.trim().parse::<i32>().map_err(|_| {
            RestError::unprocessable(format!("replicas_assignments: {p:?} is not a partition id"))
        })?;
        assignments.push((p, brokers));
    }
    let explicit = !assignments.is_empty();
    let configs: Vec<(String, Option<String>)> = body
        .configs
        .into_iter()
        .map(|c| (c.name, c.value))
        .collect();
    let r = rest
        .create_topic(
            &body.topic_name,
            if explicit {
                -1
            } else {
                body.partitions_count.unwrap_or(-1)
            },
            if explicit {
                -1
            } else {
                body.replication_factor.unwrap_or(-1)
            },
            assignments,
            &configs,
            body.validate_only,
        )
        .await?;
    let v = topic_value(
        u,
        &body.topic_name,
        false,
        i64::from(r.replication_factor),
        i64::from(r.num_partitions),
    );
    if body.validate_only {
        return ok(&v);
    }
    Ok(Response::json(201, V3_JSON, &v).with_header("location", &u.topic(&body.topic_name)))
}
