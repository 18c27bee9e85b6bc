//! The RocksDB back end (feature `rocksdb`): one column family per table, every batch one
//! RocksDB write batch, synced when asked.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, Direction, IteratorMode,
    Options, WriteOptions, DB,
};

use super::{Entry, StoreBackend, StoreError, Table, WriteBatch, WriteOp};

/// Memory RocksDB itself may use, besides the tree's node budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RocksOptions {
    /// Shared block cache (data, index and filter blocks), bytes.
    pub block_cache: usize,
    /// Size of one memtable, bytes (at most two per column family, and four in all).
    pub write_buffer: usize,
}

impl Default for RocksOptions {
    /// 64 MiB block cache, 16 MiB memtables.
    fn default() -> Self {
        RocksOptions {
            block_cache: 64 << 20,
            write_buffer: 16 << 20,
        }
    }
}

/// A [`StoreBackend`] on RocksDB.
///
/// ```no_run
/// use std::sync::Arc;
/// use avlplus::{store::{RocksStore, StoreConfig}, Operation, Tree};
/// let store = Arc::new(RocksStore::open("/var/lib/node/state")?);
/// let mut tree: Tree = Tree::open_store(store, StoreConfig::default())?;
/// tree.apply(&[Operation::insert(b"k", b"v")])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RocksStore {
    db: DB,
}

impl core::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.db.path())
            .finish()
    }
}

fn backend<E: core::fmt::Display>(e: E) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl RocksStore {
    /// Opens (or creates) the store in directory `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, RocksOptions::default())
    }

    /// Opens (or creates) the store in directory `path`.
    pub fn open_with(path: impl AsRef<Path>, options: RocksOptions) -> Result<Self, StoreError> {
        let cache = Cache::new_lru_cache(options.block_cache);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        // Index and filter blocks live in (and are bounded by) the block cache. They are
        // partitioned: with one index block per file, a cache too small for every file's
        // index made each point read load and checksum a whole index block (hundreds of KiB
        // per 64 MiB file; at 10^7 keys 40% of the writer's time went to XXH3 over them and
        // another 34% to copying them in). Partitions are 4 KiB; only the small top-level
        // index of each file stays pinned.
        table.set_index_type(rocksdb::BlockBasedIndexType::TwoLevelIndexSearch);
        table.set_partition_filters(true);
        table.set_metadata_block_size(4096);
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_top_level_index_and_filter(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        let mut cf_opts = Options::default();
        cf_opts.set_block_based_table_factory(&table);
        cf_opts.set_write_buffer_size(options.write_buffer);
        cf_opts.set_max_write_buffer_number(2);
        cf_opts.set_compression_type(rocksdb::DBCompressionType::None);

        let mut db_opts = cf_opts.clone();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_open_files(512);
        db_opts.increase_parallelism(2);
        // All memtables together, across column families.
        db_opts.set_db_write_buffer_size(options.write_buffer.saturating_mul(4));

        let cfs = Table::ALL
            .iter()
            .map(|t| ColumnFamilyDescriptor::new(t.name(), cf_opts.clone()));
        let db = DB::open_cf_descriptors(&db_opts, path, cfs).map_err(backend)?;
        Ok(RocksStore { db })
    }

    fn cf(&self, table: Table) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(table.name())
            .ok_or_else(|| StoreError::Backend(format!("column family {} missing", table.name())))
    }

    /// Writes every memtable to disk, so that the next open replays no write-ahead log (after
    /// a bulk load with [`Durability::Buffered`](super::Durability::Buffered), say).
    pub fn flush(&self) -> Result<(), StoreError> {
        for t in Table::ALL {
            self.db.flush_cf(self.cf(t)?).map_err(backend)?;
        }
        Ok(())
    }

    /// Bytes of live SST files, as RocksDB estimates them.
    pub fn disk_bytes(&self) -> u64 {
        Table::ALL
            .iter()
            .filter_map(|t| self.cf(*t).ok())
            .filter_map(|cf| {
                self.db
                    .property_int_value_cf(cf, "rocksdb.live-sst-files-size")
                    .ok()
                    .flatten()
            })
            .sum()
    }
}

impl StoreBackend for RocksStore {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let cf = self.cf(table)?;
        Ok(self
            .db
            .get_pinned_cf(cf, key)
            .map_err(backend)?
            .map(|v| v.to_vec()))
    }

    fn write(&self, batch: WriteBatch, sync: bool) -> Result<(), StoreError> {
        let mut wb = rocksdb::WriteBatch::default();
        for op in &batch.ops {
            match op {
                WriteOp::Put(t, k, v) => wb.put_cf(self.cf(*t)?, k, v),
                WriteOp::Delete(t, k) => wb.delete_cf(self.cf(*t)?, k),
                WriteOp::DeleteRange(t, from, to) => wb.delete_range_cf(self.cf(*t)?, from, to),
            }
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(sync);
        self.db.write_opt(wb, &opts).map_err(backend)
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let cf = self.cf(table)?;
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(from, Direction::Forward))
        {
            let (k, v) = item.map_err(backend)?;
            if &*k >= to || out.len() >= limit {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }
}
