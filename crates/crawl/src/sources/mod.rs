//! One module per source kind, each an `impl` of the crawl context that lists its items
//! and settles them through [`Ctx::settle`](crate::crawl::Ctx).

mod archive;
mod bing;
mod dir;
mod site;
mod urls;
