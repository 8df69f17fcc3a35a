use kao_dataset::{duplicate_groups, read_tree};
use kao_image::{Limits, NEAR_DUPLICATE_DISTANCE};

use kao_testdata::shared;

#[test]
fn lfw5_reads_every_photo_and_finds_the_known_near_duplicate() {
    let Some(shared) = shared() else { return };
    let tree = read_tree(&shared.join("datasets/lfw5"), &Limits::default(), &|_| {}).unwrap();
    assert!(tree.unreadable.is_empty(), "{:?}", tree.unreadable);
    assert_eq!(tree.items.len(), 1140);
    let count = |tag: &str| tree.items.iter().filter(|i| i.tag == tag).count();
    assert_eq!(
        [
            count("George_W_Bush"),
            count("Colin_Powell"),
            count("Tony_Blair"),
            count("Donald_Rumsfeld"),
            count("Gerhard_Schroeder")
        ],
        [530, 236, 144, 121, 109]
    );
    let groups = duplicate_groups(&tree.items, NEAR_DUPLICATE_DISTANCE);
    assert!(groups.exact.is_empty());
    let names: Vec<Vec<&str>> = groups
        .near
        .iter()
        .map(|g| g.iter().map(|&i| tree.items[i].rel.as_str()).collect())
        .collect();
    assert!(
        names.contains(&vec![
            "George_W_Bush/George_W_Bush_0130.jpg",
            "George_W_Bush/George_W_Bush_0206.jpg"
        ]),
        "{names:?}"
    );
    // Near-duplicates are frames of one event, never two different people.
    for g in &groups.near {
        assert!(
            g.iter().all(|&i| tree.items[i].tag == tree.items[g[0]].tag),
            "{names:?}"
        );
    }
}

#[test]
fn bad_files_are_reported_and_good_ones_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let tag = dir.path().join("alice");
    std::fs::create_dir_all(&tag).unwrap();
    let good = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 77]));
    good.save(tag.join("good.png")).unwrap();
    std::fs::write(tag.join("empty.jpg"), b"").unwrap();
    std::fs::write(tag.join("notes.jpg"), b"plain text").unwrap();
    std::fs::write(tag.join(".hidden.jpg"), b"hidden").unwrap();
    std::fs::write(dir.path().join("loose.jpg"), b"x").unwrap();
    let tree = read_tree(dir.path(), &Limits::default(), &|_| {}).unwrap();
    assert_eq!(tree.items.len(), 1);
    assert_eq!(tree.items[0].rel, "alice/good.png");
    let bad: Vec<(&str, &str)> = tree
        .unreadable
        .iter()
        .map(|u| (u.rel.as_str(), u.kind.as_str()))
        .collect();
    assert_eq!(
        bad,
        vec![
            ("alice/empty.jpg", "not_an_image"),
            ("alice/notes.jpg", "not_an_image")
        ]
    );
    assert_eq!(tree.untagged.len(), 1);
}

/// A tree with a symbolic link loop, a dangling link, a FIFO and a link to /dev/zero
/// among good photos: each bad entry is listed with its reason, nothing blocks, and the
/// good photos are read.
#[cfg(unix)]
#[test]
fn bad_entries_are_reported_and_the_walk_goes_on() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let tag = dir.path().join("carol");
    std::fs::create_dir_all(&tag).unwrap();
    let good = image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 7]));
    good.save(tag.join("good.png")).unwrap();
    symlink(tag.join("b.jpg"), tag.join("a.jpg")).unwrap();
    symlink(tag.join("a.jpg"), tag.join("b.jpg")).unwrap();
    symlink("nowhere.jpg", tag.join("dangling.jpg")).unwrap();
    symlink("/dev/zero", tag.join("zero.jpg")).unwrap();
    let fifo = std::ffi::CString::new(tag.join("pipe.jpg").as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // A folder link back to the root, and a bad entry directly under the root.
    symlink(dir.path(), tag.join("up")).unwrap();
    symlink("gone", dir.path().join("lost")).unwrap();

    let (tx, rx) = std::sync::mpsc::channel();
    let root = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(read_tree(&root, &Limits::default(), &|_| {}).unwrap());
    });
    let tree = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("read_tree did not return");
    assert_eq!(tree.items.len(), 1);
    assert_eq!(tree.items[0].rel, "carol/good.png");
    let bad: Vec<(&str, &str, &str, &str)> = tree
        .unreadable
        .iter()
        .map(|u| {
            (
                u.tag.as_str(),
                u.rel.as_str(),
                u.kind.as_str(),
                u.reason.as_str(),
            )
        })
        .collect();
    assert_eq!(
        bad,
        vec![
            ("carol", "carol/a.jpg", "link_loop", "symbolic link loop"),
            ("carol", "carol/b.jpg", "link_loop", "symbolic link loop"),
            (
                "carol",
                "carol/dangling.jpg",
                "broken_link",
                "dangling symbolic link to nowhere.jpg"
            ),
            (
                "carol",
                "carol/pipe.jpg",
                "not_a_file",
                "not a regular file (FIFO)"
            ),
            ("carol", "carol/up", "link_loop", "symbolic link loop"),
            (
                "carol",
                "carol/zero.jpg",
                "not_a_file",
                "not a regular file (character device)"
            ),
            ("", "lost", "broken_link", "dangling symbolic link to gone"),
        ]
    );
}
