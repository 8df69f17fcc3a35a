//! A small real work dir: a few lfw5 people, chips cut by a fixed centre crop (LFW photos
//! are centred on the face), so that these tests do not depend on the face detector.

use kao_dataset::{ChipRecord, FaceRecord, Manifest, SourceRef, Splits, WorkDir};

pub use kao_testdata::shared;

/// Source square cut into each chip: LFW's 250×250 photos have the face near (60..190).
const ORIGIN: f32 = 60.0;
const SIDE: f32 = 130.0;

/// Writes `faces/`, its manifest and a 3:1:1 `splits.json` for `per_tag` photos of each
/// of `people` into `root`.
pub fn lfw_work(
    shared: &std::path::Path,
    root: &std::path::Path,
    people: &[&str],
    per_tag: usize,
) -> WorkDir {
    let work = WorkDir::new(root);
    let manifest = Manifest::<FaceRecord>::open(&work.faces_manifest()).unwrap();
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    let s = SIDE / 150.0;
    for person in people {
        let dir = shared.join("datasets/lfw5").join(person);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for (i, path) in files.iter().take(per_tag).enumerate() {
            let bytes = std::fs::read(path).unwrap();
            let content_id = kao_image::content_id(&bytes);
            let photo = image::load_from_memory(&bytes).unwrap().to_rgb8();
            let crop = image::imageops::crop_imm(
                &photo,
                ORIGIN as u32,
                ORIGIN as u32,
                SIDE as u32,
                SIDE as u32,
            )
            .to_image();
            let chip =
                image::imageops::resize(&crop, 150, 150, image::imageops::FilterType::Triangle);
            let id = format!("{person}/{}_0.png", &content_id[..16]);
            let out = work.faces().join(&id);
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            chip.save(&out).unwrap();
            let rel = format!("{person}/{}", path.file_name().unwrap().to_string_lossy());
            manifest
                .append(&FaceRecord::Chip(ChipRecord {
                    source: SourceRef {
                        tag: person.to_string(),
                        rel,
                        path: path.display().to_string(),
                        content_id,
                        phash: None,
                    },
                    chip: id.clone(),
                    face_index: 0,
                    bbox: kao_dataset::BoxF {
                        x: 75.0,
                        y: 75.0,
                        width: 100.0,
                        height: 100.0,
                    },
                    score: 1.0,
                    landmarks: Vec::new(),
                    transform: [s, 0.0, ORIGIN, 0.0, s, ORIGIN],
                    size: 150,
                    settings: "centre-crop".into(),
                }))
                .unwrap();
            match i % 5 {
                0..=2 => train.push(id),
                3 => val.push(id),
                _ => test.push(id),
            }
        }
    }
    for v in [&mut train, &mut val, &mut test] {
        v.sort();
    }
    Splits {
        seed: 42,
        ratios: [3, 1, 1],
        near_distance: 0,
        train,
        val,
        test,
        groups: Vec::new(),
    }
    .write(&work.splits())
    .unwrap();
    work
}
