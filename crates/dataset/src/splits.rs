//! `splits.json`: which chips are for training, validation and testing.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_atomic_json;
use crate::error::{DatasetError, Result};

/// The content of `splits.json`, written by `kao split` and read by every later stage.
///
/// Item ids are chip paths relative to `faces/` (`ChipRecord::chip`), each list sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Splits {
    /// Seed of the deterministic shuffle: the same chips, seed and ratios give the same file.
    pub seed: u64,
    /// Relative sizes of train, validation and test (3:1:1 is `[3, 1, 1]`).
    pub ratios: [u32; 3],
    /// Perceptual-hash distance (bits of 64) at or below which source photos were grouped.
    #[serde(default)]
    pub near_distance: u32,
    pub train: Vec<String>,
    pub val: Vec<String>,
    pub test: Vec<String>,
    /// Groups of two or more chips that had to stay in one split (same source photo or
    /// near-duplicate sources), each sorted; singletons are left out.
    pub groups: Vec<Vec<String>>,
}

/// The three parts of a split, in `splits.json` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitPart {
    Train,
    Val,
    Test,
}

impl SplitPart {
    pub const ALL: [SplitPart; 3] = [SplitPart::Train, SplitPart::Val, SplitPart::Test];

    pub fn name(self) -> &'static str {
        match self {
            SplitPart::Train => "train",
            SplitPart::Val => "val",
            SplitPart::Test => "test",
        }
    }
}

impl Splits {
    pub fn part(&self, part: SplitPart) -> &[String] {
        match part {
            SplitPart::Train => &self.train,
            SplitPart::Val => &self.val,
            SplitPart::Test => &self.test,
        }
    }

    /// Which part an item is in, if any.
    pub fn part_of(&self, id: &str) -> Option<SplitPart> {
        SplitPart::ALL.into_iter().find(|&p| {
            self.part(p)
                .binary_search_by(|x| x.as_str().cmp(id))
                .is_ok()
        })
    }

    /// Reads `splits.json`.
    pub fn read(path: &Path) -> Result<Splits> {
        let bytes = std::fs::read(path).map_err(DatasetError::io(path))?;
        serde_json::from_slice(&bytes).map_err(|e| DatasetError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Writes `splits.json` atomically (a reader sees the old or the new file, never half).
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomic_json(path, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_finds_parts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("splits.json");
        let s = Splits {
            seed: 7,
            ratios: [3, 1, 1],
            near_distance: 4,
            train: vec!["a/1.png".into(), "a/2.png".into()],
            val: vec!["a/3.png".into()],
            test: vec!["a/4.png".into()],
            groups: vec![vec!["a/1.png".into(), "a/2.png".into()]],
        };
        s.write(&path).unwrap();
        let back = Splits::read(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.part_of("a/2.png"), Some(SplitPart::Train));
        assert_eq!(back.part_of("a/4.png"), Some(SplitPart::Test));
        assert_eq!(back.part_of("b/1.png"), None);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for key in ["train", "val", "test", "seed", "ratios", "groups"] {
            assert!(json.get(key).is_some(), "{key} missing");
        }
    }
}
