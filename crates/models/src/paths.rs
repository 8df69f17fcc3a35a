use std::path::{Path, PathBuf};

const MODEL_SUBDIR: &str = "models/face-api";

/// Where the face-api weight files are: `$KAO_MODELS` if set, else the `models/face-api`
/// folder of the Kao source tree — found from the running crate's directory when cargo
/// runs the program (`CARGO_MANIFEST_DIR` at run time), from the tree this crate was
/// built in, or from the working directory upwards, in that order.
///
/// The build-time path alone is not enough: cargo reuses a target directory after the
/// source tree moves (its fingerprints are relative), and the baked-in path then points
/// at the old place.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KAO_MODELS") {
        return PathBuf::from(dir);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let runtime = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let cwd = std::env::current_dir().ok();
    runtime
        .iter()
        .flat_map(|d| d.ancestors())
        .chain(built.ancestors().take(1))
        .chain(cwd.iter().flat_map(|d| d.ancestors()))
        .map(|d| d.join(MODEL_SUBDIR))
        .find(|d| d.join("SHA256SUMS").is_file())
        .unwrap_or_else(|| built.join(MODEL_SUBDIR))
}
