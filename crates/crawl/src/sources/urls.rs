//! URL lists (`urls` sources): one URL a line.

use std::path::Path;

use futures_util::stream;
use url::Url;

use crate::crawl::{Ctx, Item, ItemKind};
use crate::error::{CrawlError, Result};
use crate::record::Reject;
use crate::store::Store;

impl Ctx<'_> {
    pub(crate) async fn urls(&self, store: &mut Store, file: &Path) -> Result<()> {
        let text = std::fs::read_to_string(file).map_err(CrawlError::io(file))?;
        let mut items: Vec<Item> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|line| match Url::parse(line) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Item::url(u, None, false),
                Ok(u) => Item {
                    source: line.to_string(),
                    referrer: None,
                    kind: ItemKind::Rejected(Reject::new(
                        "invalid_url",
                        format!("unsupported scheme {}", u.scheme()),
                    )),
                },
                Err(e) => Item {
                    source: line.to_string(),
                    referrer: None,
                    kind: ItemKind::Rejected(Reject::new("invalid_url", e.to_string())),
                },
            })
            .collect();
        self.mark_done(store, &mut items);
        self.found(store, items.len());
        let mut kept = 0;
        self.settle(store, stream::iter(items), None, &mut kept)
            .await
    }
}
