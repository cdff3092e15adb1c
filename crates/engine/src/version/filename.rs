//! Names of the files in a database directory.
//!
//! | name            | kind                | number |
//! |-----------------|---------------------|--------|
//! | `000123.sst`    | [`FileKind::Table`]        | 123 |
//! | `000123.wal`    | [`FileKind::Wal`]          | 123 |
//! | `000123.tmp`    | [`FileKind::Temp`]         | 123 |
//! | `MANIFEST`      | [`FileKind::Manifest`]     | 0   |
//! | `MANIFEST.tmp`  | [`FileKind::ManifestTemp`] | 0   |
//! | `LOCK`          | [`FileKind::Lock`]         | 0   |
//!
//! Numbers are zero-padded to at least six digits and may be longer.

use std::path::{Path, PathBuf};

use super::manifest::MANIFEST_NAME;

/// Name of the lock file.
pub const LOCK_NAME: &str = "LOCK";
/// Name of the manifest being written, renamed over `MANIFEST` once durable.
pub const MANIFEST_TEMP_NAME: &str = "MANIFEST.tmp";

/// What a file in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// An SSTable, `{number:06}.sst`.
    Table,
    /// A write-ahead log, `{number:06}.wal`.
    Wal,
    /// The manifest, `MANIFEST`.
    Manifest,
    /// A manifest being written, `MANIFEST.tmp`; garbage after a crash.
    ManifestTemp,
    /// The directory lock, `LOCK`.
    Lock,
    /// A file being built (for example an SSTable before it is renamed), `{number:06}.tmp`;
    /// garbage after a crash.
    Temp,
}

/// Path of SSTable `number`: `dir/{number:06}.sst`.
pub fn table_file_name(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.sst"))
}

/// Path of WAL `number`: `dir/{number:06}.wal`.
pub fn wal_file_name(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.wal"))
}

/// Path of temporary file `number`: `dir/{number:06}.tmp`.
pub fn temp_file_name(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.tmp"))
}

/// Path of the manifest: `dir/MANIFEST`.
pub fn manifest_file_name(dir: &Path) -> PathBuf {
    dir.join(MANIFEST_NAME)
}

/// Path of the manifest being written: `dir/MANIFEST.tmp`.
pub fn manifest_temp_file_name(dir: &Path) -> PathBuf {
    dir.join(MANIFEST_TEMP_NAME)
}

/// Path of the lock file: `dir/LOCK`.
pub fn lock_file_name(dir: &Path) -> PathBuf {
    dir.join(LOCK_NAME)
}

/// Recognises a file name (not a path) of the database directory; the number is 0 for
/// kinds without one. Anything else (including `12.sst.bak`, `+1.sst`, `.sst`) is `None`.
pub fn parse_file_name(name: &str) -> Option<(FileKind, u64)> {
    match name {
        MANIFEST_NAME => return Some((FileKind::Manifest, 0)),
        MANIFEST_TEMP_NAME => return Some((FileKind::ManifestTemp, 0)),
        LOCK_NAME => return Some((FileKind::Lock, 0)),
        _ => {}
    }
    let (stem, ext) = name.split_once('.')?;
    let kind = match ext {
        "sst" => FileKind::Table,
        "wal" => FileKind::Wal,
        "tmp" => FileKind::Temp,
        _ => return None,
    };
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = stem.parse::<u64>().ok()?;
    Some((kind, number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        let dir = Path::new("/db");
        for n in [0u64, 7, 123_456, 1_234_567, u64::MAX] {
            for (path, kind) in [
                (table_file_name(dir, n), FileKind::Table),
                (wal_file_name(dir, n), FileKind::Wal),
                (temp_file_name(dir, n), FileKind::Temp),
            ] {
                let name = path.file_name().and_then(|s| s.to_str()).expect("utf-8 name");
                assert_eq!(parse_file_name(name), Some((kind, n)), "{name}");
            }
        }
        assert_eq!(table_file_name(dir, 5), Path::new("/db/000005.sst"));
        assert_eq!(wal_file_name(dir, 42), Path::new("/db/000042.wal"));
        assert_eq!(parse_file_name("MANIFEST"), Some((FileKind::Manifest, 0)));
        assert_eq!(parse_file_name("MANIFEST.tmp"), Some((FileKind::ManifestTemp, 0)));
        assert_eq!(parse_file_name("LOCK"), Some((FileKind::Lock, 0)));
        for bad in [
            "",
            ".sst",
            "+1.sst",
            "-1.sst",
            "1.sst.bak",
            "a1.sst",
            "1.SST",
            "1",
            "LOCK.tmp",
            "manifest",
            "99999999999999999999999.sst",
            " 1.sst",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad:?}");
        }
    }
}
