//! The client quotas of the metadata image (Kafka's `ClientQuotasImage`): entity → key →
//! value, changed only by `ClientQuota` records, and DescribeClientQuotas' filter over them.
//!
//! Pure data; no clock, no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::security::quota::{QuotaEntity, CLIENT_ID, IP, USER};

/// Every entity's quotas. An entity with no key left is removed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<(QuotaEntity, BTreeMap<String, f64>)>")]
#[serde(into = "Vec<(QuotaEntity, BTreeMap<String, f64>)>")]
pub struct ClientQuotasImage {
    entities: BTreeMap<QuotaEntity, BTreeMap<String, f64>>,
}

impl From<Vec<(QuotaEntity, BTreeMap<String, f64>)>> for ClientQuotasImage {
    fn from(v: Vec<(QuotaEntity, BTreeMap<String, f64>)>) -> ClientQuotasImage {
        ClientQuotasImage {
            entities: v.into_iter().filter(|(_, q)| !q.is_empty()).collect(),
        }
    }
}

impl From<ClientQuotasImage> for Vec<(QuotaEntity, BTreeMap<String, f64>)> {
    fn from(i: ClientQuotasImage) -> Self {
        i.entities.into_iter().collect()
    }
}

/// DescribeClientQuotas' match types.
pub const MATCH_TYPE_EXACT: i8 = 0;
pub const MATCH_TYPE_DEFAULT: i8 = 1;
pub const MATCH_TYPE_SPECIFIED: i8 = 2;

/// One described entity and its quotas.
pub type Described<'a> = (&'a QuotaEntity, &'a BTreeMap<String, f64>);

/// A filter that cannot be served: Kafka's error code and message.
pub type FilterError = (i16, String);

const INVALID_REQUEST: i16 = 42;
const UNSUPPORTED_VERSION: i16 = 35;

impl ClientQuotasImage {
    /// Apply a `ClientQuota` record (`None` removes the key).
    pub fn apply(&mut self, entity: &QuotaEntity, key: &str, value: Option<f64>) {
        match value {
            Some(v) => {
                self.entities
                    .entry(entity.clone())
                    .or_default()
                    .insert(key.to_string(), v);
            }
            None => {
                if let Some(q) = self.entities.get_mut(entity) {
                    q.remove(key);
                    if q.is_empty() {
                        self.entities.remove(entity);
                    }
                }
            }
        }
    }

    /// One entity's quotas.
    pub fn get(&self, entity: &QuotaEntity) -> Option<&BTreeMap<String, f64>> {
        self.entities.get(entity)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&QuotaEntity, &BTreeMap<String, f64>)> {
        self.entities.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Kafka's `ClientQuotasImage.describe`: the entities matching the filter components
    /// (entity type, match type, match), `strict`: no other entity types.
    pub fn describe(
        &self,
        components: &[(String, i8, Option<String>)],
        strict: bool,
    ) -> Result<Vec<Described<'_>>, FilterError> {
        let invalid = |m: String| (INVALID_REQUEST, m);
        let mut exact: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        let mut specified: Vec<&str> = Vec::new();
        for (entity_type, match_type, matched) in components {
            let t = entity_type.as_str();
            if t.is_empty() {
                return Err(invalid("Invalid empty entity type.".into()));
            }
            if exact.contains_key(t) || specified.contains(&t) {
                return Err(invalid(format!(
                    "Entity type {t} cannot appear more than once in the filter."
                )));
            }
            if t != IP && t != USER && t != CLIENT_ID {
                return Err((UNSUPPORTED_VERSION, format!("Unsupported entity type {t}")));
            }
            match *match_type {
                MATCH_TYPE_EXACT => match matched {
                    None => {
                        return Err(invalid(
                            "Request specified MATCH_TYPE_EXACT, but set match string to null."
                                .into(),
                        ))
                    }
                    Some(m) => {
                        exact.insert(t, Some(m.as_str()));
                    }
                },
                MATCH_TYPE_DEFAULT => {
                    if matched.is_some() {
                        return Err(invalid(
                            "Request specified MATCH_TYPE_DEFAULT, but also specified a match string."
                                .into(),
                        ));
                    }
                    exact.insert(t, None);
                }
                MATCH_TYPE_SPECIFIED => {
                    if matched.is_some() {
                        return Err(invalid(
                            "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string."
                                .into(),
                        ));
                    }
                    specified.push(t);
                }
                other => return Err(invalid(format!("Unknown match type {other}"))),
            }
        }
        let has = |t: &str| exact.contains_key(t) || specified.contains(&t);
        if has(IP) && (has(USER) || has(CLIENT_ID)) {
            return Err(invalid(
                "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component."
                    .into(),
            ));
        }
        Ok(self
            .entities
            .iter()
            .filter(|(entity, _)| {
                if strict && entity.len() != exact.len() + specified.len() {
                    return false;
                }
                exact
                    .iter()
                    .all(|(t, m)| entity.get(*t).is_some_and(|n| n.as_deref() == *m))
                    && specified.iter().all(|t| entity.contains_key(*t))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(parts: &[(&str, Option<&str>)]) -> QuotaEntity {
        parts
            .iter()
            .map(|(t, n)| (t.to_string(), n.map(str::to_string)))
            .collect()
    }

    fn image() -> ClientQuotasImage {
        let mut i = ClientQuotasImage::default();
        i.apply(
            &e(&[(USER, Some("alice"))]),
            "producer_byte_rate",
            Some(100.0),
        );
        i.apply(&e(&[(USER, None)]), "producer_byte_rate", Some(50.0));
        i.apply(
            &e(&[(USER, Some("alice")), (CLIENT_ID, Some("app"))]),
            "consumer_byte_rate",
            Some(10.0),
        );
        i.apply(&e(&[(CLIENT_ID, None)]), "request_percentage", Some(5.5));
        i.apply(
            &e(&[(IP, Some("10.0.0.1"))]),
            "connection_creation_rate",
            Some(3.0),
        );
        i
    }

    fn names(r: Vec<(&QuotaEntity, &BTreeMap<String, f64>)>) -> Vec<QuotaEntity> {
        r.into_iter().map(|(e, _)| e.clone()).collect()
    }

    #[test]
    fn apply_sets_and_removes() {
        let mut i = image();
        let alice = e(&[(USER, Some("alice"))]);
        assert_eq!(i.get(&alice).unwrap()["producer_byte_rate"], 100.0);
        i.apply(&alice, "producer_byte_rate", None);
        assert_eq!(i.get(&alice), None);
        // Removing what is not there changes nothing.
        i.apply(&alice, "producer_byte_rate", None);
        assert_eq!(i.iter().count(), 4);
    }

    #[test]
    fn filters_match_as_kafka() {
        let i = image();
        let c = |t: &str, m: i8, s: Option<&str>| (t.to_string(), m, s.map(str::to_string));
        // Non-strict exact user alice: alice and alice/app.
        let r = names(i.describe(&[c(USER, 0, Some("alice"))], false).unwrap());
        assert_eq!(
            r,
            vec![
                e(&[(CLIENT_ID, Some("app")), (USER, Some("alice"))]),
                e(&[(USER, Some("alice"))])
            ]
        );
        // Strict: alice only.
        let r = names(i.describe(&[c(USER, 0, Some("alice"))], true).unwrap());
        assert_eq!(r, vec![e(&[(USER, Some("alice"))])]);
        // Default user.
        let r = names(i.describe(&[c(USER, 1, None)], true).unwrap());
        assert_eq!(r, vec![e(&[(USER, None)])]);
        // Any user (specified), strict: alice and <default>.
        let r = names(i.describe(&[c(USER, 2, None)], true).unwrap());
        assert_eq!(r.len(), 2);
        // No components, non-strict: everything; strict: nothing.
        assert_eq!(i.describe(&[], false).unwrap().len(), 5);
        assert_eq!(i.describe(&[], true).unwrap().len(), 0);
        // IP.
        let r = names(i.describe(&[c(IP, 2, None)], false).unwrap());
        assert_eq!(r, vec![e(&[(IP, Some("10.0.0.1"))])]);
    }

    #[test]
    fn bad_filters_get_kafkas_errors() {
        let i = image();
        let c = |t: &str, m: i8, s: Option<&str>| (t.to_string(), m, s.map(str::to_string));
        let err = |comps: &[(String, i8, Option<String>)]| i.describe(comps, false).unwrap_err();
        assert_eq!(err(&[c("", 2, None)]).0, INVALID_REQUEST);
        assert_eq!(err(&[c("group", 2, None)]).0, UNSUPPORTED_VERSION);
        assert_eq!(err(&[c(USER, 0, None)]).0, INVALID_REQUEST);
        assert_eq!(err(&[c(USER, 1, Some("x"))]).0, INVALID_REQUEST);
        assert_eq!(err(&[c(USER, 2, Some("x"))]).0, INVALID_REQUEST);
        assert_eq!(err(&[c(USER, 7, None)]).0, INVALID_REQUEST);
        assert_eq!(
            err(&[c(USER, 2, None), c(USER, 1, None)]).0,
            INVALID_REQUEST
        );
        assert_eq!(err(&[c(IP, 2, None), c(USER, 2, None)]).0, INVALID_REQUEST);
    }

    #[test]
    fn snapshot_form_round_trips() {
        let i = image();
        let json = serde_json::to_vec(&i).unwrap();
        let back: ClientQuotasImage = serde_json::from_slice(&json).unwrap();
        assert_eq!(back, i);
    }
}
