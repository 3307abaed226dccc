//! How the lab writes a file the lab's xDS server (or a later `mesh-lab` command) reads: into a temporary
//! file in the same directory, then renamed over the old one — readers see the old file or the new one,
//! never a half-written one. A private file (a key) is owner-only from its first byte.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// The user this process runs as (the owner of `/proc/self`): whose private files and directories are
/// whose.
pub fn user_id() -> std::io::Result<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid())
}

/// Writes `bytes` to `path` atomically; `private`: mode 0600 (on Unix).
pub fn write_atomically(path: &Path, bytes: &[u8], private: bool) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    options
        .open(&tmp)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming {} into place", tmp.display()))
}

#[cfg(test)]
mod tests {
    use super::write_atomically;

    #[test]
    fn a_private_file_is_owner_only_and_replaces_the_old_one_whole() {
        let dir = std::env::temp_dir().join(format!("mesh-lab-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key.pem");
        write_atomically(&key, b"old", true).unwrap();
        write_atomically(&key, b"new", true).unwrap();
        assert_eq!(std::fs::read(&key).unwrap(), b"new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["key.pem"], "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
