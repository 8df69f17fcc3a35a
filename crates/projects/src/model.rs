//! The records the store keeps, serialised in Custom Vision's JSON shapes (camelCase,
//! the Training API's field names); Kao's own additions are marked as such.

use serde::{Deserialize, Serialize};

/// The one domain Kao trains: face identification, multiclass classification.
pub const FACE_DOMAIN_ID: &str = "0a3c7a4e-6b61-4f00-8000-6b616f666163";

/// Custom Vision's "General" classification domain: projects created with it (the
/// quickstart's default) become face projects, so code written for Azure runs unchanged.
pub const GENERAL_DOMAIN_ID: &str = "ee85a74c-405e-4adc-bb47-ffa8ca0c9f31";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInformation {
    pub estimated_model_size_in_megabytes: u32,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub exportable: bool,
    pub enabled: bool,
    pub exportable_platforms: Vec<String>,
    pub model_information: ModelInformation,
}

/// The domains Kao answers `GET /domains` with.
pub fn domains() -> Vec<Domain> {
    vec![Domain {
        id: FACE_DOMAIN_ID.into(),
        name: "Faces".into(),
        kind: "Classification".into(),
        exportable: false,
        enabled: true,
        exportable_platforms: Vec::new(),
        model_information: ModelInformation {
            estimated_model_size_in_megabytes: 28,
            description: "Face identification: every photo's face is detected, aligned and \
                          described by dlib's face-recognition network, and a small head is \
                          trained on the descriptors. Multiclass only: one person per photo."
                .into(),
        },
    }]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSettings {
    pub domain_id: String,
    pub classification_type: String,
    pub target_export_platforms: Vec<String>,
    pub use_negative_set: bool,
    /// Kao: whether prediction images sent to this project's published iterations are kept
    /// (Custom Vision's Predictions tab). Off unless set.
    #[serde(default)]
    pub store_predictions: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub name: String,
    pub description: String,
    pub settings: ProjectSettings,
    pub created: String,
    pub last_modified: String,
    pub thumbnail_uri: Option<String>,
    pub dr_mode_enabled: bool,
    pub status: String,
    /// Kao: images in the project.
    pub image_count: u64,
    /// Kao: tags in the project.
    pub tag_count: u64,
}

/// The fields `update_project` may change.
#[derive(Debug, Clone, Default)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub domain_id: Option<String>,
    pub classification_type: Option<String>,
    pub store_predictions: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub description: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub image_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageTag {
    pub tag_id: String,
    pub tag_name: String,
    pub created: String,
}

/// One image of a project as the store knows it (the HTTP layer adds the URIs).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    pub id: String,
    pub created: String,
    pub width: u32,
    pub height: u32,
    /// SHA-256 of the bytes.
    pub content_id: String,
    /// The file, relative to the project's work dir (`raw/<tag>/<id16>.<ext>`, or
    /// `raw/<id16>.<ext>` while untagged).
    pub file: String,
    pub tags: Vec<ImageTag>,
}

/// Custom Vision's `ImageCreateStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateStatus {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "OKDuplicate")]
    OkDuplicate,
    ErrorSource,
    ErrorImageFormat,
    ErrorImageSize,
    ErrorStorage,
    ErrorLimitExceed,
    ErrorTagLimitExceed,
    ErrorUnknown,
    ErrorNegativeAndRegularTagOnSameImage,
    ErrorImageDimensions,
    ErrorInvalidTag,
}

impl CreateStatus {
    pub fn is_ok(self) -> bool {
        matches!(self, CreateStatus::Ok | CreateStatus::OkDuplicate)
    }
}

/// What became of one image of an upload batch.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateResult {
    /// The URL or file name the image came from.
    pub source: String,
    pub status: CreateStatus,
    /// Kao: why it failed, in words (Custom Vision gives only the status).
    pub reason: Option<String>,
    pub image: Option<ImageRecord>,
}

/// One image to add: its bytes (or why they could not be had), where it came from, and its tags.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub source: String,
    pub bytes: std::result::Result<Vec<u8>, (CreateStatus, String)>,
    pub tag_ids: Vec<String>,
}

/// Which images a listing wants.
#[derive(Debug, Clone, Default)]
pub struct ImageQuery {
    pub tagging: Tagging,
    /// Only images with one of these tags.
    pub tag_ids: Vec<String>,
    pub newest_first: bool,
    pub skip: u64,
    pub take: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tagging {
    #[default]
    All,
    Tagged,
    Untagged,
}

/// Custom Vision's iteration states, plus Kao's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IterationStatus {
    /// Waiting for, or in, training (Custom Vision has no separate "queued").
    Training,
    Completed,
    Failed,
}

impl IterationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IterationStatus::Training => "Training",
            IterationStatus::Completed => "Completed",
            IterationStatus::Failed => "Failed",
        }
    }

    pub(crate) fn parse(s: &str) -> IterationStatus {
        match s {
            "Completed" => IterationStatus::Completed,
            "Failed" => IterationStatus::Failed,
            _ => IterationStatus::Training,
        }
    }
}

/// Where a training run is (Kao): the pipeline stage, its phase and counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrainProgress {
    /// `queued`, then `crop`, `split`, `augment`, `train`, `evaluate`, `done`.
    pub stage: String,
    /// What `done` and `total` count (`photos`, `descriptors`, …).
    pub phase: String,
    pub done: u64,
    pub total: u64,
    /// The rows of the stages finished so far, as `kao pipeline` prints them.
    pub stages: Vec<kao_pipeline::StageReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Iteration {
    pub id: String,
    pub name: String,
    pub status: String,
    pub created: String,
    pub last_modified: String,
    pub trained_at: Option<String>,
    pub project_id: String,
    pub exportable: bool,
    pub exportable_to: Vec<String>,
    pub domain_id: String,
    pub classification_type: String,
    pub training_type: String,
    pub reserved_budget_in_hours: u32,
    pub training_time_in_minutes: u32,
    pub publish_name: Option<String>,
    pub original_publish_resource_id: Option<String>,
    pub training_error_details: Option<String>,
    /// Kao: the iteration's number in the work dir (`iterations/<n>/`), once trained.
    pub kao_iteration: Option<u32>,
    /// Kao: the training's progress while it runs, and its stage rows after.
    pub kao_progress: Option<TrainProgress>,
}

/// Custom Vision's `TagPerformance`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagPerformance {
    pub id: String,
    pub name: String,
    pub precision: f64,
    pub precision_std_deviation: f64,
    pub recall: f64,
    pub recall_std_deviation: f64,
    pub average_precision: f64,
    /// Kao: faces of the tag in the test split.
    pub image_count: usize,
}

/// Custom Vision's `IterationPerformance`, from the iteration's test split.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Performance {
    pub per_tag_performance: Vec<TagPerformance>,
    pub precision: f64,
    pub precision_std_deviation: f64,
    pub recall: f64,
    pub recall_std_deviation: f64,
    pub average_precision: f64,
    /// Kao: the threshold these numbers are for.
    pub threshold: f64,
    /// Kao: share of test faces whose most probable tag is right.
    pub top1: f64,
    /// Kao: test faces scored.
    pub faces: usize,
    /// Kao: `confusion[true][predicted]` by top-1, tags in `perTagPerformance` order.
    pub confusion: Vec<Vec<usize>>,
    /// Kao: per tag, the precision-recall curve as `[recall, precision]` points.
    pub curves: Vec<Vec<[f64; 2]>>,
    /// Kao: what the unknown-face rule did on the test faces.
    pub unknown: UnknownPerformance,
    /// Kao: the test faces whose top tag is wrong or that the unknown-face rule rejected.
    pub misclassified: Vec<MisclassifiedFace>,
}

/// Kao: unknown-face rates of an iteration's test split (the unknown-face rule does not
/// depend on the probability threshold).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnknownPerformance {
    /// Test faces of the regular tags.
    pub known_faces: usize,
    /// Share of them the rule wrongly called unknown (lower is better).
    pub false_rejected: f64,
    /// Test faces of the Negative tag (0 without one).
    pub negative_faces: usize,
    /// Share of them rightly called unknown (higher is better); `None` without any.
    pub negative_rejected: Option<f64>,
}

/// Kao: one test face the model got wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MisclassifiedFace {
    /// The photo it was cut from (`None` once the photo is deleted).
    pub image_id: Option<String>,
    /// Which of the photo's faces (the chip's index).
    pub face_index: u32,
    pub true_tag_id: String,
    pub true_tag_name: String,
    /// The top tag, or `None` when the face was called unknown although its top tag
    /// was right (a wrongly rejected face).
    pub predicted_tag_id: Option<String>,
    pub predicted_tag_name: Option<String>,
    /// The top tag's probability.
    pub probability: f32,
    /// Whether the unknown-face rule rejected the face.
    pub unknown: bool,
}
