//! The engine's one error type. A missing key is `Ok(None)`, never an error.

use std::path::PathBuf;

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong inside the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system I/O error, with the file it concerned when known.
    #[error("I/O error{}: {source}", fmt_path(.path))]
    Io {
        /// The file concerned, if known.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Stored bytes are damaged or do not follow the format.
    #[error("corruption in {}{}: {what}", .file.as_ref().map_or_else(|| "<unknown file>".to_string(), |p| p.display().to_string()), .offset.map_or_else(String::new, |o| format!(" at offset {o}")))]
    Corruption {
        /// The damaged file.
        file: Option<PathBuf>,
        /// Byte offset of the damage within the file, when known.
        offset: Option<u64>,
        /// What was wrong.
        what: String,
    },
    /// The database directory is locked by another instance (this process or another).
    #[error("database at {} is locked by another instance", .0.display())]
    Locked(PathBuf),
    /// The database has been closed.
    #[error("database is closed")]
    Closed,
    /// A background failure (fsync error, corruption during compaction, panic) made the
    /// database read-only until it is reopened.
    #[error("database is read-only after a background failure: {0}")]
    Poisoned(String),
    /// A write, flush or compaction on a database opened with
    /// [`Options::read_only`](crate::Options::read_only).
    #[error("database is open read-only")]
    ReadOnly,
    /// The caller passed something the engine cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The database already exists and `error_if_exists` was set.
    #[error("database already exists at {}", .0.display())]
    AlreadyExists(PathBuf),
    /// The database does not exist and `create_if_missing` was not set.
    #[error("database does not exist at {}", .0.display())]
    NotFound(PathBuf),
    /// A `*_if_cached` call would have had to read from disk (a data block missing from the
    /// block cache). Never returned by the blocking calls.
    #[error("the operation would read from disk")]
    WouldBlock,
}

fn fmt_path(p: &Option<PathBuf>) -> String {
    p.as_ref().map_or_else(String::new, |p| format!(" on {}", p.display()))
}

impl Error {
    /// Builds a `Corruption` error.
    pub fn corruption(file: Option<PathBuf>, offset: Option<u64>, what: impl Into<String>) -> Self {
        Error::Corruption { file, offset, what: what.into() }
    }

    /// Wraps an I/O error with the path it concerned.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: Some(path.into()), source }
    }

    /// Fills in the file of a `Corruption` error that was raised without one.
    #[must_use]
    pub fn with_file(self, path: &std::path::Path) -> Self {
        match self {
            Error::Corruption { file: None, offset, what } => {
                Error::Corruption { file: Some(path.to_path_buf()), offset, what }
            }
            Error::Io { path: None, source } => Error::Io { path: Some(path.to_path_buf()), source },
            other => other,
        }
    }

    /// Shifts the offset of a `Corruption` error by `base` (for errors raised on a sub-slice).
    #[must_use]
    pub fn at_offset(self, base: u64) -> Self {
        match self {
            Error::Corruption { file, offset, what } => {
                Error::Corruption { file, offset: Some(base + offset.unwrap_or(0)), what }
            }
            other => other,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(source: std::io::Error) -> Self {
        Error::Io { path: None, source }
    }
}
