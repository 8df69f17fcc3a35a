use kao_image::{Format, PerceptualHash};
use serde::{Deserialize, Serialize};

/// What became of one URL, file or archive member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Saved as `raw/<file>`.
    Kept,
    /// The same picture (same bytes, or a perceptual hash within
    /// [`kao_image::NEAR_DUPLICATE_DISTANCE`] bits) as an image kept earlier for the tag.
    Duplicate,
    /// Dropped; `reason` says why.
    Rejected,
}

/// One line of `raw/manifest.jsonl`.
///
/// Reasons are short and stable: `http 404`, `timeout`, `connection`,
/// `too_many_redirects`, `too_large`, `not_an_image`, `unsupported_format`, `truncated`,
/// `corrupt`, `too_small`, `robots`, `invalid_url`, `io`, `duplicate_of <source>`;
/// `detail` has the human-readable story.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawRecord {
    pub tag: String,
    /// The URL, the absolute file path, or `<archive>#<member>`.
    pub source: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The page that pointed at the source (search results page, site page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// True for an HTML page that could not be crawled (pages are never kept).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub page: bool,
    /// Kept: the saved file, relative to `raw/` with `/` (`<tag>/<id16>.<ext>`).
    /// Duplicate: the kept file it duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Duplicate: the source of the kept image it duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// SHA-256 of the bytes (kept and duplicates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phash: Option<PerceptualHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl RawRecord {
    pub(crate) fn rejected(tag: &str, source: &str, reject: &Reject) -> Self {
        RawRecord {
            tag: tag.to_string(),
            source: source.to_string(),
            outcome: Outcome::Rejected,
            reason: Some(reject.reason.clone()),
            detail: Some(reject.detail.clone()),
            referrer: None,
            page: false,
            file: None,
            duplicate_of: None,
            content_id: None,
            phash: None,
            format: None,
            width: None,
            height: None,
            bytes: None,
        }
    }

    /// The reason without its argument: `duplicate_of …` → `duplicate_of`; others as is.
    pub fn reason_kind(&self) -> Option<&str> {
        self.reason.as_deref().map(|r| {
            if r.starts_with("duplicate_of") {
                "duplicate_of"
            } else {
                r
            }
        })
    }

    /// Whether a rerun should try this source again: failures that may pass (timeouts,
    /// connection errors, 5xx, 429) are retried; everything else is final.
    pub fn is_final(&self) -> bool {
        match self.outcome {
            Outcome::Kept | Outcome::Duplicate => true,
            Outcome::Rejected => !is_transient(self.reason.as_deref().unwrap_or("")),
        }
    }
}

pub(crate) fn is_transient(reason: &str) -> bool {
    match reason {
        "timeout" | "connection" | "io" | "http 429" => true,
        r => r
            .strip_prefix("http ")
            .and_then(|code| code.parse::<u16>().ok())
            .is_some_and(|code| code >= 500),
    }
}

/// Why one item was dropped: a stable short reason and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reject {
    pub reason: String,
    pub detail: String,
}

impl Reject {
    pub fn new(reason: impl Into<String>, detail: impl Into<String>) -> Self {
        Reject {
            reason: reason.into(),
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_reasons() {
        for r in ["timeout", "connection", "http 500", "http 503", "http 429"] {
            assert!(is_transient(r), "{r}");
        }
        for r in [
            "http 404",
            "robots",
            "too_small",
            "not_an_image",
            "too_large",
        ] {
            assert!(!is_transient(r), "{r}");
        }
    }

    #[test]
    fn record_round_trips_compactly() {
        let r = RawRecord::rejected(
            "bush",
            "http://x/a.jpg",
            &Reject::new("http 404", "Not Found"),
        );
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"tag":"bush","source":"http://x/a.jpg","outcome":"rejected","reason":"http 404","detail":"Not Found"}"#
        );
        assert_eq!(serde_json::from_str::<RawRecord>(&json).unwrap(), r);
    }
}
