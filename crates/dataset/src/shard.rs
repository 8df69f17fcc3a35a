//! Sharded stages: a stage's input cut into N deterministic parts that separate processes
//! (Slurm array tasks, Kubernetes indexed jobs, or runs by hand) work on at once.
//!
//! A shard writes its files where the stage always writes them when they are one file per
//! item (chips, photos: named by content, so shards never write the same file), and its
//! append-only records (manifests, descriptor caches) to its own part files under
//! `W/shards/<stage>/<I>-of-<N>/`, laid out as the work dir is. While it runs it reads the
//! work dir's file and its own part as one ([`ManifestFiles`]), so a shard that died
//! half-way resumes where it stopped. Its last act is `done.json`: a part without it is
//! never merged.
//!
//! [`merge_shards`] folds every finished shard's parts into the work dir's files (the next
//! stage calls it before reading), crash-safe through a journal, and remembers what each
//! merged shard reported in `W/shards/<stage>/merged.jsonl`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::atomic::{sync_dir, write_atomic_json};
use crate::error::{DatasetError, Result};
use crate::layout::WorkDir;
use crate::manifest::{read_manifest, Manifest};

/// Part `index` of `count` (0-based), written `I/N` on command lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole input as one shard.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Part `index` of `count`; `None` unless `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    pub fn is_whole(&self) -> bool {
        self.count == 1
    }

    /// Whether the item with this content id (a SHA-256 in hex) belongs to this shard. The
    /// id's first 64 bits pick the shard, so the split depends on nothing but the content:
    /// not on listing order, file names or the machine. Any other key (a path, a tag) is
    /// hashed first.
    pub fn holds(&self, content_id: &str) -> bool {
        bucket(content_id) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether the `i`-th of a sorted list (tags) belongs to this shard: round robin, so
    /// N shards of N items get one each.
    pub fn holds_index(&self, i: usize) -> bool {
        i as u64 % u64::from(self.count) == u64::from(self.index)
    }

    /// `I-of-N`: the shard's folder name.
    pub fn dir_name(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }
}

/// The first 64 bits of a hex content id, or of the SHA-256 of any other key.
fn bucket(key: &str) -> u64 {
    let hex = |s: &str| {
        s.get(..16)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
    };
    hex(key).unwrap_or_else(|| hex(&kao_image::content_id(key.as_bytes())).unwrap_or_default())
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let bad = || format!("{s:?} is not a shard: write I/N, part I (0-based) of N, as 2/4");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(format!("{s:?}: the number of shards must be at least 1"));
        }
        Shard::new(i, n).ok_or_else(|| {
            format!(
                "{s:?}: shard index {i} is out of range (0 to {} of {n} shards)",
                n - 1
            )
        })
    }
}

impl crate::TreeList {
    /// The entries of a folder-per-tag listing that belong to `shard`, by content id: a
    /// file named by its content (`<sha256-16>.<ext>`, as the collect stage and uploads name
    /// them) by its name, any other file by the SHA-256 of its bytes (read here), an entry
    /// that cannot be read by its path. Files outside tag folders stay with shard 0.
    pub fn into_shard(self, shard: Shard) -> crate::TreeList {
        use rayon::prelude::*;
        if shard.is_whole() {
            return self;
        }
        let files = self
            .files
            .into_par_iter()
            .filter(|f| {
                let named = Path::new(&f.rel)
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .filter(|s| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                    .map(str::to_string);
                let id = named.unwrap_or_else(|| {
                    let limits = kao_image::Limits::default();
                    kao_image::read_limited(&f.path, &limits)
                        .map(|bytes| kao_image::content_id(&bytes))
                        .unwrap_or_else(|_| f.rel.clone())
                });
                shard.holds(&id)
            })
            .collect();
        crate::TreeList {
            files,
            untagged: if shard.index == 0 {
                self.untagged
            } else {
                Vec::new()
            },
            unreadable: self
                .unreadable
                .into_iter()
                .filter(|u| shard.holds(&u.rel))
                .collect(),
        }
    }
}

/// An exclusive advisory lock on a file (`flock`), released when dropped or when the
/// process dies. It also works across the nodes of an NFSv4 or Lustre mount.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Waits for the lock.
    pub fn acquire(path: &Path) -> Result<FileLock> {
        let file = open_lock_file(path)?;
        flock(&file, false).map_err(DatasetError::io(path))?;
        Ok(FileLock { _file: file })
    }

    /// The lock, or `None` when another process holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<FileLock>> {
        let file = open_lock_file(path)?;
        match flock(&file, true) {
            Ok(()) => Ok(Some(FileLock { _file: file })),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(DatasetError::io(path)(e)),
        }
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(DatasetError::io(dir))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(DatasetError::io(path))
}

#[cfg(unix)]
fn flock(file: &File, nonblocking: bool) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let op = libc::LOCK_EX | if nonblocking { libc::LOCK_NB } else { 0 };
    loop {
        // SAFETY: flock on a descriptor this function borrows for the call's duration.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(not(unix))]
fn flock(_file: &File, _nonblocking: bool) -> std::io::Result<()> {
    Ok(())
}

/// An append-only file as a stage sees it: the files it reads, in order, as one, and the
/// one it appends to. Outside a shard both are the work dir's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFiles {
    pub read: Vec<PathBuf>,
    pub append: PathBuf,
}

impl ManifestFiles {
    /// The work dir's own file.
    pub fn single(path: PathBuf) -> ManifestFiles {
        ManifestFiles {
            read: vec![path.clone()],
            append: path,
        }
    }

    /// `main` as a shard sees it (`shard`: `None` outside one).
    pub fn of(main: PathBuf, shard: Option<&ShardDir>) -> ManifestFiles {
        match shard {
            Some(s) => s.files(&main),
            None => ManifestFiles::single(main),
        }
    }

    /// Every record of every file, in order (torn last lines are skipped with a warning,
    /// as [`read_manifest`] does).
    pub fn read_records<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for path in &self.read {
            out.extend(read_manifest::<T>(path)?.records);
        }
        Ok(out)
    }

    /// The file appends go to.
    pub fn open<T: Serialize>(&self) -> Result<Manifest<T>> {
        Manifest::open(&self.append)
    }
}

/// Where one shard of one stage keeps its part files and its `done.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardDir {
    work: WorkDir,
    stage: String,
    shard: Shard,
}

const DONE: &str = "done.json";
const LOCK: &str = ".lock";
const MERGED: &str = "merged.jsonl";
const JOURNAL: &str = "merge-journal.json";
const MERGE_LOCK: &str = ".merge.lock";

impl ShardDir {
    pub fn new(work: &WorkDir, stage: &str, shard: Shard) -> ShardDir {
        ShardDir {
            work: work.clone(),
            stage: stage.to_string(),
            shard,
        }
    }

    pub fn shard(&self) -> Shard {
        self.shard
    }

    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// `W/shards/<stage>/<I>-of-<N>/`.
    pub fn root(&self) -> PathBuf {
        self.work
            .shards()
            .join(&self.stage)
            .join(self.shard.dir_name())
    }

    /// This shard's part of the work dir's file `main` (same path under the shard's root).
    pub fn part(&self, main: &Path) -> PathBuf {
        let rel = main.strip_prefix(self.work.root()).unwrap_or_else(|_| {
            // Every file a stage appends to is under the work dir; anything else keeps its
            // name only.
            Path::new(main.file_name().unwrap_or_default())
        });
        self.root().join(rel)
    }

    /// `main` and this shard's part, read as one; appends go to the part.
    pub fn files(&self, main: &Path) -> ManifestFiles {
        let part = self.part(main);
        ManifestFiles {
            read: vec![main.to_path_buf(), part.clone()],
            append: part,
        }
    }

    /// The report the shard wrote when it finished (`None`: not finished).
    pub fn done<T: DeserializeOwned>(&self) -> Option<T> {
        let bytes = std::fs::read(self.root().join(DONE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Starts (or restarts) the shard: takes its lock, so the same shard cannot run twice
    /// at once nor be merged while it runs, and withdraws an earlier `done.json`.
    pub fn begin(&self) -> Result<ShardRun> {
        let root = self.root();
        let lock = FileLock::try_acquire(&root.join(LOCK))?.ok_or_else(|| DatasetError::Busy {
            path: root.clone(),
            message: format!(
                "shard {} of stage {} is being run or merged by another process",
                self.shard, self.stage
            ),
        })?;
        let done = root.join(DONE);
        match std::fs::remove_file(&done) {
            Ok(()) => sync_dir(&root)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DatasetError::io(&done)(e)),
        }
        Ok(ShardRun {
            dir: self.clone(),
            _lock: lock,
        })
    }
}

/// A shard being run: holds its lock until [`ShardRun::finish`] or drop.
#[derive(Debug)]
pub struct ShardRun {
    dir: ShardDir,
    _lock: FileLock,
}

impl ShardRun {
    pub fn dir(&self) -> &ShardDir {
        &self.dir
    }

    /// Marks the shard finished with its report: from now on a merge takes its parts.
    /// Everything it appended was fsync'd before, so the parts are complete.
    pub fn finish<T: Serialize>(self, report: &T) -> Result<()> {
        write_atomic_json(&self.dir.root().join(DONE), report)
    }
}

/// What a shard reported, as remembered by the merge that took it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedShard {
    pub shard: Shard,
    /// The shard's `done.json`.
    pub done: serde_json::Value,
}

/// An interrupted merge's plan: each file's length before it, and the shards it took.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    stage: String,
    /// `(file, length before the merge; None: the file did not exist)`.
    files: Vec<(PathBuf, Option<u64>)>,
    shards: Vec<PathBuf>,
    /// Every part was appended; only the shard folders are left to remove.
    appended: bool,
}

/// Folds every finished shard of `stage` into the work dir's files and returns what they
/// reported (also appended to `W/shards/<stage>/merged.jsonl`, read by [`merged_shards`]).
///
/// Each part's records go to the end of the work dir's file of the same path, shard by
/// shard in index order; then the shard's folder is removed. Shards that are unfinished
/// (no `done.json`) or still locked by a running process are left alone. Merges are
/// serialised by a lock, and a journal makes one that was killed half-way finish on the
/// next call without taking any record twice.
pub fn merge_shards(work: &WorkDir, stage: &str) -> Result<Vec<MergedShard>> {
    let base = work.shards();
    if !base.is_dir() {
        return Ok(Vec::new());
    }
    let _merge = FileLock::acquire(&base.join(MERGE_LOCK))?;
    recover(work)?;
    let stage_dir = base.join(stage);
    let mut found: Vec<(Shard, PathBuf)> = std::fs::read_dir(&stage_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let (i, n) = name.split_once("-of-")?;
            let shard = Shard::new(i.parse().ok()?, n.parse().ok()?)?;
            Some((shard, e.path()))
        })
        .collect();
    found.sort_by_key(|(s, _)| (s.count, s.index));
    let mut taken = Vec::new();
    let mut locks = Vec::new();
    for (shard, dir) in found {
        let Some(lock) = FileLock::try_acquire(&dir.join(LOCK))? else {
            continue; // running
        };
        let Ok(bytes) = std::fs::read(dir.join(DONE)) else {
            continue; // unfinished: its parts are never taken
        };
        let done: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| DatasetError::Json {
                path: dir.join(DONE),
                message: e.to_string(),
            })?;
        locks.push(lock);
        taken.push((MergedShard { shard, done }, dir));
    }
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    // Every (part, file) pair, in the order they are appended.
    let mut pairs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for (_, dir) in &taken {
        for part in part_files(dir)? {
            let rel = part.strip_prefix(dir).expect("walked under the shard");
            pairs.push((part.clone(), work.root().join(rel)));
        }
    }
    let merged_log = stage_dir.join(MERGED);
    let mut files: Vec<(PathBuf, Option<u64>)> = Vec::new();
    for main in pairs
        .iter()
        .map(|(_, m)| m)
        .chain(std::iter::once(&merged_log))
    {
        if files.iter().any(|(f, _)| f == main) {
            continue;
        }
        // A torn last line left by a crashed writer is cut first, so the appended records
        // start on a line of their own.
        let len = if main.exists() {
            drop(Manifest::<serde_json::Value>::open(main)?);
            Some(
                std::fs::metadata(main)
                    .map_err(DatasetError::io(main))?
                    .len(),
            )
        } else {
            None
        };
        files.push((main.clone(), len));
    }
    let mut journal = Journal {
        stage: stage.to_string(),
        files,
        shards: taken.iter().map(|(_, d)| d.clone()).collect(),
        appended: false,
    };
    let journal_path = base.join(JOURNAL);
    write_atomic_json(&journal_path, &journal)?;
    for (part, main) in &pairs {
        append_lines(part, main)?;
    }
    let log = Manifest::<MergedShard>::open(&merged_log)?;
    log.append_all(&taken.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>())?;
    journal.appended = true;
    write_atomic_json(&journal_path, &journal)?;
    remove_shards(&journal.shards)?;
    remove_file(&journal_path)?;
    drop(locks);
    Ok(taken.into_iter().map(|(m, _)| m).collect())
}

/// What the merges of `stage` took since [`clear_merged`] was last called.
pub fn merged_shards(work: &WorkDir, stage: &str) -> Result<Vec<MergedShard>> {
    Ok(read_manifest(&work.shards().join(stage).join(MERGED))?.records)
}

/// Forgets what the merges of `stage` took (once it has been accounted for).
pub fn clear_merged(work: &WorkDir, stage: &str) -> Result<()> {
    remove_file(&work.shards().join(stage).join(MERGED))
}

/// Finishes or undoes a merge that was killed half-way.
fn recover(work: &WorkDir) -> Result<()> {
    let path = work.shards().join(JOURNAL);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(());
    };
    let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| DatasetError::Json {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if !journal.appended {
        // The shards are all still there: cut every file back to where it was, and the
        // merge starts again. What was appended since must be the start of what the merge
        // appends, or something else wrote to the file meanwhile and cutting would lose it.
        for (file, len) in &journal.files {
            let before = len.unwrap_or(0);
            let now = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            if now > before {
                if file.file_name().is_some_and(|n| n != MERGED)
                    && !appended_by(work, &journal.shards, file, before)?
                {
                    return Err(DatasetError::Busy {
                        path: file.clone(),
                        message: format!(
                            "written to by something else after a merge was interrupted \
                             ({} lists what it was merging)",
                            path.display()
                        ),
                    });
                }
                let f = OpenOptions::new()
                    .write(true)
                    .open(file)
                    .map_err(DatasetError::io(file))?;
                f.set_len(before).map_err(DatasetError::io(file))?;
                f.sync_all().map_err(DatasetError::io(file))?;
            }
            if len.is_none() {
                remove_file(file)?;
            }
        }
    } else {
        remove_shards(&journal.shards)?;
    }
    remove_file(&path)
}

/// Whether `file` past `before` holds only the start of what the shards in `dirs` append
/// to it.
fn appended_by(work: &WorkDir, dirs: &[PathBuf], file: &Path, before: u64) -> Result<bool> {
    let mut expected = Vec::new();
    for dir in dirs {
        for part in part_files(dir)? {
            let rel = part.strip_prefix(dir).expect("walked under the shard");
            if work.root().join(rel) == file {
                let bytes = std::fs::read(&part).map_err(DatasetError::io(&part))?;
                let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                expected.extend_from_slice(&bytes[..complete]);
            }
        }
    }
    let mut f = File::open(file).map_err(DatasetError::io(file))?;
    f.seek(SeekFrom::Start(before))
        .map_err(DatasetError::io(file))?;
    let mut since = Vec::new();
    f.read_to_end(&mut since).map_err(DatasetError::io(file))?;
    Ok(expected.starts_with(&since))
}

fn remove_shards(dirs: &[PathBuf]) -> Result<()> {
    for dir in dirs {
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(DatasetError::io(dir)(e)),
        }
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DatasetError::io(path)(e)),
    }
}

/// The part files of a shard folder (everything but its lock and `done.json`), sorted.
fn part_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| DatasetError::Io {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        let name = entry.file_name();
        if entry.file_type().is_file() && name != DONE && name != LOCK {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// Appends the complete lines of `part` to `main`, with one fsync.
fn append_lines(part: &Path, main: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    File::open(part)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(DatasetError::io(part))?;
    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete == 0 {
        return Ok(());
    }
    if let Some(dir) = main.parent() {
        std::fs::create_dir_all(dir).map_err(DatasetError::io(dir))?;
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(main)
        .map_err(DatasetError::io(main))?;
    f.seek(SeekFrom::End(0)).map_err(DatasetError::io(main))?;
    f.write_all(&bytes[..complete])
        .map_err(DatasetError::io(main))?;
    f.sync_data().map_err(DatasetError::io(main))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_partition_every_id_once() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x", "1-4"] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        let shards: Vec<Shard> = (0..4).map(|i| Shard::new(i, 4).unwrap()).collect();
        let mut sizes = [0usize; 4];
        for k in 0..2000u32 {
            let id = kao_image::content_id(&k.to_le_bytes());
            let holders: Vec<usize> = (0..4).filter(|&i| shards[i].holds(&id)).collect();
            assert_eq!(holders.len(), 1, "{id}");
            sizes[holders[0]] += 1;
        }
        assert!(sizes.iter().all(|&n| (400..600).contains(&n)), "{sizes:?}");
        assert!(Shard::WHOLE.holds("not hex at all"));
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn merges_take_finished_shards_once_even_after_an_interrupted_merge() {
        let dir = tempfile::tempdir().unwrap();
        let work = WorkDir::new(dir.path());
        let main = work.faces_manifest();
        let write = |i: u32, records: &[&str], finish: bool| {
            let shard = ShardDir::new(&work, "crop", Shard::new(i, 2).unwrap());
            let run = shard.begin().unwrap();
            let m = shard.files(&main).open::<serde_json::Value>().unwrap();
            for r in records {
                m.append(&serde_json::json!({ "r": r })).unwrap();
            }
            if finish {
                run.finish(&serde_json::json!({ "shard": i })).unwrap();
            }
            shard
        };
        write(0, &["a", "b"], true);
        let unfinished = write(1, &["c"], false);
        let merged = merge_shards(&work, "crop").unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(lines(&main), [r#"{"r":"a"}"#, r#"{"r":"b"}"#]);
        assert!(unfinished.root().is_dir(), "an unfinished shard stays");
        assert!(!ShardDir::new(&work, "crop", Shard::new(0, 2).unwrap())
            .root()
            .exists());

        // Shard 1 finishes; a merge of it dies after appending part of its records.
        write(1, &["d"], true);
        let len = |p: &Path| std::fs::metadata(p).unwrap().len();
        let log = work.shards().join("crop").join(MERGED);
        let journal = Journal {
            stage: "crop".into(),
            files: vec![
                (main.clone(), Some(len(&main))),
                (log.clone(), Some(len(&log))),
            ],
            shards: vec![unfinished.root()],
            appended: false,
        };
        write_atomic_json(&work.shards().join(JOURNAL), &journal).unwrap();
        let mut f = OpenOptions::new().append(true).open(&main).unwrap();
        f.write_all(b"{\"r\":\"c\"}\n").unwrap();
        drop(f);
        let merged = merge_shards(&work, "crop").unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(
            lines(&main),
            [
                r#"{"r":"a"}"#,
                r#"{"r":"b"}"#,
                r#"{"r":"c"}"#,
                r#"{"r":"d"}"#
            ]
        );
        assert_eq!(merged_shards(&work, "crop").unwrap().len(), 2);
        assert!(!work.shards().join(JOURNAL).exists());
    }
}
