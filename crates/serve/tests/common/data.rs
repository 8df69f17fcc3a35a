//! Test data: the shared real photos, found by `kao-testdata`.

use std::path::PathBuf;

pub use kao_testdata::shared;

pub fn lfw(person: &str, n: u32) -> PathBuf {
    kao_testdata::lfw5_photo(person, n).expect("shared data")
}
