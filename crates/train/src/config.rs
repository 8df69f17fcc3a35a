use kao_augment::Preset;
use kao_facecrop::CropConfig;
use kao_infer::HeadKind;
use serde::{Deserialize, Serialize};

/// Everything that changes a trained head; `pipeline.toml`'s `[train]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub head: HeadKind,
    /// Seeds weight initialisation, batch order and the augmentation draws.
    pub seed: u64,
    /// Augmented copies of each training chip (0: plain chips only). Default 0: on lfw5
    /// and lfw_dev20 they changed no score with the default head (docs/training.md).
    pub augmentations: u32,
    pub augment_preset: Preset,
    /// Custom Vision's probability threshold for precision and recall.
    pub threshold: f32,
    /// Chips per forward pass of the recognition network.
    pub embed_batch: usize,
    pub weight_decay: f64,
    /// Logistic regression runs full-batch: one step per "epoch".
    pub logreg_lr: f64,
    pub logreg_steps: usize,
    pub logreg_patience: usize,
    pub mlp_hidden: usize,
    pub mlp_lr: f64,
    pub mlp_batch: usize,
    pub mlp_epochs: usize,
    pub mlp_patience: usize,
    /// Neighbours per tag for the k-NN head.
    pub knn_k: usize,
    /// The unknown-face rule's operating point: the share of known faces it may reject,
    /// met on the calibration faces (validation and leave-one-out).
    pub unknown_false_reject: f64,
    /// The settings the chips were cut with (`kao crop`'s); prediction cuts faces the same way.
    pub crop: CropConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            head: HeadKind::Knn,
            seed: 42,
            augmentations: 0,
            augment_preset: Preset::Faces,
            threshold: 0.5,
            embed_batch: 16,
            weight_decay: 1e-3,
            logreg_lr: 0.05,
            logreg_steps: 600,
            logreg_patience: 30,
            mlp_hidden: 256,
            mlp_lr: 3e-3,
            mlp_batch: 128,
            mlp_epochs: 60,
            mlp_patience: 5,
            knn_k: 3,
            unknown_false_reject: 0.01,
            crop: CropConfig::default(),
        }
    }
}
