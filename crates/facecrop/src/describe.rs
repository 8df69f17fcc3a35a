//! The crop stage's hook for descriptors: when a [`crate::Cropper`] has a describer, each
//! chip's descriptor is computed right after the chip is cut (its pixels still in cache)
//! and stored in the work dir's embedding cache under the same key the training stage
//! looks up, so no later stage re-reads and re-embeds a plain chip.

use image::RgbImage;

/// A network that turns a chip into a descriptor (`kao_infer::Embedder` is one).
pub trait ChipDescriber: Send + Sync {
    /// The network's id: the embedding cache's folder (`cache/embeddings/<id>/`).
    fn id(&self) -> &str;

    /// The descriptors of a few `chip_size`×`chip_size` chips (the chips of a few
    /// photos, as one batch), on the calling thread.
    fn describe(&self, chips: &[&RgbImage]) -> Result<Vec<Vec<f32>>, String>;
}
