//! Whether an executable needs a dynamic loader: the container image has none.

use std::io::Read;
use std::path::Path;

use crate::error::{ExportError, Result};

const PT_INTERP: u32 = 3;

/// `true` when `path` is a 64-bit little-endian ELF executable without a `PT_INTERP`
/// program header (it names the dynamic loader, which a `scratch` image does not have);
/// `false` for a dynamically linked one. Errors name the file when it is not such an ELF.
pub fn is_static_executable(path: &Path) -> Result<bool> {
    let bad = |message: &str| ExportError::Binary {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(ExportError::io(path))?;
    let mut header = Vec::with_capacity(64);
    (&mut file)
        .take(64)
        .read_to_end(&mut header)
        .map_err(ExportError::io(path))?;
    if !header.starts_with(b"\x7fELF") {
        return Err(bad(
            "not an ELF executable (the container runs Linux x86-64)",
        ));
    }
    if header.len() < 64 {
        return Err(bad("too short to be an executable"));
    }
    if header[4] != 2 || header[5] != 1 {
        return Err(bad("not a 64-bit little-endian ELF executable"));
    }
    let u16_at = |o: usize| u16::from_le_bytes([header[o], header[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(header[32..40].try_into().expect("8 bytes")) as usize;
    let phentsize = u16_at(54);
    let phnum = u16_at(56);
    if phentsize < 4 || phnum == 0 {
        return Err(bad("no program headers: not an executable"));
    }
    let mut all = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take((phoff + phentsize * phnum) as u64)
                .read_to_end(&mut all)
        })
        .map_err(ExportError::io(path))?;
    if all.len() < phoff + phentsize * phnum {
        return Err(bad("program headers past the end of the file"));
    }
    let interp = (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(all[o..o + 4].try_into().expect("4 bytes")) == PT_INTERP
    });
    Ok(!interp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamically_linked_program_is_not_static() {
        // The test binary itself is linked against the system's C library.
        let exe = std::env::current_exe().unwrap();
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(!is_static_executable(&exe).unwrap());
        }
    }

    #[test]
    fn a_text_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kao");
        std::fs::write(
            &path,
            "#!/bin/sh\necho hello, this is no executable at all\n",
        )
        .unwrap();
        let err = is_static_executable(&path).unwrap_err().to_string();
        assert!(err.contains("kao") && err.contains("not an ELF"), "{err}");
    }
}
