//! The crop stage's hook for descriptors: when a [`crate::Cropper`] has a describer, each
//! chip's descriptor is computed right after the chip is cut (its pixels still in cache)
//! and stored in the work dir's embedding cache under the same key the training stage
//! looks up, so no later stage re-reads and re-embeds a plain chip.

use image::RgbImage;

/// A network that turns a chip into a descriptor (`kao_infer::Embedder` is one).
pub trait ChipDescriber: Send + Sync {
    /// The network's id: the embedding cache's folder (`cache/embeddings/<id>/`).
    fn id(&self) -> &str;

    /// The descriptor of one `chip_size`×`chip_size` chip, on the calling thread.
    fn describe(&self, chip: &RgbImage) -> Result<Vec<f32>, String>;
}
