//! `kao pipeline --source-dir DIR` from an empty folder outside the clone, with no
//! pipeline.toml: DIR's sub-folders are the tags, every setting takes its default, and the
//! run publishes into `./work`.

use std::path::Path;
use std::process::Command;

use crate::shared;

const PER_PERSON: usize = 12;

/// `to/<as_name>/`: the first `PER_PERSON` photos of each lfw5 person, folder names as given.
fn person_folders(lfw5: &Path, to: &Path, people: &[(&str, &str)]) {
    for (person, as_name) in people {
        let mut photos: Vec<_> = std::fs::read_dir(lfw5.join(person))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        photos.sort();
        let dest = to.join(as_name);
        std::fs::create_dir_all(&dest).unwrap();
        for p in photos.iter().take(PER_PERSON) {
            std::fs::copy(p, dest.join(p.file_name().unwrap())).unwrap();
        }
    }
}

fn pipeline(cwd: &Path, source_dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kao"))
        .current_dir(cwd)
        .args(["--quiet", "pipeline", "--json", "--source-dir"])
        .arg(source_dir)
        // The test's own environment must not choose the work dir for it.
        .env_remove("KAO_WORK")
        .output()
        .unwrap()
}

#[test]
fn source_dir_without_a_config_runs_from_any_folder_and_publishes() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    let people = [
        ("Colin_Powell", "Colin_Powell"),
        ("George_W_Bush", "George W. Bush"),
        ("Tony_Blair", "Tony Blair"),
    ];
    person_folders(&shared.join("datasets/lfw5"), &photos, &people);
    let cwd = dir.path().join("elsewhere");
    std::fs::create_dir(&cwd).unwrap();

    let out = pipeline(&cwd, &photos);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stages = report["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 7, "{report:#}");
    assert!(stages.iter().all(|s| s["status"] == "ran"), "{report:#}");
    assert_eq!(stages[0]["itemsOut"], 3 * PER_PERSON, "{report:#}");
    assert_eq!(report["publishedName"], "faces", "{report:#}");
    let top1 = report["test"]["top1"].as_f64().unwrap();
    assert!(top1 >= 0.8, "test top-1 {top1}");

    // The work dir is ./work of the folder it ran in, and holds the published model with
    // the folder names as its tags.
    let work = cwd.join("work");
    let published = kao_infer::read_published(&kao_dataset::WorkDir::new(&work)).unwrap();
    assert_eq!(published[0].name, "faces");
    let model: serde_json::Value = serde_json::from_slice(
        &std::fs::read(work.join("iterations/1").join(kao_infer::MODEL_FILE)).unwrap(),
    )
    .unwrap();
    let mut tags: Vec<&str> = model["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["Colin_Powell", "George W. Bush", "Tony Blair"]);
    assert_eq!(std::fs::read_dir(&cwd).unwrap().count(), 1, "only work/");
}

#[test]
fn a_person_folder_without_a_usable_photo_is_an_error_naming_it() {
    let Some(shared) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    person_folders(
        &shared.join("datasets/lfw5"),
        &photos,
        &[("Colin_Powell", "Colin_Powell")],
    );
    let nobody = photos.join("Nobody");
    std::fs::create_dir(&nobody).unwrap();
    std::fs::write(nobody.join("notes.jpg"), b"not a photo").unwrap();

    let out = pipeline(dir.path(), &photos);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("no usable photo in {}", nobody.display())),
        "{stderr}"
    );
    assert!(stderr.contains("not_an_image"), "{stderr}");
    assert!(!stderr.contains("Colin_Powell"), "{stderr}");
}
