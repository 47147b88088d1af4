//! AlterClientQuotas' decisions (Kafka's `ClientQuotaControlManager.alterClientQuotas`):
//! validate each entity and its quota keys and values, and write one `ClientQuota` record
//! per changed key. One result per distinct entity; INVALID_REQUEST with Kafka's messages
//! for unknown entity types, bad combinations, unknown keys and bad values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Controller, ControllerResult};
use crate::cluster::image::MetadataImage;
use crate::cluster::records::MetadataRecord;
use crate::security::quota::{
    KeyType, QuotaEntity, QuotaValue, CLIENT_ID, IP, IP_KEYS, USER, USER_CLIENT_KEYS,
};

const INVALID_REQUEST: i16 = 42;

/// One entity's alteration as the request has it: the entity's (type, name) parts in order
/// and the ops (key, value; None removes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaAlteration {
    pub entity: Vec<(String, Option<String>)>,
    pub ops: Vec<(String, Option<QuotaValue>)>,
}

/// One result: the entity (as given) and its error code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaAlterationResult {
    pub entity: Vec<(String, Option<String>)>,
    pub error_code: i16,
    pub message: Option<String>,
}

type Error = (i16, String);

fn invalid(m: impl Into<String>) -> Error {
    (INVALID_REQUEST, m.into())
}

/// Kafka's `ClientQuotaEntity.toString`-like rendering, for messages.
fn render(entity: &[(String, Option<String>)]) -> String {
    let parts: Vec<String> = entity
        .iter()
        .map(|(t, n)| format!("{t}={}", n.as_deref().unwrap_or("<default>")))
        .collect();
    format!("ClientQuotaEntity(entries={{{}}})", parts.join(", "))
}

fn validate_entity(entity: &[(String, Option<String>)]) -> Result<QuotaEntity, Error> {
    if entity.is_empty() {
        return Err(invalid("Invalid empty client quota entity"));
    }
    let mut map = QuotaEntity::new();
    for (t, n) in entity {
        if map.contains_key(t) {
            return Err(invalid(format!(
                "Invalid client quota entity, duplicate entity entry {t}"
            )));
        }
        if t != USER && t != CLIENT_ID && t != IP {
            return Err(invalid(format!("Unhandled client quota entity type: {t}")));
        }
        if n.as_deref() == Some("") {
            return Err(invalid(format!("Empty {t} not supported")));
        }
        map.insert(t.clone(), n.clone());
    }
    Ok(map)
}

fn keys_for(entity: &QuotaEntity) -> Result<&'static [(&'static str, KeyType)], Error> {
    let has = |t: &str| entity.contains_key(t);
    if has(IP) {
        if has(USER) || has(CLIENT_ID) {
            // Kafka's message, its missing space included.
            return Err(invalid(
                "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId",
            ));
        }
        if let Some(Some(ip)) = entity.get(IP) {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(invalid(format!(
                    "{ip} is not a valid IP or resolvable host."
                )));
            }
        }
        Ok(IP_KEYS)
    } else if has(USER) || has(CLIENT_ID) {
        Ok(USER_CLIENT_KEYS)
    } else {
        Err(invalid("Invalid empty client quota entity"))
    }
}

fn validate_value(keys: &[(&str, KeyType)], key: &str, value: f64) -> Result<(), Error> {
    let Some((_, kind)) = keys.iter().find(|(k, _)| *k == key) else {
        return Err(invalid(format!("Invalid configuration key {key}")));
    };
    if value.is_nan() || value <= 0.0 {
        return Err(invalid(format!("Quota {key} must be greater than 0")));
    }
    let integral = || {
        if (value % 1.0).abs() > 1e-6 {
            Err(invalid(format!("{key} cannot be a fractional value.")))
        } else {
            Ok(())
        }
    };
    match kind {
        KeyType::Double => {
            if value.is_infinite() {
                return Err(invalid(format!("Quota {key} must be finite")));
            }
            Ok(())
        }
        KeyType::Int => {
            if value > f64::from(i32::MAX) {
                return Err(invalid(format!(
                    "Proposed value for {key} is too large for an INT."
                )));
            }
            integral()
        }
        KeyType::Long => {
            if value > i64::MAX as f64 {
                return Err(invalid(format!(
                    "Proposed value for {key} is too large for a LONG."
                )));
            }
            integral()
        }
    }
}

/// The records for one entity, or its error.
fn alter_one(image: &MetadataImage, a: &QuotaAlteration) -> Result<Vec<MetadataRecord>, Error> {
    // Duplicate keys (Kafka checks them before the entity).
    let mut ops: BTreeMap<&str, Option<f64>> = BTreeMap::new();
    for (key, value) in &a.ops {
        if ops.insert(key.as_str(), value.map(|v| v.0)).is_some() {
            return Err(invalid(format!(
                "Duplicate quota key {key} not updating quota for this entity {}",
                render(&a.entity)
            )));
        }
    }
    let entity = validate_entity(&a.entity)?;
    let keys = keys_for(&entity)?;
    let current = image.client_quotas().get(&entity);
    let mut records = Vec::new();
    for (key, value) in ops {
        match value {
            None => {
                if current.is_some_and(|c| c.contains_key(key)) {
                    records.push(MetadataRecord::ClientQuota {
                        entity: entity.clone(),
                        key: key.to_string(),
                        value: None,
                    });
                }
            }
            Some(v) => {
                validate_value(keys, key, v)?;
                if current.and_then(|c| c.get(key)) != Some(&v) {
                    records.push(MetadataRecord::ClientQuota {
                        entity: entity.clone(),
                        key: key.to_string(),
                        value: Some(QuotaValue(v)),
                    });
                }
            }
        }
    }
    Ok(records)
}

impl Controller {
    /// AlterClientQuotas: one result per distinct entity, in request order; the records of
    /// the valid ones (none when `validate_only`).
    pub fn alter_client_quotas(
        &self,
        image: &MetadataImage,
        alterations: &[QuotaAlteration],
        validate_only: bool,
    ) -> ControllerResult<Vec<QuotaAlterationResult>> {
        let mut records = Vec::new();
        let mut results: Vec<QuotaAlterationResult> = Vec::new();
        let key = |e: &[(String, Option<String>)]| {
            let mut v = e.to_vec();
            v.sort();
            v
        };
        for a in alterations {
            let k = key(&a.entity);
            if let Some(prev) = results.iter_mut().find(|r| key(&r.entity) == k) {
                prev.error_code = INVALID_REQUEST;
                prev.message = Some(format!("Ignoring duplicate entity {}", render(&a.entity)));
                continue;
            }
            let (error_code, message, recs) = match alter_one(image, a) {
                Ok(r) => (0, None, r),
                Err((code, m)) => (code, Some(m), Vec::new()),
            };
            records.push((a.entity.clone(), recs));
            results.push(QuotaAlterationResult {
                entity: a.entity.clone(),
                error_code,
                message,
            });
        }
        // A duplicated entity writes nothing.
        let records = if validate_only {
            Vec::new()
        } else {
            records
                .into_iter()
                .filter(|(e, _)| results.iter().any(|r| &r.entity == e && r.error_code == 0))
                .flat_map(|(_, r)| r)
                .take(super::MAX_RECORDS_PER_USER_OP)
                .collect()
        };
        ControllerResult::new(records, results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ControllerConfig;

    fn alt(entity: &[(&str, Option<&str>)], ops: &[(&str, Option<f64>)]) -> QuotaAlteration {
        QuotaAlteration {
            entity: entity
                .iter()
                .map(|(t, n)| (t.to_string(), n.map(str::to_string)))
                .collect(),
            ops: ops
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(QuotaValue)))
                .collect(),
        }
    }

    fn run(
        image: &MetadataImage,
        a: &[QuotaAlteration],
    ) -> ControllerResult<Vec<QuotaAlterationResult>> {
        Controller::new(ControllerConfig::default(), 1).alter_client_quotas(image, a, false)
    }

    fn error(image: &MetadataImage, a: QuotaAlteration) -> String {
        let r = run(image, &[a]);
        assert!(r.records.is_empty());
        assert_eq!(r.response[0].error_code, INVALID_REQUEST);
        r.response[0].message.clone().unwrap()
    }

    #[test]
    fn valid_alterations_write_one_record_per_changed_key() {
        let mut image = MetadataImage::new();
        let a = alt(
            &[(USER, Some("alice")), (CLIENT_ID, None)],
            &[
                ("producer_byte_rate", Some(1024.0)),
                ("request_percentage", Some(12.5)),
            ],
        );
        let r = run(&image, std::slice::from_ref(&a));
        assert_eq!(r.response[0].error_code, 0);
        assert_eq!(r.records.len(), 2);
        for rec in &r.records {
            image.apply(1, rec).unwrap();
        }
        // The same values again: nothing to write.
        assert!(run(&image, std::slice::from_ref(&a)).records.is_empty());
        // Removing a key that is set writes a removal; one that is not, nothing.
        let rm = alt(
            &[(CLIENT_ID, None), (USER, Some("alice"))],
            &[("producer_byte_rate", None), ("consumer_byte_rate", None)],
        );
        let r = run(&image, &[rm]);
        assert_eq!(r.response[0].error_code, 0);
        assert_eq!(
            r.records,
            vec![MetadataRecord::ClientQuota {
                entity: [
                    (USER.to_string(), Some("alice".to_string())),
                    (CLIENT_ID.to_string(), None)
                ]
                .into_iter()
                .collect(),
                key: "producer_byte_rate".into(),
                value: None,
            }]
        );
        // validate_only writes nothing.
        let c = Controller::new(ControllerConfig::default(), 1);
        let v = alt(&[(USER, None)], &[("consumer_byte_rate", Some(5.0))]);
        let r = c.alter_client_quotas(&image, &[v], true);
        assert_eq!(r.response[0].error_code, 0);
        assert!(r.records.is_empty());
        // An IP entity takes connection_creation_rate.
        let ip = alt(
            &[(IP, Some("10.1.2.3"))],
            &[("connection_creation_rate", Some(5.0))],
        );
        assert_eq!(run(&image, &[ip]).records.len(), 1);
    }

    #[test]
    fn invalid_alterations_get_kafkas_messages() {
        let image = MetadataImage::new();
        let p = |v: f64| vec![("producer_byte_rate", Some(v))];
        assert_eq!(
            error(&image, alt(&[], &p(1.0))),
            "Invalid empty client quota entity"
        );
        assert_eq!(
            error(&image, alt(&[("group", Some("g"))], &p(1.0))),
            "Unhandled client quota entity type: group"
        );
        assert_eq!(
            error(&image, alt(&[(USER, Some(""))], &p(1.0))),
            "Empty user not supported"
        );
        assert_eq!(
            error(
                &image,
                alt(&[(USER, Some("a")), (USER, Some("b"))], &p(1.0))
            ),
            "Invalid client quota entity, duplicate entity entry user"
        );
        assert!(error(&image, alt(&[(IP, None), (USER, None)], &p(1.0)))
            .starts_with("Invalid quota entity combination"));
        assert_eq!(
            error(
                &image,
                alt(
                    &[(IP, Some("not-an-ip"))],
                    &[("connection_creation_rate", Some(1.0))]
                )
            ),
            "not-an-ip is not a valid IP or resolvable host."
        );
        assert_eq!(
            error(&image, alt(&[(USER, None)], &[("bogus", Some(1.0))])),
            "Invalid configuration key bogus"
        );
        assert_eq!(
            error(&image, alt(&[(IP, None)], &p(1.0))),
            "Invalid configuration key producer_byte_rate"
        );
        assert_eq!(
            error(&image, alt(&[(USER, None)], &p(0.0))),
            "Quota producer_byte_rate must be greater than 0"
        );
        assert_eq!(
            error(&image, alt(&[(USER, None)], &p(1.5))),
            "producer_byte_rate cannot be a fractional value."
        );
        assert_eq!(
            error(&image, alt(&[(USER, None)], &p(1e300))),
            "Proposed value for producer_byte_rate is too large for a LONG."
        );
        assert!(error(
            &image,
            alt(
                &[(USER, None)],
                &[
                    ("producer_byte_rate", Some(1.0)),
                    ("producer_byte_rate", None)
                ]
            )
        )
        .starts_with("Duplicate quota key producer_byte_rate"));
        // One bad key fails the whole entity; another entity still goes through.
        let r = run(
            &image,
            &[
                alt(
                    &[(USER, None)],
                    &[("consumer_byte_rate", Some(1.0)), ("bogus", Some(1.0))],
                ),
                alt(&[(CLIENT_ID, None)], &[("consumer_byte_rate", Some(1.0))]),
            ],
        );
        assert_eq!(r.response[0].error_code, INVALID_REQUEST);
        assert_eq!(r.response[1].error_code, 0);
        assert_eq!(r.records.len(), 1);
        // A duplicated entity: one result, an error, nothing written.
        let r = run(
            &image,
            &[
                alt(&[(USER, None)], &[("consumer_byte_rate", Some(1.0))]),
                alt(&[(USER, None)], &[("producer_byte_rate", Some(1.0))]),
            ],
        );
        assert_eq!(r.response.len(), 1);
        assert_eq!(r.response[0].error_code, INVALID_REQUEST);
        assert!(r.records.is_empty());
    }
}
