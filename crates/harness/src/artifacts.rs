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

/// Builds the browser runtime: kao-web for `wasm32-unknown-unknown` (SIMD128 on, from
/// `.cargo/config.toml`), `wasm-bindgen --target web` over it, and the page's files from
/// `crates/web/www`. Returns the folder (`<target>/export/web`) that
/// `kao export --platform web` copies. Cargo's own up-to-date check makes a rerun cheap.
pub fn build_web_runtime() -> Result<PathBuf> {
    let root = workspace_root();
    let mut build = cargo();
    build.args([
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
        "cargo build -p kao-web --target wasm32-unknown-unknown",
    )?;
    let wasm = export_target_dir()
        .join(WASM_TARGET)
        .join(WASM_PROFILE)
        .join("kao_web.wasm");
    let optimised = optimise_wasm(&wasm)?;
    let out = export_target_dir().join("web");
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
    let www = root.join("crates/web/www");
    for entry in std::fs::read_dir(&www).map_err(HarnessError::io(&www))? {
        let entry = entry.map_err(HarnessError::io(&www))?;
        let to = out.join(entry.file_name());
        std::fs::copy(entry.path(), &to).map_err(HarnessError::io(&to))?;
    }
    Ok(out)
}

/// Binaryen's `wasm-opt -Oz` over rustc's module, before wasm-bindgen reads it: about a
/// tenth smaller than rustc's own size optimisation reaches, at the same speed (see
/// docs/export.md). Returns `<target>/export/wasm-opt/kao_web.wasm` (wasm-bindgen names
/// its output after the input). The features are the ones the module uses; the Debian
/// release of Binaryen does not read them from the module.
fn optimise_wasm(wasm: &Path) -> Result<PathBuf> {
    let dir = export_target_dir().join("wasm-opt");
    std::fs::create_dir_all(&dir).map_err(HarnessError::io(&dir))?;
    let out = dir.join("kao_web.wasm");
    let mut opt = Command::new("wasm-opt");
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
        .arg(wasm)
        .arg("-o")
        .arg(&out);
    match opt.status() {
        Ok(status) if status.success() => Ok(out),
        Ok(status) => Err(HarnessError::Command {
            command: "wasm-opt -Oz".into(),
            message: format!("failed ({status})"),
        }),
        Err(e) => Err(HarnessError::Command {
            command: "wasm-opt".into(),
            message: format!(
                "{e}: install Binaryen (Debian: apt-get install binaryen; .ci/run does)"
            ),
        }),
    }
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
