//! Test data: the shared real photos, found by `kao-testdata`.

pub use kao_harness::trained::lfw;
pub use kao_testdata::shared;
