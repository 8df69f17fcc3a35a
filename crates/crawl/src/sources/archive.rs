//! Archives (`archive` sources): members of a local or downloaded tar, tar.gz or zip, streamed.

use std::collections::HashMap;

use futures_util::stream::{self, StreamExt};

use crate::archive::{self, Take};
use crate::crawl::{CrawlEvent, Ctx, Item, ItemKind};
use crate::error::{CrawlError, Result};
use crate::record::Outcome;
use crate::store::Store;

impl Ctx<'_> {
    pub(crate) async fn archive(
        &self,
        store: &mut Store,
        spec: &str,
        glob: Option<&str>,
        sha256: Option<&str>,
    ) -> Result<()> {
        let matcher = glob.map(archive::matcher).transpose()?;
        let (path, id) = self.downloads.resolve(self, spec, sha256).await?;
        let kind = archive::sniff(&path)?;
        let done: HashMap<String, Outcome> = store.done_with_prefix(&format!("{id}#"));
        let max_bytes = self.opts.max_bytes;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Item>(self.opts.concurrency.max(1) * 2);
        let reader = tokio::task::spawn_blocking(move || {
            let source = |name: &str| format!("{id}#{name}");
            let mut take = |name: &str| {
                if done.contains_key(&source(name)) {
                    Take::Skip
                } else {
                    Take::Read
                }
            };
            let mut sink = |member: Option<archive::Member>, name: &str| {
                let src = source(name);
                let kind = match member {
                    None => ItemKind::Done(done[&src]),
                    Some(m) => match m.content {
                        Ok(bytes) => ItemKind::Bytes(bytes),
                        Err(r) => ItemKind::Rejected(r),
                    },
                };
                let item = Item {
                    source: src,
                    referrer: None,
                    kind,
                };
                tx.blocking_send(item).is_ok()
            };
            archive::walk(
                &path,
                kind,
                matcher.as_ref(),
                max_bytes,
                &mut take,
                &mut sink,
            )
        });
        let items = stream::poll_fn(move |cx| rx.poll_recv(cx));
        let progress = self.progress;
        let tag = store.tag().to_string();
        let items = items.inspect(move |_| {
            progress(&CrawlEvent::Found {
                tag: &tag,
                count: 1,
            })
        });
        let mut kept = 0;
        let settled = self.settle(store, items, None, &mut kept).await;
        let walked = reader.await.map_err(|e| CrawlError::Archive {
            what: spec.to_string(),
            message: format!("reader failed: {e}"),
        })?;
        settled?;
        walked
    }
}
