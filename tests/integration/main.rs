//! End-to-end tests of the `kao` binary.

mod crawl;
mod crop;
mod inspect;
mod open_set;
mod train;

pub use kao_testdata::shared;
