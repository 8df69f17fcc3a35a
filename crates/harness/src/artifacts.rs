//! The two builds an export needs besides the native one, each a nested cargo run in its
//! own target dir (`<target>/export`): a test or xtask that runs them never waits on the
//! outer build's lock, and the wasm and musl artifacts stay apart from the native ones.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{HarnessError, Result};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";
/// The cargo profile of the browser build (root `Cargo.toml`).
const WASM_PROFILE: &str = "wasm";

/// The Kao source tree: the nearest folder with a `Cargo.lock` above `$CARGO_MANIFEST_DIR`
/// (set by cargo for tests and `cargo run`), else above this crate's build-time folder.
pub fn workspace_root() -> PathBuf {
    let runtime = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let found = runtime
        .iter()
        .chain([&built])
        .flat_map(|d| d.ancestors())
        .find(|d| d.join("Cargo.lock").is_file() && d.join("crates").is_dir())
        .map(Path::to_path_buf);
    found.unwrap_or_else(|| built.join("../.."))
}

/// `<target>/export`, where `<target>` is `$CARGO_TARGET_DIR`, else the target dir the
/// running executable was built in (the folder with cargo's `CACHEDIR.TAG`), else
/// `<workspace>/target`.
pub fn export_target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_relative() {
                workspace_root().join(t)
            } else {
                t
            }
        })
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            exe.ancestors()
                .find(|d| d.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("export")
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", export_target_dir())
        // The outer build's flags are for the host; each nested build sets its own.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    c
}

fn run(mut command: Command, what: &str) -> Result<()> {
    let status = command.status().map_err(|e| HarnessError::Command {
        command: what.to_string(),
        message: format!("cannot start: {e}"),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(HarnessError::Command {
            command: what.to_string(),
            message: format!("failed ({status})"),
        })
    }
}

/// The browser module's two builds: the name wasm-bindgen gives each (`NAME.js`,
/// `NAME_bg.wasm`) and the target features each is compiled with. Engines with
/// WebAssembly's relaxed SIMD (Chromium since 114) run the second, whose multiply-adds
/// are fused where the CPU can (about a tenth faster per photo, docs/export.md); the
/// first is for the rest. A module validates whole or not at all, so the two cannot
/// share one file; `kao.js` fetches only the one its engine validates.
pub const WASM_BUILDS: [(&str, &str); 2] = [
    ("kao_web", "+simd128"),
    ("kao_web_relaxed", "+simd128,+relaxed-simd"),
];

/// Builds the browser runtime: kao-web for `wasm32-unknown-unknown` once per entry of
/// [`WASM_BUILDS`], each through `wasm-opt` and `wasm-bindgen --target web`, and the
/// page's files from `crates/web/www`. Returns the folder (`<target>/export/web`) that
/// `kao export --platform web` copies. Cargo's own up-to-date check makes a rerun cheap.
pub fn build_web_runtime() -> Result<PathBuf> {
    let root = workspace_root();
    let expected = locked_version(&root, "wasm-bindgen")?;
    let found = wasm_bindgen_version()?;
    if found != expected {
        return Err(HarnessError::Command {
            command: "wasm-bindgen".into(),
            message: format!(
                "version {found}, but Cargo.lock has wasm-bindgen {expected}: \
                 cargo install wasm-bindgen-cli --version ={expected}"
            ),
        });
    }
    let out = export_target_dir().join("web");
    for (name, features) in WASM_BUILDS {
        let wasm = build_wasm(name, features)?;
        let optimised = optimise_wasm(&wasm, name, features)?;
        let mut bindgen = Command::new("wasm-bindgen");
        bindgen
            // The name and producers sections only help debuggers; they are a tenth of the
            // module that every visitor would download.
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--remove-name-section",
                "--remove-producers-section",
                "--out-dir",
            ])
            .arg(&out)
            .arg(&optimised);
        run(bindgen, "wasm-bindgen --target web")?;
    }
    let www = root.join("crates/web/www");
    for entry in std::fs::read_dir(&www).map_err(HarnessError::io(&www))? {
        let entry = entry.map_err(HarnessError::io(&www))?;
        let to = out.join(entry.file_name());
        std::fs::copy(entry.path(), &to).map_err(HarnessError::io(&to))?;
    }
    Ok(out)
}

/// rustc's module for one of [`WASM_BUILDS`]. Each build has its own target dir under
/// `<target>/export` (different flags would otherwise rebuild the other's crates), and
/// its flags replace `.cargo/config.toml`'s.
fn build_wasm(name: &str, features: &str) -> Result<PathBuf> {
    let target_dir = export_target_dir().join(format!("wasm-{name}"));
    let mut build = cargo();
    build
        .env("CARGO_TARGET_DIR", &target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            format!("-C\x1ftarget-feature={features}"),
        )
        .args([
            "build",
            "--locked",
            "--package",
            "kao-web",
            "--lib",
            "--target",
            WASM_TARGET,
            "--profile",
            WASM_PROFILE,
        ]);
    run(
        build,
        &format!("cargo build -p kao-web --target {WASM_TARGET} ({features})"),
    )?;
    Ok(target_dir
        .join(WASM_TARGET)
        .join(WASM_PROFILE)
        .join("kao_web.wasm"))
}

/// Binaryen's `wasm-opt -Oz` over rustc's module, before wasm-bindgen reads it: about a
/// tenth smaller than rustc's own size optimisation reaches, at the same speed (see
/// docs/export.md). Returns `<target>/export/wasm-opt/NAME.wasm` (wasm-bindgen names its
/// output after the input). The features are the ones the module uses. Under Node.js it
/// takes about half a minute a module, so a module older than its last output is not
/// optimised again.
fn optimise_wasm(wasm: &Path, name: &str, features: &str) -> Result<PathBuf> {
    let dir = export_target_dir().join("wasm-opt");
    std::fs::create_dir_all(&dir).map_err(HarnessError::io(&dir))?;
    let out = dir.join(format!("{name}.wasm"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if let (Some(done), Some(input)) = (modified(&out), modified(wasm)) {
        if done >= input {
            return Ok(out);
        }
    }
    let partial = dir.join(format!("{name}.wasm.partial"));
    let mut opt = Command::new(wasm_opt()?);
    opt.arg("-Oz")
        .args([
            "--enable-simd",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-multivalue",
            "--enable-reference-types",
        ])
        .args(
            features
                .contains("relaxed-simd")
                .then_some("--enable-relaxed-simd"),
        )
        .arg(wasm)
        .arg("-o")
        .arg(&partial);
    run(opt, &format!("wasm-opt -Oz {}", wasm.display()))?;
    std::fs::rename(&partial, &out).map_err(HarnessError::io(&out))?;
    Ok(out)
}

/// Binaryen's `wasm-opt` from the npm package that `xtask/wasm-opt/package-lock.json`
/// pins, installed there by `npm ci` on first use. Debian's Binaryen (108) predates the
/// final opcodes of relaxed SIMD and cannot read the relaxed build.
fn wasm_opt() -> Result<PathBuf> {
    let dir = workspace_root().join("xtask/wasm-opt");
    let bin = dir.join("node_modules/.bin/wasm-opt");
    if !bin.is_file() {
        let mut npm = Command::new("npm");
        npm.current_dir(&dir)
            .args(["ci", "--silent", "--no-audit", "--no-fund"]);
        run(
            npm,
            "npm ci in xtask/wasm-opt (Binaryen's wasm-opt; needs Node.js and npm, \
             Debian: apt-get install nodejs npm, which .ci/run does)",
        )?;
    }
    Ok(bin)
}

/// Builds a statically linked `kao` for Linux x86-64 (musl) and returns its path
/// (`<target>/export/x86_64-unknown-linux-musl/debug/kao`). It uses the dev profile, the one
/// profile CI builds: every dependency and Kao's numerical crates are optimised there
/// (root `Cargo.toml`), so the container's `kao` predicts as fast as a release build.
pub fn build_static_kao() -> Result<PathBuf> {
    let mut build = cargo();
    build.args([
        "build",
        "--locked",
        "--package",
        "kao",
        "--bin",
        "kao",
        "--target",
        MUSL_TARGET,
    ]);
    run(
        build,
        "cargo build --bin kao --target x86_64-unknown-linux-musl",
    )?;
    Ok(export_target_dir()
        .join(MUSL_TARGET)
        .join("debug")
        .join("kao"))
}

fn wasm_bindgen_version() -> Result<String> {
    let out = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .map_err(|e| HarnessError::Command {
            command: "wasm-bindgen --version".into(),
            message: format!(
                "{e}: install it with `cargo install wasm-bindgen-cli --version =<the \
                 wasm-bindgen version in Cargo.lock>` (.ci/run does)"
            ),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string())
}

/// The version of `package` in the workspace's `Cargo.lock`.
fn locked_version(root: &Path, package: &str) -> Result<String> {
    let path = root.join("Cargo.lock");
    let lock = std::fs::read_to_string(&path).map_err(HarnessError::io(&path))?;
    let header = format!("name = \"{package}\"\nversion = \"");
    lock.find(&header)
        .and_then(|i| {
            let rest = &lock[i + header.len()..];
            rest.find('"').map(|end| rest[..end].to_string())
        })
        .ok_or_else(|| HarnessError::Command {
            command: "Cargo.lock".into(),
            message: format!("no {package} package"),
        })
}
