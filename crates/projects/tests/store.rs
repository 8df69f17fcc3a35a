//! The store without HTTP: files follow the records through tagging, renaming and deleting,
//! and a reopen repairs what a crash between the two left.

use std::path::Path;

use kao_projects::{CreateStatus, ImageQuery, NewImage, Store, StoreOptions, Tagging};

fn photo(person: &str, n: u32) -> Option<Vec<u8>> {
    Some(std::fs::read(kao_testdata::lfw5_photo(person, n)?).unwrap())
}

fn new(source: &str, bytes: Vec<u8>, tags: &[&str]) -> NewImage {
    NewImage {
        source: source.into(),
        bytes: Ok(bytes),
        tag_ids: tags.iter().map(|t| t.to_string()).collect(),
    }
}

#[test]
fn files_follow_tags_and_a_reopen_repairs_a_crash() {
    let Some(one) = photo("Colin_Powell", 1) else {
        return;
    };
    let two = photo("Colin_Powell", 2).unwrap();
    let three = photo("Tony_Blair", 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions { train: false }).unwrap();
    let p = store.create_project("p", None, None, None).unwrap().id;
    let colin = store.create_tag(&p, "Colin", None, None).unwrap().id;
    let tony = store.create_tag(&p, "Tony", None, None).unwrap().id;
    let added = store
        .add_images(
            &p,
            vec![
                new("1", one.clone(), &[&colin]),
                new("2", two, &[&colin]),
                new("3", three, &[]),
                new("again", one, &[&tony]),
                new("bad", b"<html>".to_vec(), &[]),
            ],
            &[],
        )
        .unwrap();
    let statuses: Vec<CreateStatus> = added.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            CreateStatus::Ok,
            CreateStatus::Ok,
            CreateStatus::Ok,
            CreateStatus::OkDuplicate,
            CreateStatus::ErrorImageFormat
        ]
    );
    assert_eq!(
        added[3].image.as_ref().unwrap().id,
        added[0].image.as_ref().unwrap().id
    );
    let work = store.work_dir(&p);
    let file = |i: usize| {
        work.root().join(
            &store
                .image(&p, &added[i].image.as_ref().unwrap().id)
                .unwrap()
                .file,
        )
    };
    assert!(file(0).starts_with(work.raw().join("Colin")) && file(0).is_file());
    assert_eq!(
        file(2).parent().unwrap(),
        work.raw(),
        "untagged photos stay out of tag folders"
    );
    assert_eq!(store.image_count(&p, Tagging::Untagged, &[]).unwrap(), 1);

    // Tagging moves the file; renaming a tag moves its folder's files.
    let third = added[2].image.as_ref().unwrap().id.clone();
    store
        .add_image_tags(&p, &[(third.clone(), tony.clone())])
        .unwrap();
    assert!(file(2).starts_with(work.raw().join("Tony")) && file(2).is_file());
    store
        .update_tag(&p, &colin, Some("Colin Powell"), None, None)
        .unwrap();
    assert!(file(0).starts_with(work.raw().join("Colin Powell")) && file(0).is_file());
    assert!(!work
        .raw()
        .join("Colin")
        .join(file(0).file_name().unwrap())
        .exists());

    // Paging, newest first.
    let page = store
        .images(
            &p,
            &ImageQuery {
                take: 2,
                newest_first: true,
                ..ImageQuery::default()
            },
        )
        .unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].id, third);

    // A crash between a row and its file: the file in the wrong folder, and a stray file.
    let right = file(0);
    let wrong = work.raw().join("Tony").join(right.file_name().unwrap());
    std::fs::rename(&right, &wrong).unwrap();
    let stray = work.raw().join("Tony").join("0123456789abcdef.jpg");
    std::fs::write(&stray, b"half").unwrap();
    let temp = work.raw().join("Tony").join(".x.jpg.1.0.tmp");
    std::fs::write(&temp, b"half").unwrap();
    drop(store);
    let store = Store::open(dir.path(), StoreOptions { train: false }).unwrap();
    assert!(right.is_file() && !wrong.exists(), "the move was finished");
    assert!(!stray.exists() && !temp.exists(), "no file no record names");

    // Deleting a tag leaves its images untagged; deleting an image removes its file.
    store.delete_tag(&p, &tony).unwrap();
    assert_eq!(store.image_count(&p, Tagging::Untagged, &[]).unwrap(), 1);
    let f = work.root().join(store.image(&p, &third).unwrap().file);
    assert_eq!(f.parent().unwrap(), work.raw());
    store
        .delete_images(&p, Some(std::slice::from_ref(&third)))
        .unwrap();
    assert!(!f.exists());
    assert_eq!(store.image_count(&p, Tagging::All, &[]).unwrap(), 2);
    assert!(
        count_files(&work.raw()) == 2 + 1,
        "two images and the manifest"
    );
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                count_files(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn training_is_refused_until_the_project_can_be_trained() {
    let Some(one) = photo("Colin_Powell", 1) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions { train: false }).unwrap();
    let p = store.create_project("p", None, None, None).unwrap().id;
    let e = store.train(&p, false).unwrap_err();
    assert_eq!(e.code(), "BadRequestTrainingValidationFailed");
    let colin = store.create_tag(&p, "Colin", None, None).unwrap().id;
    store
        .add_images(&p, vec![new("1", one, &[&colin])], &[])
        .unwrap();
    let e = store.train(&p, false).unwrap_err();
    assert!(e.to_string().contains("\"Colin\" has 1"), "{e}");
    assert_eq!(e.status(), 400);
    assert_eq!(
        store
            .project("00000000-0000-4000-8000-000000000000")
            .unwrap_err()
            .status(),
        404
    );
}
