use std::path::{Path, PathBuf};

/// The work directory of one dataset: every stage's artifact has a fixed place here.
///
/// ```text
/// raw/<tag>/<sha256-16>.<ext>   raw/manifest.jsonl
/// downloads/                    archives fetched by the crawl
/// faces/<tag>/<id>.png          faces/manifest.jsonl
/// splits.json
/// cache/embeddings/<model-id>/
/// iterations/<n>/model.json, head.safetensors, metrics.json, report.html
/// published.json   project.json   tags.json   prediction-key
/// pipeline-state.json   pipeline-report.json
/// shards/<stage>/<I>-of-<N>/    one shard's part files (see `ShardDir`)
/// slurm/                        `kao pipeline --executor slurm`: scripts and task logs
/// ```
///
/// Every path under the work dir is named here and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkDir {
    root: PathBuf,
}

impl WorkDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn raw(&self) -> PathBuf {
        self.root.join("raw")
    }

    pub fn raw_tag(&self, tag: &str) -> PathBuf {
        self.raw().join(tag)
    }

    pub fn raw_manifest(&self) -> PathBuf {
        self.raw().join("manifest.jsonl")
    }

    /// Archives the crawl downloaded, kept across runs (`<sha256>.<ext>`).
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }

    pub fn faces(&self) -> PathBuf {
        self.root.join("faces")
    }

    pub fn faces_tag(&self, tag: &str) -> PathBuf {
        self.faces().join(tag)
    }

    pub fn faces_manifest(&self) -> PathBuf {
        self.faces().join("manifest.jsonl")
    }

    pub fn splits(&self) -> PathBuf {
        self.root.join("splits.json")
    }

    pub fn embedding_cache(&self, model_id: &str) -> PathBuf {
        self.root.join("cache").join("embeddings").join(model_id)
    }

    pub fn iterations(&self) -> PathBuf {
        self.root.join("iterations")
    }

    pub fn iteration(&self, n: u32) -> PathBuf {
        self.iterations().join(n.to_string())
    }

    pub fn published(&self) -> PathBuf {
        self.root.join("published.json")
    }

    /// The project id file (a UUID created once, used in prediction URLs).
    pub fn project_id(&self) -> PathBuf {
        self.root.join("project.json")
    }

    /// Tag name → UUID, kept across iterations so that clients can hold on to tag ids.
    pub fn tags(&self) -> PathBuf {
        self.root.join("tags.json")
    }

    /// The generated prediction key (mode 0600).
    pub fn prediction_key(&self) -> PathBuf {
        self.root.join("prediction-key")
    }

    /// Each pipeline stage's input fingerprint and output.
    pub fn pipeline_state(&self) -> PathBuf {
        self.root.join("pipeline-state.json")
    }

    /// The last pipeline run's report.
    pub fn pipeline_report(&self) -> PathBuf {
        self.root.join("pipeline-report.json")
    }

    /// Sharded stages' part files until they are merged (`kao_dataset::ShardDir`).
    pub fn shards(&self) -> PathBuf {
        self.root.join("shards")
    }

    /// `kao pipeline --executor slurm`'s batch scripts and task logs.
    pub fn slurm(&self) -> PathBuf {
        self.root.join("slurm")
    }

    /// Iteration numbers present on disk, ascending.
    pub fn list_iterations(&self) -> Vec<u32> {
        let mut out: Vec<u32> = std::fs::read_dir(self.iterations())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        out.sort_unstable();
        out
    }

    /// Shortened content id used in file names (16 hex digits, as ARCHITECTURE.md).
    pub fn short_id(content_id: &str) -> &str {
        &content_id[..content_id.len().min(16)]
    }
}
