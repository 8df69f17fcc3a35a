//! `pipeline.toml`: the work dir, the tags and their sources, and each stage's settings.
//! Every section is optional and defaults to its stage's defaults; unknown keys are errors
//! naming the key and line, so a typo never silently falls back to a default.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use kao_augment::Preset;
use kao_crawl::{CrawlOptions, MinSize, Source, TagJob};
use kao_facecrop::{Alignment, CropConfig, DetectorKind, Pick};
use kao_infer::HeadKind;
use kao_split::SplitOptions;
use kao_train::TrainConfig;
use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

use crate::error::{PipelineError, Result};

/// The publish name used when `[publish] name` is absent.
pub const DEFAULT_PUBLISH_NAME: &str = "faces";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// The file this was read from (for messages).
    #[serde(skip)]
    pub origin: PathBuf,
    /// The work directory, relative to the config file.
    #[serde(default = "default_work")]
    pub work: PathBuf,
    #[serde(default)]
    pub tags: Vec<TagConfig>,
    #[serde(default)]
    pub crawl: CrawlSection,
    #[serde(default)]
    pub crop: CropSection,
    #[serde(default)]
    pub split: SplitSection,
    #[serde(default)]
    pub augment: AugmentSection,
    #[serde(default)]
    pub train: TrainSection,
    #[serde(default)]
    pub evaluate: EvaluateSection,
    #[serde(default)]
    pub publish: PublishSection,
    #[serde(default)]
    pub serve: ServeSection,
    #[serde(default)]
    pub slurm: SlurmSection,
}

fn default_work() -> PathBuf {
    PathBuf::from("work")
}

/// One `[[tags]]` table: a person and where their photos come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagConfig {
    #[serde(alias = "tag")]
    pub name: Spanned<String>,
    #[serde(default)]
    pub sources: Vec<Source>,
}

/// `[crawl]`: the collect stage's network and acceptance settings (`kao crawl`'s flags).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrawlSection {
    #[serde(
        default,
        deserialize_with = "parsed",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_size: Option<MinSize>,
    #[serde(default)]
    pub ignore_robots: bool,
    pub endpoint: Option<String>,
    pub user_agent: Option<String>,
    pub concurrency: Option<usize>,
    pub per_host: Option<usize>,
    #[serde(
        default,
        deserialize_with = "duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub connect_timeout: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub first_byte_timeout: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub max_bytes: Option<u64>,
}

impl CrawlSection {
    /// The crawl options: the defaults, with what this section sets. `kao crawl`'s flags
    /// fill a section too, so the two cannot drift apart.
    pub fn options(&self) -> CrawlOptions {
        let c = self;
        let mut o = CrawlOptions {
            obey_robots: !c.ignore_robots,
            ..CrawlOptions::default()
        };
        if let Some(v) = c.min_size {
            o.min_size = v;
        }
        if let Some(v) = &c.endpoint {
            o.bing_endpoint = v.clone();
        }
        if let Some(v) = &c.user_agent {
            o.user_agent = v.clone();
        }
        if let Some(v) = c.concurrency {
            o.concurrency = v.max(1);
        }
        if let Some(v) = c.per_host {
            o.per_host = v.max(1);
        }
        if let Some(v) = c.delay {
            o.per_host_delay = v;
        }
        if let Some(v) = c.connect_timeout {
            o.connect_timeout = v;
        }
        if let Some(v) = c.first_byte_timeout {
            o.first_byte_timeout = v;
        }
        if let Some(v) = c.timeout {
            o.total_timeout = v;
        }
        if let Some(v) = c.retries {
            o.retries = v;
        }
        if let Some(v) = c.max_bytes {
            o.max_bytes = v;
        }
        o
    }
}

/// `[crop]`: `kao crop`'s settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CropSection {
    pub detector: Option<DetectorKind>,
    /// Second detector for photos where the first finds nothing: `tiny`, `ssd` or `none`.
    pub fallback: Option<Fallback>,
    pub pick: Option<Pick>,
    pub align: Option<Alignment>,
    pub score_threshold: Option<f32>,
    pub min_face: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fallback {
    Tiny,
    Ssd,
    None,
}

/// `[split]`: `kao split`'s settings; `ratios` as `"3:1:1"`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSection {
    pub seed: Option<u64>,
    #[serde(default, deserialize_with = "ratios")]
    pub ratios: Option<[u32; 3]>,
    pub near_distance: Option<u32>,
}

/// `[augment]`: which augmentations the training chips get, and how many each.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentSection {
    pub preset: Option<Preset>,
    pub per_image: Option<u32>,
}

/// `[train]`: `kao train`'s settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    pub head: Option<HeadKind>,
    /// Seeds weight initialisation, batch order and the augmentation draws.
    pub seed: Option<u64>,
    /// Probability threshold for precision and recall.
    pub threshold: Option<f32>,
    /// Share of known faces the unknown-face rule may reject (its operating point).
    #[serde(default, deserialize_with = "share")]
    pub unknown_false_reject: Option<f64>,
}

/// `[evaluate]`: an optional folder of people who are none of the tags.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateSection {
    pub unknown: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSection {
    pub name: Option<String>,
}

/// `[serve]`: how `--serve` starts the prediction service (`kao serve`'s flags).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    pub bind: Option<SocketAddr>,
    #[serde(default)]
    pub allow_url_fetch: bool,
    #[serde(default)]
    pub allow_private_urls: bool,
    pub max_body: Option<usize>,
    pub concurrency: Option<usize>,
}

/// `[slurm]`: how `kao pipeline --executor slurm` submits the stages (docs/cluster.md).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmSection {
    /// `sbatch --partition` (default: the cluster's default partition).
    pub partition: Option<String>,
    /// Tasks of the crop and descriptor arrays [default: 4]; collect has one per tag.
    pub shards: Option<u32>,
    /// `sbatch --cpus-per-task`: each task's threads.
    pub cpus_per_task: Option<u32>,
    /// `sbatch --mem`, e.g. `"4G"` (each task runs on one node).
    pub mem_per_task: Option<String>,
    /// `sbatch --time`, e.g. `"1:00:00"`.
    pub time_limit: Option<String>,
    /// More `sbatch` options, passed as given, e.g. `["--account=vision", "--qos=low"]`.
    #[serde(default)]
    pub sbatch_options: Vec<String>,
    /// The `kao` binary the nodes run [default: the one running `kao pipeline`].
    pub kao: Option<PathBuf>,
    /// How often the jobs are polled [default: 5s].
    #[serde(default, deserialize_with = "duration")]
    pub poll: Option<Duration>,
}

impl SlurmSection {
    pub fn shards(&self) -> u32 {
        self.shards.unwrap_or(crate::slurm::DEFAULT_SHARDS).max(1)
    }

    pub fn poll(&self) -> Duration {
        self.poll.unwrap_or(crate::slurm::DEFAULT_POLL)
    }
}

fn parsed<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let s = String::deserialize(d)?;
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    kao_crawl::parse_duration(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn share<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<f64>, D::Error> {
    match f64::deserialize(d)? {
        v if v > 0.0 && v < 1.0 => Ok(Some(v)),
        v => Err(serde::de::Error::custom(format!(
            "{v} is not a share between 0 and 1 (e.g. 0.01)"
        ))),
    }
}

fn ratios<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<[u32; 3]>, D::Error> {
    let s = String::deserialize(d)?;
    kao_split::parse_ratios(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

impl PipelineConfig {
    /// Reads and checks a config file; relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> Result<PipelineConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| PipelineError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let base = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        };
        PipelineConfig::parse(&text, base, path)
    }

    /// Parses `text`; `origin` names the file in errors.
    pub fn parse(text: &str, base: &Path, origin: &Path) -> Result<PipelineConfig> {
        let err = |message: String| PipelineError::Config {
            path: origin.to_path_buf(),
            message,
        };
        let mut config: PipelineConfig = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for tag in &config.tags {
            let at = line_of(text, tag.name.span().start);
            kao_dataset::validate_tag(tag.name.get_ref())
                .map_err(|e| err(format!("line {at}, tags.name: {e}")))?;
            if !seen.insert(tag.name.get_ref().clone()) {
                return Err(err(format!(
                    "line {at}, tags.name: tag {:?} is listed twice",
                    tag.name.get_ref()
                )));
            }
        }
        config.resolve_paths(base);
        config.origin = origin.to_path_buf();
        Ok(config)
    }

    fn resolve_paths(&mut self, base: &Path) {
        let rel = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        self.work = rel(&self.work);
        if let Some(u) = &self.evaluate.unknown {
            self.evaluate.unknown = Some(rel(u));
        }
        if let Some(k) = &self.slurm.kao {
            self.slurm.kao = Some(rel(k));
        }
        for tag in &mut self.tags {
            for source in &mut tag.sources {
                match source {
                    Source::Dir { path } => *path = rel(path),
                    Source::Urls { file } => *file = rel(file),
                    Source::Archive { url, .. } if !url.contains("://") => {
                        *url = rel(Path::new(url.as_str())).display().to_string();
                    }
                    _ => {}
                }
            }
        }
    }

    /// Problems that would stop a stage later, found before any work: no tags, a tag
    /// without sources, a local source (folder, URL list, archive file) that is missing.
    pub fn validate(&self) -> Result<()> {
        let err = |message: String| PipelineError::Config {
            path: self.origin.clone(),
            message,
        };
        if self.tags.is_empty() {
            return Err(err("no [[tags]]: list at least one person".into()));
        }
        for tag in &self.tags {
            let name = tag.name.get_ref();
            if tag.sources.is_empty() {
                return Err(err(format!(
                    "tag {name:?} has no [[tags.sources]] (or run with --source-dir DIR)"
                )));
            }
            for source in &tag.sources {
                let missing = match source {
                    Source::Dir { path } if !path.is_dir() => Some(path.clone()),
                    Source::Urls { file } if !file.is_file() => Some(file.clone()),
                    Source::Archive { url, .. }
                        if !url.contains("://") && !Path::new(url).is_file() =>
                    {
                        Some(PathBuf::from(url))
                    }
                    _ => None,
                };
                if let Some(p) = missing {
                    return Err(err(format!(
                        "tag {name:?}: source {} does not exist",
                        p.display()
                    )));
                }
            }
        }
        if let Some(u) = &self.evaluate.unknown {
            if !u.is_dir() {
                return Err(err(format!(
                    "evaluate.unknown: {} is not a folder",
                    u.display()
                )));
            }
        }
        Ok(())
    }

    /// A config with every stage's defaults for the tags already in `work`'s `raw/`, and no
    /// sources: for running the stages from crop on (the Training API's projects).
    pub fn for_tags(work: &Path, tags: &[String]) -> PipelineConfig {
        PipelineConfig {
            origin: work.join("pipeline.toml"),
            work: work.to_path_buf(),
            tags: tags
                .iter()
                .map(|t| TagConfig {
                    name: Spanned::new(0..0, t.clone()),
                    sources: Vec::new(),
                })
                .collect(),
            crawl: CrawlSection::default(),
            crop: CropSection::default(),
            split: SplitSection::default(),
            augment: AugmentSection::default(),
            train: TrainSection::default(),
            evaluate: EvaluateSection::default(),
            publish: PublishSection::default(),
            serve: ServeSection::default(),
            slurm: SlurmSection::default(),
        }
    }

    /// Every setting at its default and no tags yet: what `--source-dir DIR` runs with when
    /// there is no config file. The work dir is `work` in the current folder; messages name
    /// `source_dir` as their origin.
    pub fn defaults(source_dir: &Path) -> PipelineConfig {
        PipelineConfig::parse("", Path::new("."), source_dir).expect("the empty config is valid")
    }

    /// `dir/<tag>/` as the only source of every listed tag (offline runs). A config that
    /// lists no tags takes `dir`'s sub-folders as its tags, named as the folders are.
    pub fn with_source_dir(mut self, dir: &Path) -> Result<PipelineConfig> {
        let folders = tag_folders(dir)?;
        if self.tags.is_empty() {
            self.tags = folders
                .iter()
                .map(|name| TagConfig {
                    name: Spanned::new(0..0, name.clone()),
                    sources: Vec::new(),
                })
                .collect();
        }
        let missing: Vec<&str> = self
            .tags
            .iter()
            .map(|t| t.name.get_ref().as_str())
            .filter(|name| !folders.iter().any(|f| f == name))
            .collect();
        if !missing.is_empty() {
            return Err(PipelineError::Config {
                path: self.origin.clone(),
                message: format!(
                    "--source-dir {}: no sub-folder for {} {} (its sub-folders: {}; a config \
                     without [[tags]] takes them as the tags)",
                    dir.display(),
                    if missing.len() == 1 { "tag" } else { "tags" },
                    missing.join(", "),
                    folders.join(", ")
                ),
            });
        }
        for tag in &mut self.tags {
            tag.sources = vec![Source::Dir {
                path: dir.join(tag.name.get_ref()),
            }];
        }
        Ok(self)
    }

    pub fn tag_names(&self) -> Vec<String> {
        self.tags.iter().map(|t| t.name.get_ref().clone()).collect()
    }

    pub fn jobs(&self) -> Vec<TagJob> {
        self.tags
            .iter()
            .map(|t| TagJob::new(t.name.get_ref(), t.sources.clone()))
            .collect()
    }

    pub fn crawl_options(&self) -> CrawlOptions {
        self.crawl.options()
    }

    pub fn crop_config(&self) -> CropConfig {
        let c = &self.crop;
        let d = CropConfig::for_pick(c.pick.unwrap_or_default());
        let detector = c.detector.unwrap_or(d.detector);
        CropConfig {
            detector,
            fallback: match c.fallback {
                None => Some(detector.other()),
                Some(Fallback::Tiny) => Some(DetectorKind::Tiny),
                Some(Fallback::Ssd) => Some(DetectorKind::Ssd),
                Some(Fallback::None) => None,
            },
            alignment: c.align.unwrap_or(d.alignment),
            score_threshold: c.score_threshold.unwrap_or(d.score_threshold),
            min_face: c.min_face.unwrap_or(d.min_face),
            ..d
        }
    }

    pub fn split_options(&self) -> SplitOptions {
        SplitOptions {
            seed: self.split.seed.unwrap_or(kao_split::DEFAULT_SEED),
            ratios: self.split.ratios.unwrap_or([3, 1, 1]),
            near_distance: self
                .split
                .near_distance
                .unwrap_or(kao_image::NEAR_DUPLICATE_DISTANCE),
        }
    }

    /// Training settings, the augmentation ones included (training draws them itself).
    pub fn train_config(&self) -> TrainConfig {
        let mut t = TrainConfig {
            crop: self.crop_config(),
            ..TrainConfig::default()
        };
        if let Some(v) = self.train.head {
            t.head = v;
        }
        if let Some(v) = self.train.seed {
            t.seed = v;
        }
        if let Some(v) = self.train.threshold {
            t.threshold = v;
        }
        if let Some(v) = self.train.unknown_false_reject {
            t.unknown_false_reject = v;
        }
        if let Some(v) = self.augment.preset {
            t.augment_preset = v;
        }
        if let Some(v) = self.augment.per_image {
            t.augmentations = v;
        }
        t
    }

    pub fn publish_name(&self) -> String {
        self.publish
            .name
            .clone()
            .unwrap_or_else(|| DEFAULT_PUBLISH_NAME.to_string())
    }
}

/// The sub-folders of `dir` that can be tags, sorted by name: folders (or links to
/// folders) whose names do not start with a dot. Files beside them are not photos of
/// anyone in particular and are left out; a folder name that cannot be a tag is an error.
fn tag_folders(dir: &Path) -> Result<Vec<String>> {
    let err = |message: String| PipelineError::Config {
        path: dir.to_path_buf(),
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| err(format!("cannot list: {e}")))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| err(format!("cannot list: {e}")))?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") || !entry.path().is_dir() {
            continue;
        }
        let name = name.into_string().map_err(|n| {
            err(format!(
                "sub-folder {n:?} cannot be a tag: its name is not UTF-8"
            ))
        })?;
        kao_dataset::validate_tag(&name)
            .map_err(|e| err(format!("sub-folder {name:?} cannot be a tag: {e}")))?;
        names.push(name);
    }
    if names.is_empty() {
        return Err(err(
            "no sub-folders: put each person's photos in a sub-folder named after them".into(),
        ));
    }
    names.sort();
    Ok(names)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<PipelineConfig> {
        PipelineConfig::parse(text, Path::new("/base"), Path::new("pipeline.toml"))
    }

    #[test]
    fn sections_are_optional_and_paths_are_relative_to_the_file() {
        let c = parse(
            r#"
            [[tags]]
            name = "alice"
            [[tags.sources]]
            kind = "dir"
            path = "photos/alice"
            [[tags.sources]]
            kind = "archive"
            url = "lfw.tgz"
            glob = "lfw/alice/*.jpg"
            "#,
        )
        .unwrap();
        assert_eq!(c.work, Path::new("/base/work"));
        assert_eq!(
            c.tags[0].sources[0],
            Source::Dir {
                path: "/base/photos/alice".into()
            }
        );
        match &c.tags[0].sources[1] {
            Source::Archive { url, .. } => assert_eq!(url, "/base/lfw.tgz"),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.split_options().ratios, [3, 1, 1]);
        assert_eq!(c.publish_name(), DEFAULT_PUBLISH_NAME);
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_it_and_its_line() {
        let e = parse("work = \"w\"\n\n[train]\nhead = \"logreg\"\nepochs = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("epochs"), "{e}");
        assert!(e.contains("line 5"), "{e}");
        assert!(e.contains("pipeline.toml"), "{e}");
    }

    #[test]
    fn bad_values_name_their_line() {
        let e = parse("[split]\nratios = \"3:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("[crop]\ndetector = \"yolo\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("yolo"), "{e}");
        let e = parse("[[tags]]\nname = \"a\"\n[[tags]]\nname = \"a\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4") && e.contains("twice"), "{e}");
        let e = parse("[[tags]]\nname = \"a/b\"\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        let e = parse("[train]\nunknown_false_reject = 1.5\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("between 0 and 1"), "{e}");
        let c = parse("[train]\nunknown_false_reject = 0.02\n").unwrap();
        assert_eq!(c.train_config().unknown_false_reject, 0.02);
    }

    #[test]
    fn missing_local_sources_are_found_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            "[[tags]]\nname = \"a\"\n[[tags.sources]]\nkind = \"dir\"\npath = \"photos/a\"\n";
        let c = PipelineConfig::parse(text, dir.path(), Path::new("my.toml")).unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("my.toml") && e.contains("photos/a"), "{e}");
        std::fs::create_dir_all(dir.path().join("photos/a")).unwrap();
        c.validate().unwrap();
        let e = c
            .with_source_dir(&dir.path().join("elsewhere"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("elsewhere"), "{e}");
        let e = parse("work = \"w\"\n")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("no [[tags]]"), "{e}");
    }

    /// `root/<name>/` for each name, plus a loose file and a hidden folder.
    fn person_folders(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        std::fs::create_dir(dir.path().join(".thumbnails")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a person").unwrap();
        dir
    }

    #[test]
    fn source_dir_replaces_the_sources_of_the_listed_tags() {
        let photos = person_folders(&["a", "b"]);
        let c = parse("[[tags]]\nname = \"a\"\n[[tags.sources]]\nkind = \"bing\"\nquery = \"a\"\n")
            .unwrap()
            .with_source_dir(photos.path())
            .unwrap();
        assert_eq!(c.tag_names(), ["a"]);
        assert_eq!(
            c.jobs()[0].sources,
            vec![Source::Dir {
                path: photos.path().join("a")
            }]
        );
        // A listed tag without its folder names the tag and what is there.
        let e = parse("[[tags]]\nname = \"George_W_Bush\"\n")
            .unwrap()
            .with_source_dir(photos.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("George_W_Bush") && e.contains("a, b"), "{e}");
    }

    #[test]
    fn without_tags_the_source_dir_sub_folders_are_the_tags() {
        let photos = person_folders(&["Zoë Ångström", "Bob", "alice"]);
        let c = PipelineConfig::defaults(photos.path())
            .with_source_dir(photos.path())
            .unwrap();
        assert_eq!(c.tag_names(), ["Bob", "Zoë Ångström", "alice"]);
        assert_eq!(c.work, Path::new("./work"));
        assert_eq!(c.publish_name(), DEFAULT_PUBLISH_NAME);
        c.validate().unwrap();
        // A settings-only file does the same, keeping its settings.
        let c = parse("[train]\nhead = \"mlp\"\n")
            .unwrap()
            .with_source_dir(photos.path())
            .unwrap();
        assert_eq!(c.tags.len(), 3);
        assert_eq!(c.train.head, Some(HeadKind::Mlp));
    }

    #[test]
    fn a_source_dir_without_usable_sub_folders_is_an_error_naming_it() {
        let empty = person_folders(&[]);
        let e = PipelineConfig::defaults(empty.path())
            .with_source_dir(empty.path())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&empty.path().display().to_string()) && e.contains("no sub-folders"),
            "{e}"
        );
        let missing = empty.path().join("nowhere");
        let e = PipelineConfig::defaults(&missing)
            .with_source_dir(&missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nowhere") && e.contains("cannot list"), "{e}");
    }
}
