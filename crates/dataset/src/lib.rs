#![doc = include_str!("../README.md")]

mod atomic;
mod duplicates;
mod embeddings;
mod error;
mod faces;
mod item;
mod layout;
mod manifest;
mod shard;
mod splits;
mod tree;

pub use atomic::{write_atomic, write_atomic_json};
pub use duplicates::{duplicate_groups, near_groups, DuplicateGroups};
pub use embeddings::{augment_key, chip_key, EmbeddingCache};
pub use error::{DatasetError, Result};
pub use faces::{
    current_chips, read_current_chips, BoxF, ChipRecord, FaceRecord, RejectReason, RejectRecord,
    SourceRef,
};
pub use item::{validate_tag, Item};
pub use layout::WorkDir;
pub use manifest::{read_manifest, Manifest, ManifestRead};
pub use shard::{
    clear_merged, merge_shards, merged_shards, FileLock, ManifestFiles, MergedShard, Shard,
    ShardDir, ShardRun,
};
pub use splits::{SplitPart, Splits};
pub use tree::{
    list_tree, read_item, read_tree, walk_files, TreeFile, TreeList, TreeRead, Unreadable,
    WalkEntry,
};
