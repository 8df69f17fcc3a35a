//! Local folders (`dir` sources): every file below the folder.

use std::path::Path;

use futures_util::stream;
use kao_dataset::WalkEntry;

use crate::crawl::{Ctx, Item, ItemKind};
use crate::error::{CrawlError, Result};
use crate::record::Reject;
use crate::store::Store;

impl Ctx<'_> {
    pub(crate) async fn dir(&self, store: &mut Store, dir: &Path) -> Result<()> {
        let root = std::path::absolute(dir).map_err(CrawlError::io(dir))?;
        if !root.is_dir() {
            return Err(CrawlError::Config(format!(
                "{}: not a folder",
                dir.display()
            )));
        }
        // An entry that cannot be read (link loop, dangling link, FIFO, device) is a
        // rejected item with its reason; the walk goes on.
        let mut items: Vec<Item> = kao_dataset::walk_files(&root)
            .map(|entry| match entry {
                WalkEntry::File(path) => Item {
                    source: path.display().to_string(),
                    referrer: None,
                    kind: ItemKind::File(path),
                },
                WalkEntry::Unreadable(e) => Item {
                    source: e.path().display().to_string(),
                    referrer: None,
                    kind: ItemKind::Rejected(Reject::new(e.kind(), e.reason())),
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
