//! Replaying a log under a recovery mode.
//!
//! The whole file is read into memory (WALs are bounded by the memtable size) and parsed
//! there. See `docs/format.md` for the exact semantics of each [`RecoveryMode`]; in short:
//!
//! * A *damage point* is a fragment that cannot be used: a header cut by the end of the
//!   file, zeros where a header should be, a length running past its block or past the end
//!   of the file, a checksum mismatch, an unknown type, or a fragment out of sequence
//!   (MIDDLE/LAST without FIRST, FULL/FIRST while a record is open).
//! * `TolerateCorruptedTail`: damage in the newest log is a *tail* when no fragment that
//!   starts a record (a valid FULL or FIRST) begins anywhere after the damage point; a
//!   tail is cut and reported. Anything else is `Corruption`.
//! * `PointInTime`: stop at the first damage point.
//! * `Salvage`: skip damaged fragments and resynchronise at the next valid fragment that a
//!   writer could have placed there; at most the rest of the damaged 32 KiB block is lost.

use std::path::Path;

use super::{fragment_crc, BLOCK_SIZE, HEADER_SIZE, TYPE_FIRST, TYPE_FULL, TYPE_LAST, TYPE_MIDDLE};
use crate::coding::get_u32_at;
use crate::error::{Error, Result};
use crate::options::RecoveryMode;

/// What a log replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Logical records delivered.
    pub records: u64,
    /// Offset just past the last good record that was delivered (0 if none).
    pub valid_len: u64,
    /// `(offset, reason)` of a torn/zeroed/garbage tail that was cut (in point-in-time
    /// mode: of the first damage, after which everything was ignored).
    pub dropped_tail: Option<(u64, String)>,
    /// Salvage mode: damaged regions skipped, as `(offset, reason)`.
    pub skipped: Vec<(u64, String)>,
}

/// Reads every logical record of the log at `path` in order, calling `f(offset, payload)`
/// for each (offset = where the record's first fragment starts). If `f` returns Err, stop
/// and return it. `is_newest` says whether this is the newest WAL of the database (only the
/// newest may have a torn tail).
pub fn read_log(
    path: &Path,
    mode: RecoveryMode,
    is_newest: bool,
    f: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<RecoveryReport> {
    read_log_with(&crate::file::RealFs, path, mode, is_newest, f)
}

/// [`read_log`] through the file system `fs`.
pub fn read_log_with(
    fs: &dyn crate::file::Fs,
    path: &Path,
    mode: RecoveryMode,
    is_newest: bool,
    f: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<RecoveryReport> {
    let data = fs.read(path).map_err(|e| Error::io(path, e))?;
    read_log_bytes(&data, path, mode, is_newest, f)
}

/// [`read_log`] over a log already in memory; `path` is only used in error messages.
pub fn read_log_bytes(
    data: &[u8],
    path: &Path,
    mode: RecoveryMode,
    is_newest: bool,
    f: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<RecoveryReport> {
    let mut r = Replay {
        data,
        path,
        mode,
        is_newest,
        report: RecoveryReport::default(),
        open: None,
        scratch: Vec::new(),
        region: None,
    };
    r.run(f)?;
    Ok(r.report)
}

/// One physical position of the file, parsed.
enum Phys<'a> {
    /// No bytes left.
    Eof,
    /// Fewer than `HEADER_SIZE` bytes remain in the block: padding up to `next`.
    Trailer { next: usize },
    /// A fragment with a valid checksum and a known type.
    Frag { typ: u8, payload: &'a [u8], end: usize },
    /// Unusable bytes. `hint` is where the next fragment would start if the length field
    /// is right (it fits in the block and in the file).
    Bad { reason: String, hint: Option<usize> },
}

fn block_end(pos: usize) -> usize {
    (pos / BLOCK_SIZE).saturating_add(1).saturating_mul(BLOCK_SIZE)
}

fn parse_at(data: &[u8], pos: usize) -> Phys<'_> {
    if pos >= data.len() {
        return Phys::Eof;
    }
    let bend = block_end(pos);
    if bend - pos < HEADER_SIZE {
        return Phys::Trailer { next: bend };
    }
    let Some(header) = data.get(pos..pos + HEADER_SIZE) else {
        return Phys::Bad {
            reason: format!(
                "truncated header: the file ends {} bytes into a {HEADER_SIZE}-byte header",
                data.len() - pos
            ),
            hint: None,
        };
    };
    let (Some(crc), Some(&l0), Some(&l1), Some(&typ)) =
        (get_u32_at(header, 0), header.get(4), header.get(5), header.get(6))
    else {
        return Phys::Bad { reason: "unreadable header".into(), hint: None };
    };
    let len = usize::from(u16::from_le_bytes([l0, l1]));
    if header.iter().all(|&b| b == 0) {
        return Phys::Bad { reason: "zeroed bytes where a record header was expected".into(), hint: None };
    }
    let end = pos + HEADER_SIZE + len;
    if end > bend {
        return Phys::Bad {
            reason: format!("fragment length {len} runs past the end of its 32 KiB block"),
            hint: None,
        };
    }
    let Some(payload) = data.get(pos + HEADER_SIZE..end) else {
        return Phys::Bad {
            reason: format!(
                "truncated fragment: length {len} runs past the end of the file ({} payload bytes present)",
                data.len() - pos - HEADER_SIZE
            ),
            hint: None,
        };
    };
    if fragment_crc(typ, payload) != crc {
        return Phys::Bad { reason: "fragment checksum mismatch".into(), hint: Some(end) };
    }
    if !(TYPE_FULL..=TYPE_LAST).contains(&typ) {
        return Phys::Bad { reason: format!("unknown fragment type {typ}"), hint: Some(end) };
    }
    Phys::Frag { typ, payload, end }
}

/// True when a valid fragment that begins a record (FULL or FIRST) starts at `pos`.
fn record_start_at(data: &[u8], pos: usize) -> bool {
    // Cheap filter on the type byte before computing the checksum.
    matches!(data.get(pos + 6), Some(&t) if t == TYPE_FULL || t == TYPE_FIRST)
        && matches!(parse_at(data, pos), Phys::Frag { .. })
}

/// First position at or after `from` where a valid FULL or FIRST fragment starts, trying
/// every byte position where a header fits in its block.
fn first_record_start(data: &[u8], from: usize) -> Option<usize> {
    let mut p = from;
    while p + HEADER_SIZE <= data.len() {
        let bend = block_end(p);
        if bend - p < HEADER_SIZE {
            p = bend;
            continue;
        }
        if record_start_at(data, p) {
            return Some(p);
        }
        p += 1;
    }
    None
}

/// Salvage: the next valid fragment after the damage at `damaged`, looking only where a
/// writer could have put one: following length fields from `hint` within the damaged
/// block, then from each later block start.
fn resync(data: &[u8], damaged: usize, hint: Option<usize>) -> Option<usize> {
    let mut limit = block_end(damaged);
    let mut cand = hint;
    loop {
        while let Some(q) = cand {
            if q >= limit {
                break;
            }
            match parse_at(data, q) {
                Phys::Frag { .. } => return Some(q),
                Phys::Eof => return None,
                Phys::Trailer { .. } => break,
                Phys::Bad { hint, .. } => cand = hint,
            }
        }
        if limit >= data.len() {
            return None;
        }
        cand = Some(limit);
        limit = limit.saturating_add(BLOCK_SIZE);
    }
}

/// How a damage point was found.
enum Damage {
    /// Unusable bytes at the damage point; `hint` as in [`Phys::Bad`].
    Bad { hint: Option<usize> },
    /// The file ends inside a fragmented record.
    IncompleteAtEof,
    /// A valid MIDDLE/LAST fragment ending at `end` with no record open.
    Orphan { end: usize },
    /// A valid FULL/FIRST fragment while a record is open.
    Interrupted,
}

/// What to do after a damage point.
enum Next {
    /// Stop reading (the tail was cut).
    Stop,
    /// Continue parsing at this offset.
    Resume(usize),
}

struct Replay<'a> {
    data: &'a [u8],
    path: &'a Path,
    mode: RecoveryMode,
    is_newest: bool,
    report: RecoveryReport,
    /// Start offset of the fragmented record being assembled in `scratch`.
    open: Option<usize>,
    scratch: Vec<u8>,
    /// Salvage: the damaged region being skipped, `(start, reason)`.
    region: Option<(usize, String)>,
}

impl Replay<'_> {
    fn run(&mut self, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let data = self.data;
        let mut pos = 0usize;
        loop {
            match parse_at(data, pos) {
                Phys::Eof => {
                    if let Some(start) = self.open {
                        let reason = format!("the file ends inside the fragmented record at offset {start}");
                        self.damage(start, reason, Damage::IncompleteAtEof)?;
                    }
                    // Salvage: damage that no good record follows is a cut tail.
                    if let Some((start, reason)) = self.region.take() {
                        self.report.dropped_tail = Some((start as u64, reason));
                    }
                    return Ok(());
                }
                Phys::Trailer { next } => pos = next,
                Phys::Bad { reason, hint } => match self.damage(pos, reason, Damage::Bad { hint })? {
                    Next::Stop => return Ok(()),
                    Next::Resume(at) => pos = at,
                },
                Phys::Frag { typ, payload, end } => {
                    if let (Some(start), TYPE_FULL | TYPE_FIRST) = (self.open, typ) {
                        let reason =
                            format!("a new record starts while the fragmented record at offset {start} is incomplete");
                        match self.damage(pos, reason, Damage::Interrupted)? {
                            Next::Stop => return Ok(()),
                            // Salvage dropped the open record; reparse this fragment.
                            Next::Resume(at) => {
                                pos = at;
                                continue;
                            }
                        }
                    }
                    match typ {
                        TYPE_FULL => {
                            self.close_region(pos);
                            self.deliver(f, pos, payload, end)?;
                        }
                        TYPE_FIRST => {
                            self.close_region(pos);
                            self.open = Some(pos);
                            self.scratch.clear();
                            self.scratch.extend_from_slice(payload);
                        }
                        _ => match self.open {
                            Some(start) => {
                                self.scratch.extend_from_slice(payload);
                                if typ == TYPE_LAST {
                                    self.open = None;
                                    let record = std::mem::take(&mut self.scratch);
                                    let res = self.deliver(f, start, &record, end);
                                    self.scratch = record;
                                    res?;
                                }
                            }
                            None => {
                                let name = if typ == TYPE_MIDDLE { "MIDDLE" } else { "LAST" };
                                let reason = format!("{name} fragment without a preceding FIRST");
                                match self.damage(pos, reason, Damage::Orphan { end })? {
                                    Next::Stop => return Ok(()),
                                    Next::Resume(at) => {
                                        pos = at;
                                        continue;
                                    }
                                }
                            }
                        },
                    }
                    pos = end;
                }
            }
        }
    }

    fn deliver(
        &mut self,
        f: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
        start: usize,
        payload: &[u8],
        end: usize,
    ) -> Result<()> {
        f(start as u64, payload)?;
        self.report.records += 1;
        self.report.valid_len = end as u64;
        Ok(())
    }

    /// Salvage: records the damaged region that ends at `end`, if one is open.
    fn close_region(&mut self, end: usize) {
        if let Some((start, reason)) = self.region.take() {
            let n = end.saturating_sub(start);
            self.report.skipped.push((start as u64, format!("{reason}; {n} bytes skipped")));
        }
    }

    fn corruption(&self, at: usize, what: String) -> Error {
        Error::corruption(Some(self.path.to_path_buf()), Some(at as u64), what)
    }

    /// Handles the damage point `at`, found as `kind`.
    fn damage(&mut self, at: usize, reason: String, kind: Damage) -> Result<Next> {
        // Where the lost data begins: the open record, if the damage interrupts one.
        let cut = self.open.unwrap_or(at);
        match self.mode {
            RecoveryMode::TolerateCorruptedTail => {
                if !self.is_newest {
                    return Err(
                        self.corruption(at, format!("{reason} (not the newest log, so it may not have a torn tail)"))
                    );
                }
                let mid = match kind {
                    Damage::Orphan { .. } | Damage::Interrupted => true,
                    Damage::IncompleteAtEof => false,
                    Damage::Bad { .. } => first_record_start(self.data, at + 1).is_some(),
                };
                if mid {
                    return Err(self.corruption(at, reason));
                }
                self.open = None;
                self.report.dropped_tail = Some((cut as u64, reason));
                Ok(Next::Stop)
            }
            RecoveryMode::PointInTime => {
                self.open = None;
                self.report.dropped_tail = Some((cut as u64, reason));
                Ok(Next::Stop)
            }
            RecoveryMode::Salvage => {
                self.open = None;
                let next = match kind {
                    Damage::Orphan { end } => Some(end),
                    Damage::Interrupted => Some(at),
                    Damage::IncompleteAtEof => None,
                    Damage::Bad { hint } => resync(self.data, at, hint),
                };
                match next {
                    Some(resume) => {
                        if self.region.is_none() {
                            self.region = Some((cut, reason));
                        }
                        if let Damage::Interrupted = kind {
                            // The open record is lost; the interrupting fragment is fine.
                            self.close_region(at);
                        }
                        Ok(Next::Resume(resume))
                    }
                    None => {
                        // Nothing usable follows: the damage (with any region already being
                        // skipped) is a cut tail.
                        let (start, reason) = self.region.take().unwrap_or((cut, reason));
                        self.report.dropped_tail = Some((start as u64, reason));
                        Ok(Next::Stop)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::writer::LogWriter;

    fn log_of(sizes: &[usize]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.log");
        let mut w = LogWriter::create(&path).unwrap();
        for (i, &n) in sizes.iter().enumerate() {
            w.add_record(&vec![i as u8 + 1; n]).unwrap();
        }
        std::fs::read(&path).unwrap()
    }

    fn count(data: &[u8], mode: RecoveryMode) -> Result<RecoveryReport> {
        read_log_bytes(data, Path::new("t.log"), mode, true, &mut |_, _| Ok(()))
    }

    #[test]
    fn damaged_middle_of_the_last_record_with_intact_last_fragment_is_a_tail() {
        // Record 1 spans three blocks: FIRST (block 0), MIDDLE (block 1), LAST (block 2).
        let mut data = log_of(&[100, 80_000]);
        let middle = BLOCK_SIZE;
        assert_eq!(data[middle + 6], crate::wal::TYPE_MIDDLE);
        data[middle + 100] ^= 1;
        let rep = count(&data, RecoveryMode::TolerateCorruptedTail).unwrap();
        assert_eq!(rep.records, 1);
        assert_eq!(rep.dropped_tail.map(|t| t.0), Some(107));
        // ... but not in an older log.
        assert!(read_log_bytes(&data, Path::new("t.log"), RecoveryMode::TolerateCorruptedTail, false, &mut |_, _| Ok(
            ()
        ))
        .is_err());
    }

    #[test]
    fn scan_finds_record_starts_only_where_a_header_fits() {
        let data = log_of(&[10, 20]);
        assert_eq!(first_record_start(&data, 0), Some(0));
        assert_eq!(first_record_start(&data, 1), Some(17));
        assert_eq!(first_record_start(&data, 18), None);
        assert_eq!(resync(&data, 0, Some(17)), Some(17));
        assert_eq!(resync(&data, 0, None), None);
        assert_eq!(first_record_start(&[], 0), None);
    }
}
