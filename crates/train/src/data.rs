//! The work dir's chips, tags and split, as the trainer needs them.

use std::collections::{BTreeSet, HashMap};

use kao_dataset::{read_current_chips, ChipRecord, SplitPart, Splits, WorkDir};

use crate::error::{Result, TrainError};

/// Custom Vision's special tag: faces of other people, never predicted.
pub fn is_negative(tag: &str) -> bool {
    tag.eq_ignore_ascii_case("negative")
}

/// Chips of one split part, each with its tag name.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub splits: Splits,
    pub chips: HashMap<String, ChipRecord>,
    /// Tag names in head order: sorted, Negative last.
    pub tags: Vec<String>,
}

impl Dataset {
    pub fn load(work: &WorkDir) -> Result<Dataset> {
        let splits_path = work.splits();
        if !splits_path.exists() {
            return Err(TrainError::data(
                &splits_path,
                "missing: run `kao split` first",
            ));
        }
        let splits = Splits::read(&splits_path)?;
        // The split names chips, whatever settings cut them.
        let chips: HashMap<String, ChipRecord> = read_current_chips(work, None)?
            .into_iter()
            .map(|c| (c.chip.clone(), c))
            .collect();
        let mut names = BTreeSet::new();
        for part in SplitPart::ALL {
            for id in splits.part(part) {
                let c = chips.get(id).ok_or_else(|| {
                    TrainError::data(
                        work.faces_manifest(),
                        format!(
                            "{id} is in splits.json but is not a current chip (no record, or its file is gone): rerun `kao crop` and `kao split`"
                        ),
                    )
                })?;
                names.insert(c.source.tag.clone());
            }
        }
        let (mut tags, neg): (Vec<String>, Vec<String>) =
            names.into_iter().partition(|t| !is_negative(t));
        tags.extend(neg);
        if tags.iter().filter(|t| !is_negative(t)).count() < 2 {
            return Err(TrainError::data(
                &splits_path,
                "training needs at least two tags (besides negative)",
            ));
        }
        Ok(Dataset {
            splits,
            chips,
            tags,
        })
    }

    /// `(chip id, tag index)` of a part.
    pub fn items(&self, part: SplitPart) -> Vec<(&ChipRecord, usize)> {
        self.splits
            .part(part)
            .iter()
            .map(|id| {
                let c = &self.chips[id];
                let t = self
                    .tags
                    .iter()
                    .position(|t| *t == c.source.tag)
                    .expect("tag collected at load");
                (c, t)
            })
            .collect()
    }
}
