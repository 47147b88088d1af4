//! Users' SCRAM credentials in the metadata image (Kafka's `ScramImage`): (user, mechanism) →
//! salted credential, built from `UserScramCredential` / `RemoveUserScramCredential` records and
//! carried in image snapshots. Also [`ScramCredentials`], the shared handle a broker keeps of
//! the newest credentials, which SASL/SCRAM authentication looks users up in.
//!
//! Pure data; no I/O.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::security::sasl::CredentialStore;
use crate::security::scram::{ScramCredential, ScramMechanism};

/// Kafka's messages (ScramImage.describe).
pub const DESCRIBE_DUPLICATE_USER: &str =
    "Cannot describe SCRAM credentials for the same user twice in a single request: ";
pub const DESCRIBE_USER_THAT_DOES_NOT_EXIST: &str =
    "Attempt to describe a user credential that does not exist: ";

/// One user's credential, as a snapshot stores it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ScramEntry {
    pub name: String,
    pub mechanism: i8,
    pub credential: ScramCredential,
}

/// Every user's SCRAM credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScramImage {
    credentials: BTreeMap<(String, ScramMechanism), ScramCredential>,
}

/// One user's outcome in DescribeUserScramCredentials: (mechanism, iterations) pairs, or an
/// error code and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserDescription {
    pub user: String,
    pub result: Result<Vec<(ScramMechanism, i32)>, (i16, String)>,
}

/// RESOURCE_NOT_FOUND
pub const RESOURCE_NOT_FOUND: i16 = 91;
/// DUPLICATE_RESOURCE
pub const DUPLICATE_RESOURCE: i16 = 92;

impl ScramImage {
    pub fn new() -> ScramImage {
        ScramImage::default()
    }

    /// Apply a `UserScramCredential` record. An unknown mechanism type changes nothing (Err).
    pub fn upsert(
        &mut self,
        name: &str,
        mechanism: i8,
        credential: ScramCredential,
    ) -> Result<(), String> {
        let m = ScramMechanism::from_type_id(mechanism)
            .ok_or_else(|| format!("unknown SCRAM mechanism type {mechanism}"))?;
        self.credentials.insert((name.to_string(), m), credential);
        Ok(())
    }

    /// Apply a `RemoveUserScramCredential` record; Err when there was nothing to remove.
    pub fn remove(&mut self, name: &str, mechanism: i8) -> Result<(), String> {
        let m = ScramMechanism::from_type_id(mechanism)
            .ok_or_else(|| format!("unknown SCRAM mechanism type {mechanism}"))?;
        self.credentials
            .remove(&(name.to_string(), m))
            .map(drop)
            .ok_or_else(|| format!("no {} credential for user {name}", m.name()))
    }

    pub fn get(&self, name: &str, mechanism: ScramMechanism) -> Option<&ScramCredential> {
        self.credentials.get(&(name.to_string(), mechanism))
    }

    pub fn contains(&self, name: &str, mechanism: ScramMechanism) -> bool {
        self.get(name, mechanism).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.credentials.is_empty()
    }

    /// Every user with at least one credential, sorted.
    pub fn users(&self) -> Vec<String> {
        let mut v: Vec<String> = self.credentials.keys().map(|(u, _)| u.clone()).collect();
        v.dedup();
        v
    }

    /// A user's (mechanism, iterations), by mechanism type.
    pub fn mechanisms_of(&self, name: &str) -> Vec<(ScramMechanism, i32)> {
        ScramMechanism::ALL
            .iter()
            .filter_map(|m| self.get(name, *m).map(|c| (*m, c.iterations)))
            .collect()
    }

    /// DescribeUserScramCredentials as Kafka's `ScramImage.describe` answers it: `None` or no
    /// users = every user with credentials; a user named twice is DUPLICATE_RESOURCE (once);
    /// a user without credentials RESOURCE_NOT_FOUND. One result per distinct user, in the
    /// order first named (sorted for "all").
    pub fn describe(&self, users: Option<&[String]>) -> Vec<UserDescription> {
        let asked: Vec<(String, bool)> = match users {
            None | Some([]) => self.users().into_iter().map(|u| (u, false)).collect(),
            Some(list) => {
                let mut out: Vec<(String, bool)> = Vec::new();
                for u in list {
                    match out.iter_mut().find(|(n, _)| n == u) {
                        Some(e) => e.1 = true,
                        None => out.push((u.clone(), false)),
                    }
                }
                out
            }
        };
        asked
            .into_iter()
            .map(|(user, duplicate)| {
                let result = if duplicate {
                    Err((
                        DUPLICATE_RESOURCE,
                        format!("{DESCRIBE_DUPLICATE_USER}{user}"),
                    ))
                } else {
                    let infos = self.mechanisms_of(&user);
                    if infos.is_empty() {
                        Err((
                            RESOURCE_NOT_FOUND,
                            format!("{DESCRIBE_USER_THAT_DOES_NOT_EXIST}{user}"),
                        ))
                    } else {
                        Ok(infos)
                    }
                };
                UserDescription { user, result }
            })
            .collect()
    }

    /// For a snapshot.
    pub fn entries(&self) -> Vec<ScramEntry> {
        self.credentials
            .iter()
            .map(|((name, m), c)| ScramEntry {
                name: name.clone(),
                mechanism: m.type_id(),
                credential: c.clone(),
            })
            .collect()
    }

    /// From a snapshot (entries of unknown mechanisms are skipped).
    pub fn from_entries(entries: Vec<ScramEntry>) -> ScramImage {
        let mut image = ScramImage::new();
        for e in entries {
            let _ = image.upsert(&e.name, e.mechanism, e.credential);
        }
        image
    }
}

/// The newest SCRAM credentials a broker has applied, shared with the SASL mechanisms
/// (a [`CredentialStore`] for SCRAM; it knows no PLAIN users).
#[derive(Clone, Default)]
pub struct ScramCredentials {
    current: Arc<RwLock<Arc<ScramImage>>>,
}

impl std::fmt::Debug for ScramCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredentials")
            .field("users", &self.get().users().len())
            .finish()
    }
}

impl ScramCredentials {
    pub fn new() -> ScramCredentials {
        ScramCredentials::default()
    }

    /// Replace the credentials (from a newly applied metadata image).
    pub fn set(&self, image: Arc<ScramImage>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = image;
    }

    pub fn get(&self) -> Arc<ScramImage> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }
}

impl CredentialStore for ScramCredentials {
    fn plain_password_ok(&self, _user: &str, _password: &str) -> bool {
        false
    }

    fn scram_credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.get().get(user, mechanism).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::image::MetadataImage;
    use crate::cluster::records::{decode_batch, encode_batch, MetadataRecord};

    fn upsert(name: &str, m: ScramMechanism, pw: &str, iterations: i32) -> MetadataRecord {
        let c = ScramCredential::from_password(m, pw, b"salt", iterations);
        MetadataRecord::UserScramCredential {
            name: name.into(),
            mechanism: m.type_id(),
            salt: c.salt,
            stored_key: c.stored_key,
            server_key: c.server_key,
            iterations,
        }
    }

    fn remove(name: &str, m: ScramMechanism) -> MetadataRecord {
        MetadataRecord::RemoveUserScramCredential {
            name: name.into(),
            mechanism: m.type_id(),
        }
    }

    #[test]
    fn records_build_the_credentials_and_survive_snapshots() {
        let batch = vec![
            upsert("alice", ScramMechanism::Sha256, "a", 4096),
            upsert("alice", ScramMechanism::Sha512, "a5", 8192),
            upsert("bob", ScramMechanism::Sha256, "b", 4096),
        ];
        assert_eq!(decode_batch(&encode_batch(&batch)).unwrap(), batch);
        let mut image = MetadataImage::new();
        assert!(image.apply_batch(1, &batch).is_empty());
        assert_eq!(image.scram().users(), vec!["alice", "bob"]);
        assert_eq!(
            image.scram().mechanisms_of("alice"),
            vec![
                (ScramMechanism::Sha256, 4096),
                (ScramMechanism::Sha512, 8192)
            ]
        );
        let expected = ScramCredential::from_password(ScramMechanism::Sha512, "a5", b"salt", 8192);
        assert_eq!(
            image.scram().get("alice", ScramMechanism::Sha512),
            Some(&expected)
        );

        // A replacement, a removal, a removal of nothing (changes nothing, reported).
        let errors = image.apply_batch(
            2,
            &[
                upsert("bob", ScramMechanism::Sha256, "b2", 10000),
                remove("alice", ScramMechanism::Sha256),
                remove("carol", ScramMechanism::Sha256),
            ],
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, 2);
        assert_eq!(
            image.scram().mechanisms_of("alice"),
            vec![(ScramMechanism::Sha512, 8192)]
        );
        assert_eq!(
            image.scram().mechanisms_of("bob"),
            vec![(ScramMechanism::Sha256, 10000)]
        );

        let restored = MetadataImage::from_snapshot(&image.to_snapshot()).unwrap();
        assert_eq!(restored, image);
        assert_eq!(
            restored.scram().get("bob", ScramMechanism::Sha256),
            image.scram().get("bob", ScramMechanism::Sha256)
        );
        // A snapshot written before SCRAM existed has no credentials.
        let mut old: serde_json::Value =
            serde_json::from_slice(&MetadataImage::new().to_snapshot()).unwrap();
        old.as_object_mut().unwrap().remove("scram");
        let restored = MetadataImage::from_snapshot(&serde_json::to_vec(&old).unwrap()).unwrap();
        assert!(restored.scram().is_empty());
    }

    #[test]
    fn describe_as_kafka_does() {
        let mut image = MetadataImage::new();
        image.apply_batch(
            1,
            &[
                upsert("alice", ScramMechanism::Sha256, "a", 4096),
                upsert("bob", ScramMechanism::Sha512, "b", 5000),
            ],
        );
        let s = image.scram();
        let all = s.describe(None);
        assert_eq!(
            all,
            vec![
                UserDescription {
                    user: "alice".into(),
                    result: Ok(vec![(ScramMechanism::Sha256, 4096)])
                },
                UserDescription {
                    user: "bob".into(),
                    result: Ok(vec![(ScramMechanism::Sha512, 5000)])
                },
            ]
        );
        assert_eq!(s.describe(Some(&[])), all);
        let asked: Vec<String> = ["bob", "carol", "alice", "bob"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            s.describe(Some(&asked)),
            vec![
                UserDescription {
                    user: "bob".into(),
                    result: Err((DUPLICATE_RESOURCE, "Cannot describe SCRAM credentials for the same user twice in a single request: bob".into()))
                },
                UserDescription {
                    user: "carol".into(),
                    result: Err((RESOURCE_NOT_FOUND, "Attempt to describe a user credential that does not exist: carol".into()))
                },
                UserDescription { user: "alice".into(), result: Ok(vec![(ScramMechanism::Sha256, 4096)]) },
            ]
        );
    }

    #[test]
    fn the_shared_handle_serves_scram_lookups() {
        let mut image = MetadataImage::new();
        image.apply_batch(1, &[upsert("alice", ScramMechanism::Sha256, "a", 4096)]);
        let creds = ScramCredentials::new();
        assert!(creds
            .scram_credential("alice", ScramMechanism::Sha256)
            .is_none());
        creds.set(image.scram());
        assert!(creds
            .scram_credential("alice", ScramMechanism::Sha256)
            .is_some());
        assert!(creds
            .scram_credential("alice", ScramMechanism::Sha512)
            .is_none());
        assert!(!creds.plain_password_ok("alice", "a"));
    }
}
