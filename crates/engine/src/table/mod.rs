//! SSTables: immutable sorted files of internal entries with a two-level index, bloom filter,
//! properties, LZ4- or zstd-compressed and CRC-protected blocks. The format is described in
//! `docs/format.md`.

mod block;
mod builder;
mod filter;
mod format;
mod iter;
mod properties;
mod reader;
mod recycle;

pub use block::{Block, BlockBuilder, BlockIter};
pub use builder::TableBuilder;
pub use filter::{hash64, BloomFilter};
pub use format::{
    encode_block, read_block, BlockCodec, BlockHandle, Footer, BLOCK_TRAILER_LEN, COMPRESSION_LZ4, COMPRESSION_NONE,
    COMPRESSION_ZSTD, FOOTER_LEN, FORMAT_VERSION, FORMAT_VERSION_ZSTD, TABLE_MAGIC,
};
pub use iter::TableIterator;
pub use properties::TableProperties;
pub use reader::Table;
