//! AlterUserScramCredentials decisions, as Kafka's `ScramControlManager.alterCredentials`:
//! per user, deletions then upsertions, with Kafka's checks and messages —
//! - a user named twice in one request (deletion or upsertion, any mechanism):
//!   DUPLICATE_RESOURCE "A user credential cannot be altered twice in the same request"
//!   (the first error for a user wins; later mentions are ignored);
//! - an empty user name: UNACCEPTABLE_CREDENTIAL "Username must not be empty";
//! - an unknown mechanism: UNSUPPORTED_SASL_MECHANISM "Unknown SCRAM mechanism";
//! - iterations outside 4096..=16384: UNACCEPTABLE_CREDENTIAL "Too few iterations" /
//!   "Too many iterations";
//! - deleting a credential that does not exist: RESOURCE_NOT_FOUND "Attempt to delete a user
//!   credential that does not exist".
//!
//! An upsertion carries the salted password; the record carries only StoredKey and ServerKey
//! derived from it (the salted password is not kept). The records of one request are atomic.

use crate::cluster::image::MetadataImage;
use crate::cluster::records::MetadataRecord;
use crate::security::scram::{ScramCredential, ScramMechanism};

use super::{ApiError, Controller, ControllerResult};

/// UNSUPPORTED_SASL_MECHANISM
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
/// RESOURCE_NOT_FOUND
pub const RESOURCE_NOT_FOUND: i16 = 91;
/// DUPLICATE_RESOURCE
pub const DUPLICATE_RESOURCE: i16 = 92;
/// UNACCEPTABLE_CREDENTIAL
pub const UNACCEPTABLE_CREDENTIAL: i16 = 93;

/// One credential to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramDeletion {
    pub name: String,
    pub mechanism: i8,
}

/// One credential to add or replace, salted by the client: the controller RPC's own type.
pub use crate::cluster::controller_rpc::ScramUpsertion;

/// One user's outcome.
pub type UserResult = (String, Result<(), ApiError>);

fn check_name_and_mechanism(name: &str, mechanism: i8) -> Result<ScramMechanism, ApiError> {
    if name.is_empty() {
        return Err(ApiError::new(
            UNACCEPTABLE_CREDENTIAL,
            "Username must not be empty",
        ));
    }
    ScramMechanism::from_type_id(mechanism)
        .ok_or_else(|| ApiError::new(UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism"))
}

fn duplicate() -> ApiError {
    ApiError::new(
        DUPLICATE_RESOURCE,
        "A user credential cannot be altered twice in the same request",
    )
}

impl Controller {
    /// AlterUserScramCredentials: the records to write and one result per user (successful
    /// deletions, then successful upsertions, then errors, as Kafka orders them).
    pub fn alter_user_scram_credentials(
        &self,
        image: &MetadataImage,
        deletions: &[ScramDeletion],
        upsertions: &[ScramUpsertion],
    ) -> ControllerResult<Vec<UserResult>> {
        let scram = image.scram();
        // Kept in first-mention order (Kafka's HashMaps have none; this is deterministic).
        let mut errors: Vec<(String, ApiError)> = Vec::new();
        let mut to_delete: Vec<(String, ScramMechanism)> = Vec::new();
        let mut to_upsert: Vec<(&ScramUpsertion, ScramMechanism)> = Vec::new();
        let has_error =
            |errors: &Vec<(String, ApiError)>, n: &str| errors.iter().any(|(u, _)| u == n);

        for d in deletions {
            if has_error(&errors, &d.name) {
                continue;
            }
            if let Some(i) = to_delete.iter().position(|(u, _)| *u == d.name) {
                to_delete.remove(i);
                errors.push((d.name.clone(), duplicate()));
                continue;
            }
            let checked = check_name_and_mechanism(&d.name, d.mechanism).and_then(|m| {
                if scram.contains(&d.name, m) {
                    Ok(m)
                } else {
                    Err(ApiError::new(
                        RESOURCE_NOT_FOUND,
                        "Attempt to delete a user credential that does not exist",
                    ))
                }
            });
            match checked {
                Ok(m) => to_delete.push((d.name.clone(), m)),
                Err(e) => errors.push((d.name.clone(), e)),
            }
        }
        for u in upsertions {
            if has_error(&errors, &u.name) {
                continue;
            }
            let in_deletes = to_delete.iter().position(|(n, _)| *n == u.name);
            let in_upserts = to_upsert.iter().position(|(x, _)| x.name == u.name);
            if in_deletes.is_some() || in_upserts.is_some() {
                if let Some(i) = in_deletes {
                    to_delete.remove(i);
                }
                if let Some(i) = in_upserts {
                    to_upsert.remove(i);
                }
                errors.push((u.name.clone(), duplicate()));
                continue;
            }
            let checked = check_name_and_mechanism(&u.name, u.mechanism).and_then(|m| {
                m.check_iterations(u.iterations)
                    .map(|()| m)
                    .map_err(|msg| ApiError::new(UNACCEPTABLE_CREDENTIAL, msg))
            });
            match checked {
                Ok(m) => to_upsert.push((u, m)),
                Err(e) => errors.push((u.name.clone(), e)),
            }
        }

        let mut records = Vec::new();
        let mut results: Vec<UserResult> = Vec::new();
        for (name, m) in to_delete {
            records.push(MetadataRecord::RemoveUserScramCredential {
                name: name.clone(),
                mechanism: m.type_id(),
            });
            results.push((name, Ok(())));
        }
        for (u, m) in to_upsert {
            let c =
                ScramCredential::from_salted_password(m, &u.salted_password, &u.salt, u.iterations);
            records.push(MetadataRecord::UserScramCredential {
                name: u.name.clone(),
                mechanism: m.type_id(),
                salt: c.salt,
                stored_key: c.stored_key,
                server_key: c.server_key,
                iterations: c.iterations,
            });
            results.push((u.name.clone(), Ok(())));
        }
        results.extend(errors.into_iter().map(|(n, e)| (n, Err(e))));
        ControllerResult::new(records, results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::ControllerConfig;

    fn controller() -> Controller {
        Controller::new(ControllerConfig::default(), 1)
    }

    fn up(name: &str, m: i8, iterations: i32) -> ScramUpsertion {
        let mech = ScramMechanism::from_type_id(m).unwrap_or(ScramMechanism::Sha256);
        ScramUpsertion {
            name: name.into(),
            mechanism: m,
            iterations,
            salt: b"salt".to_vec(),
            salted_password: mech.salted_password(b"pw", b"salt", 4096),
        }
    }

    fn del(name: &str, m: i8) -> ScramDeletion {
        ScramDeletion {
            name: name.into(),
            mechanism: m,
        }
    }

    fn codes(r: &[UserResult]) -> Vec<(String, i16, Option<String>)> {
        r.iter()
            .map(|(u, res)| match res {
                Ok(()) => (u.clone(), 0, None),
                Err(e) => (u.clone(), e.code, e.message.clone()),
            })
            .collect()
    }

    fn applied(image: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        let mut next = image.clone();
        let errs = next.apply_batch(image.last_applied_index() + 1, records);
        assert!(errs.is_empty(), "{errs:?}");
        next
    }

    #[test]
    fn upsert_then_delete_round_trip() {
        let c = controller();
        let image = MetadataImage::new();
        let r = c.alter_user_scram_credentials(
            &image,
            &[],
            &[up("alice", 1, 4096), up("bob", 2, 16384)],
        );
        assert_eq!(
            codes(&r.response),
            vec![("alice".into(), 0, None), ("bob".into(), 0, None)]
        );
        assert_eq!(r.records.len(), 2);
        // The record holds keys derived from the salted password, never the salted password.
        let salted = ScramMechanism::Sha256.salted_password(b"pw", b"salt", 4096);
        let expected = ScramCredential::from_password(ScramMechanism::Sha256, "pw", b"salt", 4096);
        match &r.records[0] {
            MetadataRecord::UserScramCredential {
                name,
                mechanism,
                salt,
                stored_key,
                server_key,
                iterations,
            } => {
                assert_eq!((name.as_str(), *mechanism, *iterations), ("alice", 1, 4096));
                assert_eq!(salt, b"salt");
                assert_eq!(stored_key, &expected.stored_key);
                assert_eq!(server_key, &expected.server_key);
                assert_ne!(stored_key, &salted);
                assert_ne!(server_key, &salted);
            }
            other => panic!("{other:?}"),
        }
        let image = applied(&image, &r.records);
        assert_eq!(
            image.scram().get("alice", ScramMechanism::Sha256),
            Some(&expected)
        );
        assert_eq!(
            image.scram().mechanisms_of("bob"),
            vec![(ScramMechanism::Sha512, 16384)]
        );

        let r = c.alter_user_scram_credentials(&image, &[del("alice", 1)], &[]);
        assert_eq!(codes(&r.response), vec![("alice".into(), 0, None)]);
        let image = applied(&image, &r.records);
        assert!(image.scram().mechanisms_of("alice").is_empty());
    }

    #[test]
    fn kafkas_errors() {
        let c = controller();
        let image = applied(
            &MetadataImage::new(),
            &c.alter_user_scram_credentials(&MetadataImage::new(), &[], &[up("alice", 1, 4096)])
                .records,
        );
        let r = c.alter_user_scram_credentials(
            &image,
            &[
                del("alice", 2),
                del("", 1),
                del("x", 0),
                del("dup", 1),
                del("dup", 1),
                del("dup", 2),
            ],
            &[
                up("few", 1, 4095),
                up("many", 2, 16385),
                up("", 1, 4096),
                up("mech", 3, 4096),
                up("dup", 1, 4096),
                up("twice", 1, 4096),
                up("twice", 2, 4096),
                up("ok", 2, 8192),
            ],
        );
        let msg = |s: &str| Some(s.to_string());
        assert_eq!(
            codes(&r.response),
            vec![
                ("ok".into(), 0, None),
                (
                    "alice".into(),
                    RESOURCE_NOT_FOUND,
                    msg("Attempt to delete a user credential that does not exist")
                ),
                (
                    "".into(),
                    UNACCEPTABLE_CREDENTIAL,
                    msg("Username must not be empty")
                ),
                (
                    "x".into(),
                    UNSUPPORTED_SASL_MECHANISM,
                    msg("Unknown SCRAM mechanism")
                ),
                (
                    "dup".into(),
                    RESOURCE_NOT_FOUND,
                    msg("Attempt to delete a user credential that does not exist")
                ),
                (
                    "few".into(),
                    UNACCEPTABLE_CREDENTIAL,
                    msg("Too few iterations")
                ),
                (
                    "many".into(),
                    UNACCEPTABLE_CREDENTIAL,
                    msg("Too many iterations")
                ),
                (
                    "mech".into(),
                    UNSUPPORTED_SASL_MECHANISM,
                    msg("Unknown SCRAM mechanism")
                ),
                (
                    "twice".into(),
                    DUPLICATE_RESOURCE,
                    msg("A user credential cannot be altered twice in the same request")
                ),
            ]
        );
        // Only "ok" is written.
        assert_eq!(r.records.len(), 1);

        // A user deleted and upserted in one request, or deleted twice: DUPLICATE_RESOURCE, nothing written.
        let r = c.alter_user_scram_credentials(&image, &[del("alice", 1)], &[up("alice", 2, 4096)]);
        assert_eq!(
            r.response[0].1.as_ref().unwrap_err().code,
            DUPLICATE_RESOURCE
        );
        assert!(r.records.is_empty());
        let r = c.alter_user_scram_credentials(&image, &[del("alice", 1), del("alice", 1)], &[]);
        assert_eq!(
            codes(&r.response),
            vec![(
                "alice".into(),
                DUPLICATE_RESOURCE,
                msg("A user credential cannot be altered twice in the same request")
            )]
        );
        assert!(r.records.is_empty());
    }
}
