use std::path::PathBuf;

/// Where the face-api weight files are: `$KAO_MODELS` if set, else the `models/face-api`
/// folder of the source tree this crate was built from.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KAO_MODELS") {
        return PathBuf::from(dir);
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/face-api"
    ))
}
