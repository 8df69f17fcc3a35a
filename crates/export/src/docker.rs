//! `--platform docker`: a container build context whose image runs `kao serve` on the
//! exported iteration, as a non-root user, from a `scratch` base.

use kao_dataset::WorkDir;
use kao_infer::{Bundle, HEAD_FILE, MODEL_FILE};

use crate::error::{ExportError, Result};
use crate::output::{self, Staging};
use crate::{ExportRequest, ExportSummary, Platform};

/// The user and group the service runs as in the image (distroless's `nonroot`).
pub const USER: u32 = 65532;
/// The port the image's service listens on.
pub const PORT: u16 = 8080;

pub(crate) fn export(
    work: &WorkDir,
    iteration: u32,
    published_name: Option<String>,
    request: &ExportRequest,
) -> Result<ExportSummary> {
    let binary = request
        .binary
        .clone()
        .or_else(crate::find_static_binary)
        .ok_or_else(|| ExportError::Binary {
            path: crate::STATIC_BINARY.into(),
            message: "no statically linked kao found; build one with `cargo xtask static` \
                      or pass its path"
                .into(),
        })?;
    if !crate::is_static_executable(&binary)? {
        return Err(ExportError::Binary {
            path: binary,
            message: "dynamically linked: a scratch image has no C library or loader; \
                      build a static kao with `cargo xtask static`"
                .into(),
        });
    }
    let bundle = Bundle::collect(
        work,
        iteration,
        published_name.as_deref(),
        &request.networks,
    )?;
    let (_, bundle_info) = bundle.clone().into_predictor()?;
    // The image serves the iteration under the name it is published as, or `iteration-N`.
    let name = published_name
        .clone()
        .unwrap_or_else(|| format!("iteration-{iteration}"));
    let info = crate::info(Platform::Docker, &bundle_info, published_name);

    let staging = Staging::begin(&request.out)?;
    let root = staging.dir();
    output::copy(&binary, &root.join("kao"))?;
    make_executable(&root.join("kao"))?;
    for (file, bytes) in &bundle.files {
        let to = match file.as_str() {
            MODEL_FILE | HEAD_FILE => format!("work/iterations/{iteration}/{file}"),
            kao_infer::bundle::BUNDLE_FILE => continue,
            _ => format!("models/{file}"),
        };
        kao_dataset::write_atomic(&root.join(to), bytes)?;
    }
    let staged = WorkDir::new(root.join("work"));
    let project = work.project_id();
    output::copy(&project, &staged.project_id())?;
    kao_infer::publish(&staged, iteration, &name)?;
    let image = image_name(&name);
    kao_dataset::write_atomic(
        &root.join("Dockerfile"),
        dockerfile(&info, &name).as_bytes(),
    )?;
    kao_dataset::write_atomic(
        &root.join("README.md"),
        readme(&info, &name, &image).as_bytes(),
    )?;
    crate::finish(staging, request, info)
}

#[cfg(unix)]
fn make_executable(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(ExportError::io(path))
}

#[cfg(not(unix))]
fn make_executable(_: &std::path::Path) -> Result<()> {
    Ok(())
}

/// A container image name from the published name: lower case, `[a-z0-9._-]`.
pub fn image_name(published: &str) -> String {
    let cleaned: String = published
        .to_ascii_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '-',
        })
        .collect();
    format!("kao-{}", cleaned.trim_matches(|c| c == '-' || c == '.'))
}

fn dockerfile(info: &crate::ExportInfo, name: &str) -> String {
    format!(
        "# Kao prediction service: iteration {iteration} of project {project}, published as {name:?}.\n\
         # Build and run (docker works the same as podman):\n\
         #   podman build -t {image} .\n\
         #   podman run --rm -p {PORT}:{PORT} -e KAO_PREDICTION_KEY=change-me {image}\n\
         #\n\
         # The image is this folder and nothing else: a statically linked kao, the face-network\n\
         # weights the iteration uses, and a work dir with the iteration published.\n\
         FROM scratch\n\
         COPY kao /kao\n\
         COPY models /models\n\
         COPY --chown={USER}:{USER} work /work\n\
         ENV KAO_MODELS=/models KAO_WORK=/work\n\
         USER {USER}:{USER}\n\
         EXPOSE {PORT}\n\
         # Arguments after the image name replace these (another --bind, --concurrency N).\n\
         ENTRYPOINT [\"/kao\", \"serve\"]\n\
         CMD [\"--bind\", \"0.0.0.0:{PORT}\"]\n",
        iteration = info.iteration,
        project = info.project,
        image = image_name(name),
    )
}

fn readme(info: &crate::ExportInfo, name: &str, image: &str) -> String {
    format!(
        "# Kao prediction service: {name}\n\
         \n\
         A container build context for iteration {iteration} of project {project}. Build the\n\
         image and run it (`docker` takes the same arguments as `podman`):\n\
         \n\
         ```sh\n\
         podman build -t {image} .\n\
         podman run --rm -p {PORT}:{PORT} -e KAO_PREDICTION_KEY=change-me {image}\n\
         ```\n\
         \n\
         The service answers Custom Vision's Prediction API at\n\
         `http://HOST:{PORT}/customvision/v3.0/Prediction/{project}/classify/iterations/{name}/image`\n\
         with the header `Prediction-Key: change-me`, and has the Quick Test page at `/`,\n\
         `/healthz` and Prometheus `/metrics`. Without `KAO_PREDICTION_KEY` it generates a key\n\
         at start and prints it.\n\
         \n\
         The image is `scratch` plus this folder: a statically linked `kao`, the face-network\n\
         weights the iteration uses (`models/`) and a work dir with the iteration published\n\
         (`work/`). It runs as user {USER}, needs no network access and fetches nothing.\n",
        iteration = info.iteration,
        project = info.project,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_are_what_registries_accept() {
        assert_eq!(image_name("faces"), "kao-faces");
        assert_eq!(image_name("Team Faces/v2"), "kao-team-faces-v2");
        assert_eq!(image_name("iteration-3"), "kao-iteration-3");
    }
}
