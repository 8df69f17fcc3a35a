//! What `read_limited` and `load` make of paths that are not plain image files: each is
//! refused with its own reason, and nothing waits on a FIFO or reads a device.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use kao_image::{load, read_limited, ImageError, Limits};

/// Runs `read_limited` on another thread: a hang fails the test instead of stalling it.
fn read_bounded(path: &Path) -> Result<Vec<u8>, ImageError> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(read_limited(&p, &Limits::default()));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("reading {} did not return", path.display()))
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

fn link(target: impl AsRef<Path>, at: &Path) -> PathBuf {
    std::os::unix::fs::symlink(target, at).unwrap();
    at.to_path_buf()
}

#[test]
fn fifo_named_jpg_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipe.jpg");
    mkfifo(&path);
    let err = read_bounded(&path).unwrap_err();
    assert!(matches!(err, ImageError::NotAFile { .. }), "{err}");
    assert_eq!(err.kind(), "not_a_file");
    assert_eq!(err.reason(), "not a regular file (FIFO)");
    // Through a link too.
    let via = link(&path, &dir.path().join("via.jpg"));
    assert_eq!(read_bounded(&via).unwrap_err().kind(), "not_a_file");
}

#[test]
fn link_to_dev_zero_is_refused_without_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = link("/dev/zero", &dir.path().join("zero.jpg"));
    let err = read_bounded(&path).unwrap_err();
    assert_eq!(err.reason(), "not a regular file (character device)");
    let err = load(&path, &Limits::default()).unwrap_err();
    assert_eq!(err.kind(), "not_a_file");
}

#[test]
fn folder_named_jpg_is_not_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("album.jpg");
    std::fs::create_dir(&path).unwrap();
    assert_eq!(
        read_bounded(&path).unwrap_err().reason(),
        "not a regular file (folder)"
    );
}

#[test]
fn dangling_link_names_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = link("gone.jpg", &dir.path().join("a.jpg"));
    let err = read_bounded(&path).unwrap_err();
    assert!(matches!(err, ImageError::BrokenLink { .. }), "{err}");
    assert_eq!(err.kind(), "broken_link");
    assert_eq!(err.reason(), "dangling symbolic link to gone.jpg");
}

#[test]
fn link_loop_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jpg");
    let b = dir.path().join("b.jpg");
    link(&b, &a);
    link(&a, &b);
    let err = read_bounded(&a).unwrap_err();
    assert!(matches!(err, ImageError::LinkLoop { .. }), "{err}");
    assert_eq!(err.kind(), "link_loop");
    assert_eq!(
        err.to_string(),
        format!("{}: symbolic link loop", a.display())
    );
}

#[test]
fn unreadable_file_is_an_io_error() {
    // Root reads a mode-000 file anyway: the case only exists for other users.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.jpg");
    std::fs::write(&path, b"\xff\xd8\xff").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    let err = read_bounded(&path).unwrap_err();
    assert_eq!(err.kind(), "io");
    assert!(err.reason().contains("ermission denied"), "{err}");
}
