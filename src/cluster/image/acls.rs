//! The ACLs of the metadata image (Kafka's `AclsImage`): id → binding, shared as one `Arc`
//! so that an image clone is cheap and readers can tell when the ACLs changed.

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use super::ImageError;
use crate::security::acl::AclBinding;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AclImage {
    acls: Arc<BTreeMap<Uuid, AclBinding>>,
}

impl AclImage {
    pub fn from_list(list: Vec<(Uuid, AclBinding)>) -> AclImage {
        AclImage {
            acls: Arc::new(list.into_iter().collect()),
        }
    }

    pub fn all(&self) -> &Arc<BTreeMap<Uuid, AclBinding>> {
        &self.acls
    }

    /// An `AccessControlEntry` record (a re-used id replaces its binding).
    pub fn add(&mut self, id: Uuid, acl: &AclBinding) {
        Arc::make_mut(&mut self.acls).insert(id, acl.clone());
    }

    /// A `RemoveAccessControlEntry` record.
    pub fn remove(&mut self, id: Uuid) -> Result<(), ImageError> {
        if !self.acls.contains_key(&id) {
            return Err(ImageError::UnknownAcl(id));
        }
        Arc::make_mut(&mut self.acls).remove(&id);
        Ok(())
    }

    /// The id of a binding equal to `acl`, if stored.
    pub fn id_of(&self, acl: &AclBinding) -> Option<Uuid> {
        self.acls.iter().find(|(_, b)| *b == acl).map(|(id, _)| *id)
    }
}
