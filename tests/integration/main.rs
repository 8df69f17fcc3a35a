//! End-to-end tests of the `kao` binary.

mod bad_entries;
mod crawl;
mod crop;
mod durability;
mod inspect;
mod server;
mod train;
mod training_api;

pub use kao_testdata::shared;
