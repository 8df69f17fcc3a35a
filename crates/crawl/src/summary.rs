use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What one crawl did for one tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSummary {
    pub tag: String,
    /// Images saved by this run.
    pub kept: usize,
    /// Images dropped by this run as duplicates of a kept one.
    pub duplicates: usize,
    /// Items dropped by this run, by reason (`http 404`, `timeout`, …).
    pub rejected: BTreeMap<String, usize>,
    /// Items skipped because an earlier run already settled them (resume).
    pub skipped: usize,
    /// HTML pages read (search results, site pages).
    pub pages: usize,
    /// Images of the tag in `raw/` after the run, earlier runs included.
    pub total_kept: usize,
}

impl TagSummary {
    pub fn rejected_total(&self) -> usize {
        self.rejected.values().sum()
    }
}

/// What one crawl did, tag by tag in job order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrawlSummary {
    pub tags: Vec<TagSummary>,
}

impl CrawlSummary {
    pub fn tag(&self, tag: &str) -> Option<&TagSummary> {
        self.tags.iter().find(|t| t.tag == tag)
    }
}
