//! `kao export --platform docker`: the build context's static `kao` serves the iteration
//! from a root that holds nothing but the context (chroot, as user 65532, the image's
//! user), and, where podman can run containers, from the built image itself.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kao_dataset::WorkDir;
use kao_export::{ExportRequest, Platform, Selection};
use kao_harness::trained::{lfw, trained, PHOTOS_PER_PERSON, PUBLISHED};
use serde_json::Value;

const KEY: &str = "docker-test-key";
/// The image's user (distroless's `nonroot`).
const USER: u32 = 65532;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `/healthz`, then checks the Quick Test page, `/metrics` and a prediction.
async fn check_service(port: u16, project: &str) {
    kao_harness::use_ring_tls();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the service never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for path in ["/", "/metrics"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }
    let photo = std::fs::read(lfw("Donald_Rumsfeld", PHOTOS_PER_PERSON + 3)).unwrap();
    let url = format!(
        "{base}/customvision/v3.0/Prediction/{project}/classify/iterations/{PUBLISHED}/image"
    );
    let r = http
        .post(url)
        .header("Prediction-Key", KEY)
        .header("Content-Type", "application/octet-stream")
        .body(photo)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "predict: {}", r.status());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["predictions"][0]["tagName"], "Donald_Rumsfeld", "{v}");
    assert_eq!(v["project"], project);
}

fn export(work: &WorkDir, binary: &Path, out: &Path) -> kao_export::ExportSummary {
    kao_export::export(
        work,
        &ExportRequest {
            platform: Platform::Docker,
            selection: Selection::Published(PUBLISHED.into()),
            out: out.to_path_buf(),
            networks: kao_models::ModelFiles::default_dir(),
            web_runtime: None,
            binary: Some(binary.to_path_buf()),
            zip: false,
            iteration_id: None,
        },
    )
    .expect("export")
}

/// Whether this process may chroot (root, or the capability).
fn can_chroot() -> bool {
    Command::new("chroot")
        .args(["/", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread")]
async fn static_kao_serves_the_export_from_an_empty_root() {
    let Some(work_path) = trained() else { return };
    if !can_chroot() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the docker export test needs to chroot (run as root)"
        );
        eprintln!("skipping: cannot chroot here (not root)");
        return;
    }
    let work = WorkDir::new(work_path);
    let binary = tokio::task::spawn_blocking(kao_harness::build_static_kao)
        .await
        .unwrap()
        .expect("build the static kao (cargo xtask static)");
    assert!(kao_export::is_static_executable(&binary).unwrap());
    let out = tempfile::tempdir().unwrap();
    let context = out.path().join("context");
    let summary = export(&work, &binary, &context);
    let dockerfile = std::fs::read_to_string(context.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM scratch"), "{dockerfile}");
    assert!(
        dockerfile.contains(&format!("USER {USER}:{USER}")),
        "{dockerfile}"
    );
    assert!(std::fs::read_to_string(context.join("README.md"))
        .unwrap()
        .contains("podman run"));

    // The root holds the context's files and nothing else (no /lib, /etc, /proc), owned
    // as the Dockerfile's COPY lines own them.
    let status = Command::new("chown")
        .args(["-R", &format!("{USER}:{USER}")])
        .arg(context.join("work"))
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port();
    let server = Command::new("chroot")
        .arg(format!("--userspec={USER}:{USER}"))
        .arg(&context)
        .args(["/kao", "serve", "--bind", &format!("127.0.0.1:{port}")])
        .env_clear()
        // Only to find chroot itself; nothing in the root uses it.
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("KAO_MODELS", "/models")
        .env("KAO_WORK", "/work")
        .env("KAO_PREDICTION_KEY", KEY)
        .stdout(Stdio::null())
        .spawn()
        .expect("chroot");
    let _server = Running(server);
    check_service(port, &summary.info.project).await;

    podman_image(&context, &summary.info.project).await;
}

/// Builds the image with podman and runs the same checks against a container of it;
/// skipped with a message where podman is missing or cannot run containers here.
async fn podman_image(context: &Path, project: &str) {
    if Command::new("podman").arg("--version").output().is_err() {
        eprintln!("skipping the image check: podman is not installed");
        return;
    }
    let tag = format!("localhost/kao-export-test:{}", std::process::id());
    let build = Command::new("podman")
        .args(["build", "--network=none", "-t", &tag])
        .arg(context)
        .output()
        .unwrap();
    if !build.status.success() {
        let err = String::from_utf8_lossy(&build.stderr);
        eprintln!("skipping the image check: podman cannot build images here: {err}");
        return;
    }
    let port = free_port();
    let name = format!("kao-export-test-{}", std::process::id());
    let _cleanup = Podman {
        container: name.clone(),
        image: tag.clone(),
    };
    let run = Command::new("podman")
        .args(["run", "--rm", "-d", "--network=host", "--name", &name])
        .args(["-e", &format!("KAO_PREDICTION_KEY={KEY}")])
        .arg(&tag)
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    if !run.status.success() {
        let err = String::from_utf8_lossy(&run.stderr);
        eprintln!("skipping the image check: podman cannot run containers here: {err}");
        return;
    }
    let user = Command::new("podman")
        .args(["inspect", "--format", "{{.Config.User}}", &tag])
        .output()
        .unwrap();
    check_service(port, project).await;
    assert_eq!(
        String::from_utf8_lossy(&user.stdout).trim(),
        format!("{USER}:{USER}")
    );
    eprintln!("podman image checked");
}

/// Removes the test's container and image, however the test ends.
struct Podman {
    container: String,
    image: String,
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", &self.container])
            .output();
        let _ = Command::new("podman")
            .args(["rmi", "-f", &self.image])
            .output();
    }
}
