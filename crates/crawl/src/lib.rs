#![doc = include_str!("../README.md")]

mod archive;
mod crawl;
mod downloads;
mod error;
mod fetch;
mod html;
mod options;
mod record;
mod robots;
mod source;
mod sources;
mod store;
mod summary;

pub use crawl::{
    crawl, crawl_blocking, crawl_blocking_into, crawl_into, no_progress, CrawlEvent, Progress,
};
pub use error::{CrawlError, Result};
pub use options::{parse_duration, AddressFilter, CrawlOptions, MinSize};
pub use record::{Outcome, RawRecord};
pub use source::{Source, TagJob, DEFAULT_BING_MAX};
pub use summary::{CrawlSummary, TagSummary};
