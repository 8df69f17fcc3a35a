//! Image search results pages (`bing` sources).

use std::collections::HashSet;

use futures_util::stream;
use url::Url;

use crate::crawl::{parse_url, Ctx, Item};
use crate::error::Result;
use crate::html;
use crate::store::Store;

impl Ctx<'_> {
    pub(crate) async fn bing(&self, store: &mut Store, query: &str, max: usize) -> Result<()> {
        let endpoint = parse_url(&self.opts.bing_endpoint)?;
        let page_size = self.opts.bing_page_size.max(1);
        let mut seen: HashSet<Url> = HashSet::new();
        let mut kept = 0;
        for page in 0..self.opts.max_pages {
            let mut url = endpoint.clone();
            url.query_pairs_mut()
                .append_pair("q", query)
                .append_pair("first", &(1 + page * page_size).to_string())
                .append_pair("count", &page_size.to_string());
            let Some(fetched) = self.page(store, &url, None, true).await? else {
                break;
            };
            let text = String::from_utf8_lossy(&fetched.bytes);
            let results = html::search_results(&text, &fetched.url);
            let mut items: Vec<Item> = results
                .into_iter()
                .filter(|u| seen.insert(u.clone()))
                .map(|u| Item::url(u, Some(url.to_string()), true))
                .collect();
            tracing::debug!(page = %url, new = items.len(), "search results page");
            if items.is_empty() {
                break;
            }
            self.mark_done(store, &mut items);
            self.found(store, items.len());
            self.settle(store, stream::iter(items), Some(max), &mut kept)
                .await?;
            if kept >= max {
                break;
            }
        }
        Ok(())
    }
}
