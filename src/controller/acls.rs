//! ACL decisions (Kafka's `AclControlManager`): CreateAcls validates each binding and writes
//! an `AccessControlEntry` record with a new id (a binding already stored, or asked twice,
//! is a no-op success); DeleteAcls writes a `RemoveAccessControlEntry` for every stored
//! binding a filter matches and answers the matches per filter.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::errors::INVALID_REQUEST;
use super::{ApiError, Controller, ControllerResult};
use crate::cluster::image::MetadataImage;
use crate::cluster::records::MetadataRecord;
use crate::security::acl::{AclBinding, AclBindingFilter};

impl Controller {
    /// A random ACL id, not nil and not in use.
    fn new_acl_id(&mut self, image: &MetadataImage) -> Uuid {
        loop {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&self.rng.next_u64().to_be_bytes());
            bytes[8..].copy_from_slice(&self.rng.next_u64().to_be_bytes());
            let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
            if !id.is_nil() && !image.acls().contains_key(&id) {
                return id;
            }
        }
    }

    /// CreateAcls: one result per binding, in order.
    pub fn create_acls(
        &mut self,
        image: &MetadataImage,
        acls: &[AclBinding],
    ) -> ControllerResult<Vec<Result<(), ApiError>>> {
        let mut records = Vec::new();
        let mut added: Vec<&AclBinding> = Vec::new();
        let mut results = Vec::with_capacity(acls.len());
        for acl in acls {
            if let Some(m) = acl.validate() {
                results.push(Err(ApiError::new(INVALID_REQUEST, m)));
                continue;
            }
            let stored = image.acls().values().any(|b| b == acl) || added.contains(&acl);
            if !stored {
                let id = self.new_acl_id(image);
                records.push(MetadataRecord::AccessControlEntry {
                    id,
                    acl: acl.clone(),
                });
                added.push(acl);
            }
            results.push(Ok(()));
        }
        ControllerResult {
            records,
            response: results,
        }
    }

    /// DeleteAcls: per filter, the bindings it matched (and removed), or why the filter is
    /// unusable.
    pub fn delete_acls(
        &mut self,
        image: &MetadataImage,
        filters: &[AclBindingFilter],
    ) -> ControllerResult<Vec<Result<Vec<AclBinding>, ApiError>>> {
        let mut removed: BTreeSet<Uuid> = BTreeSet::new();
        let mut records = Vec::new();
        let mut results = Vec::with_capacity(filters.len());
        for f in filters {
            if let Some(m) = f.indefinite() {
                results.push(Err(ApiError::new(INVALID_REQUEST, m)));
                continue;
            }
            let mut matched = Vec::new();
            for (id, b) in image.acls().iter() {
                if f.matches(b) {
                    matched.push(b.clone());
                    if removed.insert(*id) {
                        records.push(MetadataRecord::RemoveAccessControlEntry { id: *id });
                    }
                }
            }
            results.push(Ok(matched));
        }
        ControllerResult {
            records,
            response: results,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::acl::*;

    fn acl(name: &str, op: AclOperation) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern {
                resource_type: ResourceType::Topic,
                name: name.into(),
                pattern_type: PatternType::Literal,
            },
            entry: AccessControlEntry {
                principal: "User:alice".into(),
                host: "*".into(),
                operation: op,
                permission: AclPermissionType::Allow,
            },
        }
    }

    fn controller() -> Controller {
        Controller::new(crate::controller::tests::config(), 7)
    }

    #[test]
    fn create_validates_dedups_and_delete_matches() {
        let mut c = controller();
        let mut image = MetadataImage::new();
        let mut bad = acl("t", AclOperation::Read);
        bad.pattern.pattern_type = PatternType::Match;
        let r = c.create_acls(
            &image,
            &[
                acl("t", AclOperation::Read),
                bad,
                acl("t", AclOperation::Read),
                acl("u", AclOperation::Write),
            ],
        );
        assert_eq!(r.records.len(), 2);
        assert!(r.response[0].is_ok() && r.response[2].is_ok() && r.response[3].is_ok());
        assert_eq!(r.response[1].as_ref().unwrap_err().code, INVALID_REQUEST);
        image.apply_batch(1, &r.records);
        assert_eq!(image.acls().len(), 2);
        // Already stored: no record.
        let again = c.create_acls(&image, &[acl("u", AclOperation::Write)]);
        assert!(again.records.is_empty());
        // Delete by a MATCH filter on topic "t".
        let mut f = AclBindingFilter::any();
        f.pattern.resource_type = ResourceType::Topic;
        f.pattern.name = Some("t".into());
        f.pattern.pattern_type = PatternType::Match;
        let d = c.delete_acls(&image, &[f.clone(), f]);
        assert_eq!(d.records.len(), 1);
        assert_eq!(
            d.response[0].as_ref().unwrap(),
            &vec![acl("t", AclOperation::Read)]
        );
        image.apply_batch(2, &d.records);
        assert_eq!(
            image.acls().values().collect::<Vec<_>>(),
            vec![&acl("u", AclOperation::Write)]
        );
        // Snapshots keep the ACLs.
        let back = MetadataImage::from_snapshot(&image.to_snapshot()).unwrap();
        assert_eq!(back.acls(), image.acls());
    }
}
