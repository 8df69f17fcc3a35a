//! `.tar`, `.tar.gz`/`.tgz` and `.zip` archives: type sniffed from the bytes, checksum,
//! and the members matching a glob, read one at a time.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use sha2::{Digest, Sha256};

use crate::error::{CrawlError, Result};
use crate::record::Reject;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArchiveKind {
    Tar,
    TarGz,
    Zip,
}

impl ArchiveKind {
    pub fn extension(self) -> &'static str {
        match self {
            ArchiveKind::Tar => "tar",
            ArchiveKind::TarGz => "tgz",
            ArchiveKind::Zip => "zip",
        }
    }

    pub const ALL: [ArchiveKind; 3] = [ArchiveKind::TarGz, ArchiveKind::Tar, ArchiveKind::Zip];
}

/// Tells gzip, zip and tar apart by their magic bytes.
pub(crate) fn sniff(path: &Path) -> Result<ArchiveKind> {
    let mut head = [0u8; 262];
    let mut f = File::open(path).map_err(CrawlError::io(path))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]).map_err(CrawlError::io(path))? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(ArchiveKind::TarGz)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Ok(ArchiveKind::Zip)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Ok(ArchiveKind::Tar)
    } else {
        Err(CrawlError::Archive {
            what: path.display().to_string(),
            message: "not a tar, gzip-compressed tar or zip archive".into(),
        })
    }
}

/// SHA-256 of a file, lower-case hex.
pub(crate) fn file_sha256(path: &Path) -> Result<String> {
    let mut f = BufReader::with_capacity(1 << 20, File::open(path).map_err(CrawlError::io(path))?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(CrawlError::io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Checks an expected SHA-256 (hex, any case) against an actual one.
pub(crate) fn check_sha256(what: &str, expected: &str, actual: &str) -> Result<()> {
    if expected.trim().eq_ignore_ascii_case(actual) {
        Ok(())
    } else {
        Err(CrawlError::Checksum {
            what: what.to_string(),
            expected: expected.trim().to_ascii_lowercase(),
            actual: actual.to_string(),
        })
    }
}

/// A member glob: `*` stays within one path component, `**` crosses them.
pub(crate) fn matcher(glob: &str) -> Result<GlobMatcher> {
    GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| CrawlError::Glob {
            glob: glob.to_string(),
            message: e.to_string(),
        })
}

/// One archive member that matched: its bytes, or why they were not read.
pub(crate) struct Member {
    pub content: std::result::Result<Vec<u8>, Reject>,
}

/// What to do with a matching member before reading it.
pub(crate) enum Take {
    Read,
    /// Settled by an earlier run: do not read.
    Skip,
}

/// Walks the regular-file members in archive order; `take` is asked about each member
/// the glob selects, `sink` gets each one (false from `sink` stops the walk). Members
/// over `max_bytes` are not read.
pub(crate) fn walk(
    path: &Path,
    kind: ArchiveKind,
    glob: Option<&GlobMatcher>,
    max_bytes: u64,
    take: &mut dyn FnMut(&str) -> Take,
    sink: &mut dyn FnMut(Option<Member>, &str) -> bool,
) -> Result<()> {
    let what = path.display().to_string();
    let corrupt = |e: &dyn std::fmt::Display| CrawlError::Archive {
        what: what.clone(),
        message: e.to_string(),
    };
    let selected = |name: &str| glob.is_none_or(|g| g.is_match(name));
    let mut visit = |name: String, size: u64, reader: &mut dyn Read| -> Result<bool> {
        if !selected(&name) {
            return Ok(true);
        }
        if let Take::Skip = take(&name) {
            return Ok(sink(None, &name));
        }
        let content = if size > max_bytes {
            Err(Reject::new(
                "too_large",
                format!("member size {size} bytes exceeds the limit of {max_bytes} bytes"),
            ))
        } else {
            let mut bytes = Vec::with_capacity(size as usize);
            reader
                .take(max_bytes + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| corrupt(&format!("{name}: {e}")))?;
            Ok(bytes)
        };
        Ok(sink(Some(Member { content }), &name))
    };
    let file = File::open(path).map_err(CrawlError::io(path))?;
    match kind {
        ArchiveKind::Tar => walk_tar(
            tar::Archive::new(BufReader::new(file)),
            &mut visit,
            &corrupt,
        ),
        ArchiveKind::TarGz => walk_tar(
            tar::Archive::new(flate2::read::MultiGzDecoder::new(BufReader::new(file))),
            &mut visit,
            &corrupt,
        ),
        ArchiveKind::Zip => walk_zip(file, &mut visit, &corrupt),
    }
}

type Visit<'a> = dyn FnMut(String, u64, &mut dyn Read) -> Result<bool> + 'a;

fn member_name(raw: &str) -> String {
    let name = raw.replace('\\', "/");
    name.trim_start_matches("./").to_string()
}

fn walk_tar<R: Read>(
    mut archive: tar::Archive<R>,
    visit: &mut Visit<'_>,
    corrupt: &dyn Fn(&dyn std::fmt::Display) -> CrawlError,
) -> Result<()> {
    for entry in archive.entries().map_err(|e| corrupt(&e))? {
        let mut entry = entry.map_err(|e| corrupt(&e))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            continue;
        }
        let name = member_name(&entry.path().map_err(|e| corrupt(&e))?.to_string_lossy());
        let size = entry.size();
        if !visit(name, size, &mut entry)? {
            break;
        }
    }
    Ok(())
}

fn walk_zip<R: Read + Seek>(
    reader: R,
    visit: &mut Visit<'_>,
    corrupt: &dyn Fn(&dyn std::fmt::Display) -> CrawlError,
) -> Result<()> {
    let mut archive = zip::ZipArchive::new(reader).map_err(|e| corrupt(&e))?;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| corrupt(&e))?;
        if !file.is_file() {
            continue;
        }
        let name = member_name(&file.name().map_err(|e| corrupt(&e))?);
        let size = file.size();
        if !visit(name, size, &mut file)? {
            break;
        }
    }
    Ok(())
}
