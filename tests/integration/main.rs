//! End-to-end tests of the `kao` binary.

mod bad_entries;
mod crawl;
mod crop;
mod inspect;
mod train;

pub use kao_testdata::shared;
