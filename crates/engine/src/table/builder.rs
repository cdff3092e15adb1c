//! Writes an SSTable (see `docs/format.md`).

use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::block::BlockBuilder;
use super::filter::{build_filter, hash64};
use super::format::{
    encode_block, BlockCodec, BlockHandle, Footer, BLOCK_TRAILER_LEN, COMPRESSION_ZSTD, FORMAT_VERSION,
    FORMAT_VERSION_ZSTD,
};
use super::properties::TableProperties;
use crate::crash::crash_point;
use crate::error::{Error, Result};
use crate::file::{OsFile, WritableFile};
use crate::key::{compare_internal, parse_internal_key, ValueKind};
use crate::options::TableOptions;

/// Builds an SSTable from entries added in strictly increasing internal-key order.
#[derive(Debug)]
pub struct TableBuilder {
    writer: BufWriter<FileWriter>,
    path: PathBuf,
    opts: TableOptions,
    offset: u64,
    data: BlockBuilder,
    index: BlockBuilder,
    last_key: Vec<u8>,
    last_user_key_hash: Option<u64>,
    hashes: Vec<u64>,
    props: TableProperties,
    /// Set after a write error: the builder refuses further work.
    failed: bool,
    /// A block was stored with zstd: the footer says format version 2.
    wrote_zstd: bool,
}

impl TableBuilder {
    /// Starts a table written to the OS file `file` (buffered). `path` names it in errors.
    pub fn new(file: File, path: PathBuf, opts: TableOptions) -> TableBuilder {
        Self::with_file(Box::new(OsFile::new(file)), path, opts)
    }

    /// Starts a table written to `file` (buffered), from any [`Fs`](crate::file::Fs).
    /// `path` names it in errors.
    pub fn with_file(file: Box<dyn WritableFile>, path: PathBuf, opts: TableOptions) -> TableBuilder {
        TableBuilder {
            writer: BufWriter::with_capacity(64 * 1024, FileWriter(file)),
            path,
            data: BlockBuilder::new(opts.block_restart_interval),
            index: BlockBuilder::new(1),
            opts,
            offset: 0,
            last_key: Vec::new(),
            last_user_key_hash: None,
            hashes: Vec::new(),
            props: TableProperties { min_seq: u64::MAX, ..TableProperties::default() },
            failed: false,
            wrote_zstd: false,
        }
    }

    /// Adds an entry. Keys must be valid internal keys, strictly increasing in internal
    /// order (`InvalidArgument` otherwise).
    pub fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        if self.failed {
            return Err(Error::InvalidArgument("table builder failed earlier".into()));
        }
        let parsed =
            parse_internal_key(ikey).map_err(|e| Error::InvalidArgument(format!("not a valid internal key: {e}")))?;
        if self.props.num_entries > 0 && compare_internal(&self.last_key, ikey) != Ordering::Less {
            return Err(Error::InvalidArgument("table keys must be added in strictly increasing order".into()));
        }
        self.data.add(ikey, value)?;
        if self.props.num_entries == 0 {
            self.props.smallest_key = ikey.to_vec();
        }
        self.last_key.clear();
        self.last_key.extend_from_slice(ikey);
        if self.opts.bloom_bits_per_key > 0 {
            let h = hash64(parsed.user_key);
            // Versions of one user key are adjacent; add each user key once. (Comparing hashes
            // only may skip a distinct adjacent key with an equal hash: it is then found anyway.)
            if self.last_user_key_hash != Some(h) {
                self.hashes.push(h);
                self.last_user_key_hash = Some(h);
            }
        }
        let p = &mut self.props;
        p.num_entries += 1;
        if parsed.kind == ValueKind::Delete {
            p.num_deletions += 1;
        }
        p.raw_key_bytes += ikey.len() as u64;
        p.raw_value_bytes += value.len() as u64;
        p.min_seq = p.min_seq.min(parsed.seq);
        p.max_seq = p.max_seq.max(parsed.seq);
        if self.data.size_estimate() >= self.opts.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Number of entries added.
    pub fn num_entries(&self) -> u64 {
        self.props.num_entries
    }

    /// Bytes written so far plus the current block's size.
    pub fn estimated_size(&self) -> u64 {
        let pending = if self.data.is_empty() { 0 } else { self.data.size_estimate() };
        self.offset + pending as u64
    }

    fn write_block(&mut self, contents: &[u8], compress: bool) -> Result<BlockHandle> {
        let codec = match (compress && self.opts.compression, self.opts.zstd_level) {
            (false, _) => BlockCodec::None,
            (true, None) => BlockCodec::Lz4,
            (true, Some(level)) => BlockCodec::Zstd(level),
        };
        let (encoded, tag) = encode_block(contents, codec)?;
        self.wrote_zstd |= tag == COMPRESSION_ZSTD;
        let handle = BlockHandle { offset: self.offset, size: (encoded.len() - BLOCK_TRAILER_LEN) as u64 };
        self.write_raw(&encoded)?;
        Ok(handle)
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(e) = self.writer.write_all(bytes) {
            self.failed = true;
            return Err(Error::io(&self.path, e));
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn flush_data_block(&mut self) -> Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let contents = self.data.finish();
        let handle = self.write_block(&contents, true)?;
        let mut v = Vec::with_capacity(20);
        handle.encode_to(&mut v);
        let last = std::mem::take(&mut self.last_key);
        let r = self.index.add(&last, &v);
        self.last_key = last;
        r?;
        self.props.data_blocks += 1;
        Ok(())
    }

    /// Writes the filter, properties, index and footer, then fsyncs the file. Fails with
    /// `InvalidArgument` if no entry was added.
    pub fn finish(mut self) -> Result<TableProperties> {
        if self.failed {
            return Err(Error::InvalidArgument("table builder failed earlier".into()));
        }
        if self.props.num_entries == 0 {
            return Err(Error::InvalidArgument("cannot finish an empty table".into()));
        }
        self.flush_data_block()?;
        self.props.largest_key = self.last_key.clone();
        let filter = build_filter(&self.hashes, self.opts.bloom_bits_per_key);
        let filter_handle = self.write_block(&filter, false)?;
        let props_handle = self.write_block(&self.props.encode(), true)?;
        let index = self.index.finish();
        let index_handle = self.write_block(&index, true)?;
        let version = if self.wrote_zstd { FORMAT_VERSION_ZSTD } else { FORMAT_VERSION };
        let footer = Footer { filter: filter_handle, properties: props_handle, index: index_handle, version }.encode();
        self.write_raw(&footer)?;
        let file = self.writer.into_inner().map_err(|e| Error::io(&self.path, e.into_error()))?;
        crash_point("sst.written.before_sync");
        file.0.sync_all().map_err(|e| Error::io(&self.path, e))?;
        // Tables are written under their final name (no rename): the next step is the
        // directory sync that precedes the manifest naming the table.
        crash_point("sst.synced.before_dir_sync");
        self.props.file_size = self.offset;
        Ok(self.props)
    }
}

/// Adapts a [`WritableFile`] to `std::io::Write` for the `BufWriter`.
#[derive(Debug)]
struct FileWriter(Box<dyn WritableFile>);

impl Write for FileWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
