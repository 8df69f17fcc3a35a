//! `cargo xtask models --verify`: downloads `@vladmandic/face-api@1.7.15` again with
//! `npm pack` into a temp dir and checks that the committed weight files are identical.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

const PACKAGE: &str = "@vladmandic/face-api@1.7.15";
const DIR: &str = "models/face-api";

pub fn verify() -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let out = Command::new("npm")
        .args(["pack", PACKAGE, "--silent"])
        .current_dir(tmp.path())
        .output()
        .map_err(|e| {
            anyhow::anyhow!("cannot run npm ({e}): install Node.js/npm to verify the weights")
        })?;
    if !out.status.success() {
        bail!(
            "`npm pack {PACKAGE}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let tgz = std::fs::read_dir(tmp.path())?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .context("npm pack wrote no .tgz")?;
    let file = std::fs::File::open(&tgz)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let unpacked = tmp.path().join("unpacked");
    archive
        .unpack(&unpacked)
        .with_context(|| format!("cannot unpack {}", tgz.display()))?;
    let model_dir = unpacked.join("package/model");
    let sums = std::fs::read_to_string(Path::new(DIR).join("SHA256SUMS"))
        .context("run from the repository root")?;
    let mut differ = Vec::new();
    let mut checked = 0;
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let name = line
            .split_whitespace()
            .last()
            .context("bad SHA256SUMS line")?;
        let ours = std::fs::read(Path::new(DIR).join(name))
            .with_context(|| format!("{DIR}/{name} is missing"))?;
        match std::fs::read(model_dir.join(name)) {
            Ok(theirs) if theirs == ours => checked += 1,
            Ok(_) => differ.push(format!("{name}: differs from the package")),
            Err(e) => differ.push(format!("{name}: not in the package ({e})")),
        }
    }
    if !differ.is_empty() {
        bail!(
            "{} of the committed weight files do not match {PACKAGE}:\n  {}",
            differ.len(),
            differ.join("\n  ")
        );
    }
    println!("{checked} files in {DIR} are byte-identical to {PACKAGE}");
    Ok(())
}
