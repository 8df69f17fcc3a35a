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
    /// Augment the training chips and compute every descriptor (cached on disk).
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
        // `crawl` is what the stage's own command is called.
        let s = if s == "crawl" { "collect".into() } else { s };
        Stage::ALL
            .into_iter()
            .find(|st| st.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Stage::ALL.iter().map(|s| s.name()).collect();
                format!("unknown stage {s:?} (one of {})", names.join(", "))
            })
    }
}
