//! Model and crop failures reach callers as the typed errors of the crates that raised
//! them, not as text.

use image::RgbImage;
use kao_infer::{Embedder, InferError};
use kao_models::ModelError;

#[test]
fn a_wrong_size_chip_is_a_typed_model_error() {
    let embedder = Embedder::load_default().unwrap();
    let err = embedder.embed(&[RgbImage::new(10, 12)]).unwrap_err();
    assert!(
        matches!(err, InferError::Models(ModelError::Input(_))),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "invalid input: chip is 10x12, the recognition network takes 150x150"
    );
}
