//! Iteration performance at any threshold, from the per-face scores the training stored
//! (`iterations/<n>/scores.json`): no network runs, so a new threshold costs a sort.

use std::collections::HashMap;
use std::sync::Arc;

use kao_infer::ModelArtifact;
use kao_train::FaceScore;
use serde::{Deserialize, Serialize};

use crate::error::{ProjectError, Result};
use crate::model::{
    ImageRecord, MisclassifiedFace, Performance, TagPerformance, UnknownPerformance,
};
use crate::store::Store;
use crate::training::SCORES_FILE;

/// One test face, with the content id of the photo it was cut from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFace {
    pub content_id: String,
    #[serde(flatten)]
    pub score: FaceScore,
}

/// A test image's predictions (Custom Vision's `ImagePerformance`, before URIs).
#[derive(Debug, Clone, PartialEq)]
pub struct ImagePerformance {
    pub image: ImageRecord,
    /// (tag id, tag name, probability), highest first.
    pub predictions: Vec<(String, String, f32)>,
}

/// Loaded once per iteration.
pub(crate) struct Scored {
    artifact: ModelArtifact,
    faces: Vec<StoredFace>,
}

impl Store {
    fn scored(&self, project: &str, iteration: &str) -> Result<(String, Arc<Scored>)> {
        let (project, n) = self.trained_number(project, iteration)?;
        let key = (project.clone(), n);
        if let Some(s) = self.scores_cache().get(&key) {
            return Ok((project, Arc::clone(s)));
        }
        let work = self.work_dir(&project);
        let dir = work.iteration(n);
        let artifact = ModelArtifact::read(&dir)?;
        let path = dir.join(SCORES_FILE);
        let bytes = std::fs::read(&path).map_err(ProjectError::io(&path))?;
        let faces: Vec<StoredFace> = serde_json::from_slice(&bytes).map_err(|e| {
            ProjectError::rejected(
                "NotFoundIterationPerformance",
                format!("{}: {e}", path.display()),
            )
        })?;
        let scored = Arc::new(Scored { artifact, faces });
        self.scores_cache().insert(key, Arc::clone(&scored));
        Ok((project, scored))
    }

    /// Custom Vision's iteration performance at `threshold` (default: the iteration's own,
    /// 0.5), on the iteration's test split. Tag names are the tags' current names.
    pub fn performance(
        &self,
        project: &str,
        iteration: &str,
        threshold: Option<f64>,
    ) -> Result<Performance> {
        let (project, scored) = self.scored(project, iteration)?;
        let threshold = threshold.unwrap_or(scored.artifact.threshold as f64);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ProjectError::rejected(
                "BadRequestInvalid",
                format!("threshold {threshold} is not between 0 and 1"),
            ));
        }
        let faces: Vec<FaceScore> = scored.faces.iter().map(|f| f.score.clone()).collect();
        let e = kao_train::score_faces(&scored.artifact, "test", &faces, None, threshold);
        let names = self.current_tag_names(&project)?;
        let unknown = unknown_rates(&scored);
        let misclassified = self.misclassified(&project, &scored, &e.misclassified, &names)?;
        let m = e.metrics;
        Ok(Performance {
            per_tag_performance: m
                .per_tag_performance
                .iter()
                .map(|t| TagPerformance {
                    name: names.get(&t.id).cloned().unwrap_or_else(|| t.name.clone()),
                    id: t.id.clone(),
                    precision: t.precision,
                    precision_std_deviation: 0.0,
                    recall: t.recall,
                    recall_std_deviation: 0.0,
                    average_precision: t.average_precision,
                    image_count: t.count,
                })
                .collect(),
            precision: m.precision,
            precision_std_deviation: 0.0,
            recall: m.recall,
            recall_std_deviation: 0.0,
            average_precision: m.average_precision,
            threshold,
            top1: m.top1,
            faces: m.faces,
            confusion: m.confusion,
            curves: m.curves,
            unknown,
            misclassified,
        })
    }

    /// kao-train's misclassified faces with the photos' ids and the tags' current names.
    fn misclassified(
        &self,
        project: &str,
        scored: &Scored,
        wrong: &[kao_train::Misclassified],
        names: &HashMap<String, String>,
    ) -> Result<Vec<MisclassifiedFace>> {
        let by_chip: HashMap<&str, &StoredFace> = scored
            .faces
            .iter()
            .map(|f| (f.score.chip.as_str(), f))
            .collect();
        let tags = &scored.artifact.tags;
        let contents: Vec<String> = wrong
            .iter()
            .filter_map(|m| by_chip.get(m.chip.as_str()).map(|f| f.content_id.clone()))
            .collect();
        let ids = self.image_ids_by_content(project, &contents)?;
        let current =
            |id: &str, old: &str| names.get(id).cloned().unwrap_or_else(|| old.to_string());
        Ok(wrong
            .iter()
            .filter_map(|m| {
                let face = by_chip.get(m.chip.as_str())?;
                let truth = tags.get(face.score.label)?;
                // The predicted tag by its name at training time (unique in an iteration).
                let predicted = tags
                    .iter()
                    .find(|t| !t.negative && t.name == m.predicted_tag);
                Some(MisclassifiedFace {
                    image_id: ids.get(&face.content_id).cloned(),
                    face_index: chip_face_index(&m.chip),
                    true_tag_id: truth.id.clone(),
                    true_tag_name: current(&truth.id, &truth.name),
                    predicted_tag_id: predicted.map(|t| t.id.clone()),
                    predicted_tag_name: predicted.map(|t| current(&t.id, &t.name)),
                    probability: m.probability,
                    unknown: face.score.unknown,
                })
            })
            .collect())
    }

    fn current_tag_names(&self, project: &str) -> Result<HashMap<String, String>> {
        Ok(self
            .tags(project)?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect())
    }

    /// The test images of an iteration with their predictions, optionally only those whose
    /// true tag is one of `tag_ids`, newest first; and how many there are in all.
    pub fn image_performances(
        &self,
        project: &str,
        iteration: &str,
        tag_ids: &[String],
        skip: usize,
        take: usize,
    ) -> Result<(Vec<ImagePerformance>, usize)> {
        let (project, scored) = self.scored(project, iteration)?;
        let names = self.current_tag_names(&project)?;
        let tags = &scored.artifact.tags;
        let wanted: Vec<String> = tag_ids
            .iter()
            .map(|t| t.trim().to_ascii_lowercase())
            .collect();
        let faces: Vec<&StoredFace> = scored
            .faces
            .iter()
            .filter(|f| {
                wanted.is_empty()
                    || tags
                        .get(f.score.label)
                        .is_some_and(|t| wanted.contains(&t.id))
            })
            .collect();
        // One entry per photo (a photo gives one chip with `pick = center`).
        let mut by_content: Vec<&StoredFace> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for f in faces {
            if seen.insert(f.content_id.clone()) {
                by_content.push(f);
            }
        }
        let ids = self.image_ids_by_content(
            &project,
            &by_content
                .iter()
                .map(|f| f.content_id.clone())
                .collect::<Vec<_>>(),
        )?;
        let present: Vec<(&StoredFace, String)> = by_content
            .into_iter()
            .filter_map(|f| ids.get(&f.content_id).map(|id| (f, id.clone())))
            .collect();
        let total = present.len();
        let page: Vec<(&StoredFace, String)> = present.into_iter().skip(skip).take(take).collect();
        let records: HashMap<String, ImageRecord> = self
            .images_by_ids(
                &project,
                &page.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>(),
            )?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        let out = page
            .into_iter()
            .filter_map(|(f, id)| {
                let image = records.get(&id)?.clone();
                let mut predictions: Vec<(String, String, f32)> = scored
                    .artifact
                    .predictable_tags()
                    .map(|(i, t)| {
                        (
                            t.id.clone(),
                            names.get(&t.id).cloned().unwrap_or_else(|| t.name.clone()),
                            f.score.probabilities.get(i).copied().unwrap_or(0.0),
                        )
                    })
                    .collect();
                predictions.sort_by(|a, b| b.2.total_cmp(&a.2));
                Some(ImagePerformance { image, predictions })
            })
            .collect();
        Ok((out, total))
    }

    fn image_ids_by_content(
        &self,
        project: &str,
        contents: &[String],
    ) -> Result<HashMap<String, String>> {
        use crate::error::DbContext;
        let db = self.db();
        let mut out = HashMap::new();
        let mut st = db
            .prepare("SELECT id FROM images WHERE project_id = ?1 AND content_id = ?2")
            .db(&self.db_path)?;
        for c in contents {
            let id: Option<String> = rusqlite::OptionalExtension::optional(
                st.query_row(rusqlite::params![project, c], |r| r.get(0)),
            )
            .db(&self.db_path)?;
            if let Some(id) = id {
                out.insert(c.clone(), id);
            }
        }
        Ok(out)
    }
}

/// A chip's face index, from its file name (`<tag>/<sha256-16>_<i>.png`).
fn chip_face_index(chip: &str) -> u32 {
    chip.rsplit_once('_')
        .and_then(|(_, tail)| tail.split('.').next())
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

/// The unknown-face rule's rates on the stored test faces.
fn unknown_rates(scored: &Scored) -> UnknownPerformance {
    let (mut known, mut known_rejected, mut negative, mut negative_rejected) = (0, 0, 0, 0);
    for f in &scored.faces {
        let is_negative = scored
            .artifact
            .tags
            .get(f.score.label)
            .is_none_or(|t| t.negative);
        if is_negative {
            negative += 1;
            negative_rejected += usize::from(f.score.unknown);
        } else {
            known += 1;
            known_rejected += usize::from(f.score.unknown);
        }
    }
    UnknownPerformance {
        known_faces: known,
        false_rejected: known_rejected as f64 / known.max(1) as f64,
        negative_faces: negative,
        negative_rejected: (negative > 0).then(|| negative_rejected as f64 / negative as f64),
    }
}

/// The test split's faces of iteration `n`, classified, each with its photo's content id.
pub(crate) fn stored_faces(work: &kao_dataset::WorkDir, n: u32) -> Result<Vec<StoredFace>> {
    let (scores, _) = kao_train::split_face_scores(
        work,
        &kao_train::EvalOptions {
            iteration: Some(n),
            split: kao_dataset::SplitPart::Test,
            threshold: None,
            unknown: None,
        },
        &mut |_| {},
    )?;
    let data = kao_train::Dataset::load(work)?;
    Ok(scores
        .into_iter()
        .map(|s| StoredFace {
            content_id: data
                .chips
                .get(&s.chip)
                .map(|c| c.source.content_id.clone())
                .unwrap_or_default(),
            score: s,
        })
        .collect())
}
