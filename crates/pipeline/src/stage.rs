use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The pipeline's stages, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Crawl, download or import every tag's sources into `raw/`.
    Collect,
    /// Detect, align and cut face chips into `faces/`.
    Crop,
    /// `splits.json`: train/validation/test, near-duplicates kept together.
    Split,
    /// Augment the training chips and compute every descriptor (cached on disk); its own
    /// command is `kao embed`.
    Augment,
    /// Fit the head: a new iteration.
    Train,
    /// Score the iteration through the Predictor on the test split (and unknown faces).
    Evaluate,
    /// Publish the iteration under the configured name.
    Publish,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Collect,
        Stage::Crop,
        Stage::Split,
        Stage::Augment,
        Stage::Train,
        Stage::Evaluate,
        Stage::Publish,
    ];

    /// The stages that run in shards (`kao collect|crop|embed --shard I/N`).
    pub const SHARDED: [Stage; 3] = [Stage::Collect, Stage::Crop, Stage::Augment];

    pub fn is_sharded(self) -> bool {
        Stage::SHARDED.contains(&self)
    }

    pub fn name(self) -> &'static str {
        match self {
            Stage::Collect => "collect",
            Stage::Crop => "crop",
            Stage::Split => "split",
            Stage::Augment => "augment",
            Stage::Train => "train",
            Stage::Evaluate => "evaluate",
            Stage::Publish => "publish",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().to_ascii_lowercase();
        // `crawl` and `embed` are what the stages' own commands are called.
        let s = match s.as_str() {
            "crawl" => "collect".into(),
            "embed" => "augment".into(),
            _ => s,
        };
        Stage::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Stage::ALL.iter().map(|s| s.name()).collect();
                format!("unknown stage {s:?} (one of {})", names.join(", "))
            })
    }
}
