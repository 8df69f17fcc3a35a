//! Ids that must never change once a client has seen them: the project's and each tag's.

use std::collections::BTreeMap;

use kao_dataset::{write_atomic_json, WorkDir};
use serde::{Deserialize, Serialize};

use crate::error::{InferError, Result};
use crate::time::now_rfc3339;

/// `W/project.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub created_at: String,
}

/// The project id (a UUID v4), created on first use and kept in `W/project.json`.
pub fn project_id(work: &WorkDir) -> Result<String> {
    let path = work.project_id();
    match std::fs::read(&path) {
        Ok(bytes) => {
            let p: Project = serde_json::from_slice(&bytes).map_err(InferError::json(&path))?;
            Ok(p.id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let p = Project {
                id: uuid::Uuid::new_v4().to_string(),
                created_at: now_rfc3339(),
            };
            write_atomic_json(&path, &p)?;
            Ok(p.id)
        }
        Err(e) => Err(InferError::io(&path)(e)),
    }
}

/// The id of an iteration as the Prediction API reports it: UUID-shaped, as Custom
/// Vision's iteration ids (SDKs parse them as GUIDs), derived from the project, the
/// iteration number and the head's checksum, so a retrained iteration gets a new one.
pub fn iteration_id(project_id: &str, artifact: &crate::ModelArtifact) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(project_id.as_bytes());
    h.update(artifact.iteration.to_le_bytes());
    h.update(artifact.head.sha256.as_bytes());
    let mut bytes: [u8; 16] = h.finalize()[..16].try_into().expect("16 of 32 bytes");
    // Version 8 (custom, RFC 9562) and the RFC variant: a well-formed UUID that is not random.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}

/// Stable ids for `names`: existing ones are reused, new names get a fresh UUID v4 and the
/// file is rewritten (atomically) only when something was added.
pub fn tag_ids(work: &WorkDir, names: &[String]) -> Result<BTreeMap<String, String>> {
    let path = work.tags();
    let mut ids: BTreeMap<String, String> = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(InferError::json(&path))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
        Err(e) => return Err(InferError::io(&path)(e)),
    };
    let mut added = false;
    for name in names {
        if !ids.contains_key(name) {
            ids.insert(name.clone(), uuid::Uuid::new_v4().to_string());
            added = true;
        }
    }
    if added {
        write_atomic_json(&path, &ids)?;
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let work = WorkDir::new(dir.path());
        let p = project_id(&work).unwrap();
        assert_eq!(uuid::Uuid::parse_str(&p).unwrap().get_version_num(), 4);
        assert_eq!(project_id(&work).unwrap(), p);

        let a = tag_ids(&work, &["alice".into(), "bob".into()]).unwrap();
        let b = tag_ids(&work, &["bob".into(), "carol".into()]).unwrap();
        assert_eq!(a["alice"], b["alice"]);
        assert_eq!(a["bob"], b["bob"]);
        assert_ne!(b["carol"], b["bob"]);
        assert_eq!(b.len(), 3);
    }
}
