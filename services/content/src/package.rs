//! Unzipping a package safely, with the `zip` crate. Two passes over the archive held in
//! memory: the first reads only the central directory and the manifest, refusing what
//! could escape or explode (a path that climbs out or is absolute, a symbolic link, an
//! encrypted entry, too many files, too many bytes, a compression ratio only a bomb
//! has); the second inflates each file, counting the bytes it really yields rather than
//! trusting the header, and hands it on to be stored under the package's prefix.

use std::{
    collections::{HashMap, HashSet},
    io::{Cursor, Read},
};

use bytes::Bytes;
use zip::ZipArchive;

use crate::manifest::{self, Broken, Manifest};

/// What one package may hold (`MIRAI_CONTENT__*`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// `MAX_PACKAGE_BYTES`: the zip itself, default 256 MiB.
    pub max_package: u64,
    /// `MAX_FILES`: entries, default 10,000.
    pub max_files: usize,
    /// `MAX_UNPACKED_BYTES`: all files inflated, default 1 GiB.
    pub max_unpacked: u64,
    /// `MAX_FILE_BYTES`: one file inflated, default 512 MiB.
    pub max_file: u64,
    /// `MAX_RATIO`: inflated ÷ compressed for any file over 1 MiB, default 200.
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_package: 256 << 20, max_files: 10_000, max_unpacked: 1 << 30, max_file: 512 << 20, max_ratio: 200 }
    }
}

/// A file of the package to store.
#[derive(Debug, Clone)]
pub struct Entry {
    index: usize,
    pub path: String,
    pub size: u64,
}

/// What the first pass found: the files and the manifest.
#[derive(Debug)]
pub struct Plan {
    pub entries: Vec<Entry>,
    pub unpacked: u64,
    pub manifest: Manifest,
}

fn broken<T>(msg: impl Into<String>) -> Result<T, Broken> {
    Err(Broken(msg.into()))
}

/// An entry's name as a path inside the package, or why it is not one.
fn safe_path(name: &str) -> Result<String, Broken> {
    let traversal = || Broken(format!("entry `{name}` points outside the package (path traversal)"));
    if name.contains('\0') || name.contains('\\') {
        return Err(traversal());
    }
    if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        return Err(traversal());
    }
    let parts: Vec<&str> = name.trim_end_matches('/').split('/').collect();
    if parts.iter().any(|p| *p == ".." || *p == "." || p.is_empty()) {
        return Err(traversal());
    }
    if parts.iter().any(|p| p.chars().any(char::is_control)) {
        return broken(format!("entry `{}` has control characters in its name", name.escape_default()));
    }
    Ok(parts.join("/"))
}

/// The first pass: every entry checked, the manifest read.
pub fn inspect(zip: Bytes, limits: &Limits) -> Result<Plan, Broken> {
    let packed_total = zip.len() as u64;
    let mut archive = ZipArchive::new(Cursor::new(zip))
        .map_err(|e| Broken(format!("the upload is not a readable zip archive: {e}")))?;
    if archive.len() > limits.max_files {
        return broken(format!("the package has {} entries; at most {} are accepted", archive.len(), limits.max_files));
    }
    let mut entries = Vec::new();
    let mut names = HashSet::new();
    let mut unpacked = 0u64;
    for index in 0..archive.len() {
        let f = archive.by_index_raw(index).map_err(|e| Broken(format!("entry {index} is unreadable: {e}")))?;
        let name = f.name().map_err(|_| Broken(format!("entry {index}'s name is not valid text")))?.into_owned();
        let path = safe_path(&name)?;
        if f.is_symlink() {
            return broken(format!("entry `{name}` is a symbolic link; packages may not contain links"));
        }
        if f.encrypted() {
            return broken(format!("entry `{name}` is encrypted"));
        }
        if f.is_dir() {
            continue;
        }
        let (size, packed) = (f.size(), f.compressed_size());
        if size > limits.max_file {
            return broken(format!("`{name}` inflates to {size} bytes; one file may have at most {}", limits.max_file));
        }
        if size > (1 << 20) && size / packed.max(1) > limits.max_ratio {
            return broken(format!(
                "`{name}` inflates {}-fold ({packed} to {size} bytes): refused as a zip bomb",
                size / packed.max(1)
            ));
        }
        unpacked += size;
        if unpacked > limits.max_unpacked {
            return broken(format!("the package inflates past {} bytes", limits.max_unpacked));
        }
        if !names.insert(path.clone()) {
            return broken(format!("`{path}` appears twice in the package"));
        }
        entries.push(Entry { index, path, size });
    }
    // Many small files each under the per-file threshold add up: the archive as a whole
    // is held to the same ratio.
    if unpacked > (64 << 20) && unpacked / packed_total.max(1) > limits.max_ratio {
        return broken(format!(
            "the package inflates {}-fold ({packed_total} to {unpacked} bytes): refused as a zip bomb",
            unpacked / packed_total.max(1)
        ));
    }
    let mut manifests = HashMap::new();
    for name in ["imsmanifest.xml", "cmi5.xml"] {
        if let Some(e) = entries.iter().find(|e| e.path == name) {
            manifests.insert(name, read_entry(&mut archive, e, 8 << 20)?);
        }
    }
    let manifest = manifest::read(&names, |n| manifests.get(n).cloned())?;
    Ok(Plan { entries, unpacked, manifest })
}

/// Inflates one entry, never past what its header declared (or `cap`).
fn read_entry(archive: &mut ZipArchive<Cursor<Bytes>>, e: &Entry, cap: u64) -> Result<Vec<u8>, Broken> {
    if e.size > cap {
        return broken(format!("`{}` is larger than {cap} bytes", e.path));
    }
    let f = archive.by_index(e.index).map_err(|err| Broken(format!("`{}` is unreadable: {err}", e.path)))?;
    let mut out = Vec::with_capacity(e.size as usize);
    f.take(e.size + 1).read_to_end(&mut out).map_err(|err| Broken(format!("`{}` is corrupt: {err}", e.path)))?;
    if out.len() as u64 != e.size {
        return broken(format!("`{}` inflates to more or fewer bytes than its header says: refused", e.path));
    }
    Ok(out)
}

/// The second pass: each file inflated and sent on, in order. Stops at the first
/// problem, or when the receiver is gone.
pub fn extract(
    zip: Bytes,
    entries: Vec<Entry>,
    out: tokio::sync::mpsc::Sender<(String, Bytes)>,
    limits: &Limits,
) -> Result<(), Broken> {
    let mut archive = ZipArchive::new(Cursor::new(zip))
        .map_err(|e| Broken(format!("the upload is not a readable zip archive: {e}")))?;
    for e in entries {
        let bytes = read_entry(&mut archive, &e, limits.max_file)?;
        if out.blocking_send((e.path, Bytes::from(bytes))).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_climb_out_or_are_absolute_are_traversal() {
        for bad in ["../x", "a/../../x", "/etc/passwd", "C:/x", "a\\..\\x", "a//b", "./a"] {
            assert!(safe_path(bad).unwrap_err().0.contains("traversal"), "{bad}");
        }
        assert_eq!(safe_path("a/b/c.html").unwrap(), "a/b/c.html");
        assert_eq!(safe_path("dir/").unwrap(), "dir");
    }
}
