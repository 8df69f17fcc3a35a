//! The work dir must be on a filesystem every node sees: checked before anything is
//! submitted, from the filesystem's type and the partition's nodes.

use std::path::Path;

use super::{commands, SlurmError};

/// Fails when the partition has nodes other than this machine and `work` is on a
/// filesystem type that is local to one machine (ext4, xfs, btrfs, zfs, tmpfs, overlay).
pub fn check(work: &Path, partition: Option<&str>) -> Result<(), SlurmError> {
    let nodes = commands::partition_nodes(partition)?;
    if nodes.is_empty() {
        return Err(SlurmError::Command {
            command: "sinfo".into(),
            message: format!(
                "partition {} has no nodes",
                partition.unwrap_or("(the default)")
            ),
        });
    }
    verdict(&nodes, &this_host(), fs_type(work)).map_err(|message| SlurmError::NotShared {
        path: work.to_path_buf(),
        message,
    })
}

/// The decision, apart from the system calls: `Err` names the filesystem and the nodes.
pub fn verdict(nodes: &[String], here: &[String], fs: Option<i64>) -> Result<(), String> {
    if nodes.iter().all(|n| here.contains(n)) {
        return Ok(()); // a one-machine cluster: this machine's disks are the nodes' disks
    }
    match fs.and_then(local_name) {
        None => Ok(()),
        Some(name) => {
            let shown: Vec<&str> = nodes.iter().take(4).map(String::as_str).collect();
            let more = if nodes.len() > 4 { ", …" } else { "" };
            Err(format!(
                "the work dir is on a local {name} filesystem, which the partition's {} nodes \
                 ({}{more}) cannot see: put it on a filesystem every node mounts at the same \
                 path (NFS, Lustre, GPFS, BeeGFS, CephFS, …), with the kao binary and the photos",
                nodes.len(),
                shown.join(", ")
            ))
        }
    }
}

/// Filesystem types that live on one machine (`statfs` magic numbers).
fn local_name(magic: i64) -> Option<&'static str> {
    Some(match magic {
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x2FC1_2FC1 => "zfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlay",
        0x4d44 => "vfat",
        0x5346_544E => "ntfs",
        _ => return None,
    })
}

#[cfg(target_os = "linux")]
fn fs_type(path: &Path) -> Option<i64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs fills the struct it is given from a NUL-terminated path.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statfs(c.as_ptr(), &mut s) } == 0).then_some(s.f_type as i64)
}

#[cfg(not(target_os = "linux"))]
fn fs_type(_path: &Path) -> Option<i64> {
    None
}

/// This machine's names: the kernel's host name and its first label.
fn this_host() -> Vec<String> {
    let full = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let short = full.split('.').next().unwrap_or_default().to_string();
    vec![full, short]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_disks_are_refused_only_when_other_nodes_would_read_them() {
        let here = vec!["login1".to_string()];
        let one = vec!["login1".to_string()];
        let many: Vec<String> = (1..=32).map(|i| format!("n{i:02}")).collect();
        assert!(verdict(&one, &here, Some(0xEF53)).is_ok());
        let e = verdict(&many, &here, Some(0xEF53)).unwrap_err();
        assert!(
            e.contains("ext4") && e.contains("32 nodes") && e.contains("n01"),
            "{e}"
        );
        assert!(verdict(&many, &here, Some(0x6969)).is_ok(), "NFS");
        assert!(verdict(&many, &here, Some(0x0BD0_0BD0)).is_ok(), "Lustre");
        assert!(verdict(&many, &here, Some(0x0102_1994))
            .unwrap_err()
            .contains("tmpfs"));
    }
}
