//! Whole-site crawls (`site` sources): pages breadth-first to a depth, every image they show.

use std::collections::HashSet;

use futures_util::stream::{self, StreamExt};
use url::Url;

use crate::crawl::{parse_url, Ctx, Item, ItemKind};
use crate::error::{CrawlError, Result};
use crate::html;
use crate::store::Store;

impl Ctx<'_> {
    pub(crate) async fn site(
        &self,
        store: &mut Store,
        starts: &[String],
        depth: u32,
        hosts: &[String],
        max: Option<usize>,
    ) -> Result<()> {
        if starts.is_empty() {
            return Err(CrawlError::Config("a site crawl needs start URLs".into()));
        }
        let starts: Vec<Url> = starts.iter().map(|s| parse_url(s)).collect::<Result<_>>()?;
        let mut allowed: HashSet<String> = hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
        allowed.extend(
            starts
                .iter()
                .filter_map(|u| u.host_str().map(str::to_ascii_lowercase)),
        );
        let max_pages = self.opts.max_pages.saturating_mul(10);
        let mut seen_pages: HashSet<Url> = starts.iter().cloned().collect();
        let mut seen_images: HashSet<String> = HashSet::new();
        let mut images: Vec<Item> = Vec::new();
        let mut level: Vec<(Url, Option<String>)> = starts.into_iter().map(|u| (u, None)).collect();
        let mut crawled = 0;
        for d in 0..=depth {
            if level.is_empty() {
                break;
            }
            let mut next = Vec::new();
            let fetched = stream::iter(level.clone())
                .map(|(u, _)| async move { self.fetch_page(&u, true).await })
                .buffered(self.opts.concurrency.max(1))
                .collect::<Vec<_>>()
                .await;
            for ((url, referrer), result) in level.into_iter().zip(fetched) {
                let page = match result {
                    Ok(p) => p,
                    Err(r) => {
                        tracing::info!(page = %url, reason = %r.reason, "page not crawled");
                        store.page_rejected(url.as_str(), referrer.as_deref(), &r)?;
                        continue;
                    }
                };
                crawled += 1;
                let is_html = page.content_type.as_deref().map_or_else(
                    || page.bytes.trim_ascii_start().starts_with(b"<"),
                    |t| t.to_ascii_lowercase().contains("html"),
                );
                if !is_html {
                    // A start URL (or a link) that is itself a picture.
                    if seen_images.insert(url.to_string()) {
                        images.push(Item {
                            source: url.to_string(),
                            referrer,
                            kind: ItemKind::Bytes(page.bytes),
                        });
                    }
                    continue;
                }
                store.summary.pages += 1;
                let links = html::extract(&String::from_utf8_lossy(&page.bytes), &page.url);
                for img in links.images {
                    if seen_images.insert(img.to_string()) {
                        images.push(Item::url(img, Some(url.to_string()), true));
                    }
                }
                if d < depth {
                    for p in links.pages {
                        let host_ok = p
                            .host_str()
                            .is_some_and(|h| allowed.contains(&h.to_ascii_lowercase()));
                        if host_ok && seen_pages.len() < max_pages && seen_pages.insert(p.clone()) {
                            next.push((p, Some(url.to_string())));
                        }
                    }
                }
            }
            tracing::debug!(
                depth = d,
                pages = crawled,
                images = images.len(),
                "site level crawled"
            );
            level = next;
        }
        self.mark_done(store, &mut images);
        self.found(store, images.len());
        let mut kept = 0;
        self.settle(store, stream::iter(images), max, &mut kept)
            .await
    }
}
