//! The RocksDB back end (feature `rocksdb`): one column family per table, every batch one
//! RocksDB write batch, synced when asked.
//!
//! Creating and opening are separate, and a refusal changes nothing on disk:
//! - [`RocksStore::create`] accepts only a missing path or an empty directory.
//! - [`RocksStore::open`] and [`RocksStore::open_read_only`] accept only a RocksDB database
//!   whose column families are exactly this format's tables (plus RocksDB's `default`). The
//!   directory is classified with plain file-system calls and `DB::list_cf` (which reads
//!   `CURRENT` and the manifest and writes nothing) before RocksDB opens anything: opening
//!   read-write creates the directory if it is missing and rotates the info log (`LOG` to
//!   `LOG.old.*`) even when the open then fails.
//!
//! Write-ahead log. A crash can tear the last record, which was never acknowledged; RocksDB's
//! `TolerateCorruptedTailRecords` drops it and refuses damage anywhere else. Opening past such
//! damage (`PointInTime`) would silently drop synced commits, so by default it is refused
//! ([`StoreError::WalDamaged`]), with the loss measured: the head that point-in-time recovery
//! gives, and the last head the log's own bytes show was committed (every commit's batch
//! ends with a put of the window record, which carries its own check). The log is first
//! replayed by a read-only open, which writes nothing, so that a refusal happens before the
//! read-write open touches the info log. [`WalRecovery::AcceptLoss`] opens anyway and keeps
//! the measured loss in [`RocksStore::wal_loss`].

use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBRecoveryMode, Direction,
    ErrorKind, InfoLogger, IteratorMode, LogLevel, Options, WriteOptions, DB,
};

use super::layout;
use super::{
    BackendError, Entry, NotAStore, RecordFault, StoreBackend, StoreError, Table, WriteBatch,
    WriteOp,
};

/// What opening does when the write-ahead log is damaged before its end (not merely torn at
/// its end by a crash, which loses only a commit that was never acknowledged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WalRecovery {
    /// Refuse to open with [`StoreError::WalDamaged`], changing nothing (the default).
    #[default]
    Refuse,
    /// Open at the last commit before the damage, dropping the commits after it; the loss is
    /// reported by [`RocksStore::wal_loss`].
    AcceptLoss,
}

/// What opening past a damaged write-ahead log dropped ([`WalRecovery::AcceptLoss`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WalLoss {
    /// The head version the store was recovered to.
    pub recovered_head: u64,
    /// Versions after it that the log shows were committed (at least this many).
    pub lost_versions: u64,
}

/// How a [`RocksStore`] is opened: the memory RocksDB itself may use, besides the tree's node
/// budget, and what to do with a damaged write-ahead log.
///
/// ```
/// use avlplus::store::{RocksOptions, WalRecovery};
/// let options = RocksOptions::DEFAULT
///     .block_cache(256 << 20)
///     .wal_recovery(WalRecovery::AcceptLoss);
/// assert_eq!(options.write_buffer, RocksOptions::DEFAULT.write_buffer);
/// assert_eq!(options.wal_recovery, WalRecovery::AcceptLoss);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RocksOptions {
    /// Shared block cache (data, index and filter blocks), bytes.
    pub block_cache: usize,
    /// Size of one memtable, bytes (at most two per column family, and four in all).
    pub write_buffer: usize,
    /// What opening does when the write-ahead log is damaged before its end.
    pub wal_recovery: WalRecovery,
}

impl RocksOptions {
    /// 64 MiB block cache, 16 MiB memtables, refuse a damaged write-ahead log.
    pub const DEFAULT: RocksOptions = RocksOptions {
        block_cache: 64 << 20,
        write_buffer: 16 << 20,
        wal_recovery: WalRecovery::Refuse,
    };

    /// With a block cache of `bytes`.
    pub const fn block_cache(mut self, bytes: usize) -> Self {
        self.block_cache = bytes;
        self
    }

    /// With memtables of `bytes`.
    pub const fn write_buffer(mut self, bytes: usize) -> Self {
        self.write_buffer = bytes;
        self
    }

    /// With another answer to a damaged write-ahead log.
    pub const fn wal_recovery(mut self, wal_recovery: WalRecovery) -> Self {
        self.wal_recovery = wal_recovery;
        self
    }
}

impl Default for RocksOptions {
    /// [`RocksOptions::DEFAULT`].
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A [`StoreBackend`] on RocksDB.
///
/// ```no_run
/// use std::sync::Arc;
/// use avlplus::{store::{RocksStore, StoreConfig}, Operation, Tree};
/// // A new store: the directory must be missing or empty.
/// let store = Arc::new(RocksStore::create("/var/lib/node/state")?);
/// let mut tree: Tree = Tree::create_store(store, StoreConfig::default())?;
/// tree.apply(&[Operation::insert(b"k", b"v")])?;
/// drop(tree);
/// // Later: only an existing store opens.
/// let store = Arc::new(RocksStore::open("/var/lib/node/state")?);
/// let tree: Tree = Tree::open_store(store, StoreConfig::default())?;
/// assert_eq!(tree.version(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RocksStore {
    db: DB,
    read_only: bool,
    wal_loss: Option<WalLoss>,
}

impl core::fmt::Debug for RocksStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RocksStore")
            .field("path", &self.db.path())
            .field("read_only", &self.read_only)
            .field("wal_loss", &self.wal_loss)
            .finish()
    }
}

fn backend<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Backend(BackendError::from_error(e))
}

/// What a path holds, when it is something `create` or `open` can act on.
enum Found {
    /// Nothing at the path.
    Missing,
    /// An empty directory.
    EmptyDirectory,
    /// A RocksDB database with this format's column families.
    Store,
    /// A RocksDB database with format 1's column families (which included `stale`).
    Format1,
}

/// The column families of a RocksDB database with `tables` as tables.
fn families(tables: &[&'static str]) -> Vec<&'static str> {
    let mut names = vec![rocksdb::DEFAULT_COLUMN_FAMILY_NAME];
    names.extend_from_slice(tables);
    names.sort_unstable();
    names
}

/// Classifies `path` without changing anything: plain file-system reads, then
/// `DB::list_cf`, which only reads `CURRENT` and the manifest. Everything that is neither
/// nothing nor an avlplus store is an error here.
fn survey(path: &Path) -> Result<Found, StoreError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Missing),
        Err(e) => return Err(backend(e)),
    };
    if !meta.is_dir() {
        return Err(StoreError::NotAStore(NotAStore::NotADirectory));
    }
    if std::fs::read_dir(path).map_err(backend)?.next().is_none() {
        return Ok(Found::EmptyDirectory);
    }
    if !path.join("CURRENT").is_file() {
        return Err(StoreError::NotAStore(NotAStore::NotRocksDb));
    }
    let names = DB::list_cf(&Options::default(), path).map_err(backend)?;
    let mut sorted: Vec<&str> = names.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let tables = Table::ALL.map(Table::name);
    if sorted == families(&tables) {
        return Ok(Found::Store);
    }
    let mut format1 = tables.to_vec();
    format1.push("stale");
    if sorted == families(&format1) {
        return Ok(Found::Format1);
    }
    Err(StoreError::NotAStore(NotAStore::ForeignDatabase(names)))
}

/// For `open`: an existing store of this format, or why not.
fn survey_existing(path: &Path) -> Result<(), StoreError> {
    match survey(path)? {
        Found::Store => Ok(()),
        Found::Missing => Err(StoreError::NotAStore(NotAStore::NoSuchPath)),
        Found::EmptyDirectory => Err(StoreError::NotAStore(NotAStore::Empty)),
        Found::Format1 => Err(StoreError::UnsupportedFormat {
            found: 1,
            supported: layout::FORMAT,
        }),
    }
}

/// The RocksDB options for one store: tuning shared by every open.
struct Tuning {
    cf: Options,
    db: Options,
}

impl Tuning {
    fn new(options: &RocksOptions) -> Self {
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
        let mut cf = Options::default();
        cf.set_block_based_table_factory(&table);
        cf.set_write_buffer_size(options.write_buffer);
        cf.set_max_write_buffer_number(2);
        cf.set_compression_type(rocksdb::DBCompressionType::None);

        let mut db = cf.clone();
        db.create_if_missing(false);
        db.create_missing_column_families(false);
        db.set_max_open_files(512);
        db.increase_parallelism(2);
        // All memtables together, across column families.
        db.set_db_write_buffer_size(options.write_buffer.saturating_mul(4));
        Tuning { cf, db }
    }

    fn families(&self) -> Vec<ColumnFamilyDescriptor> {
        Table::ALL
            .iter()
            .map(|t| ColumnFamilyDescriptor::new(t.name(), self.cf.clone()))
            .collect()
    }

    /// Database options for a read-write open.
    fn read_write(&self, mode: DBRecoveryMode) -> Options {
        let mut db = self.db.clone();
        db.set_wal_recovery_mode(mode);
        db
    }

    /// Database options for a read-only open. RocksDB creates no info log file when opening
    /// read-only; the discarding logger makes sure of it (tests/rocks_open.rs checks that the
    /// directory is unchanged).
    fn read_only(&self, mode: DBRecoveryMode) -> Options {
        let mut db = self.read_write(mode);
        db.set_info_logger(InfoLogger::new_callback_logger(LogLevel::Fatal, |_, _| {}));
        db
    }

    fn open_read_only(&self, path: &Path, mode: DBRecoveryMode) -> Result<DB, rocksdb::Error> {
        DB::open_cf_descriptors_read_only(&self.read_only(mode), path, self.families(), false)
    }
}

/// The write-ahead log files in `path` (`<number>.log`), oldest first.
fn wal_files(path: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut logs = Vec::new();
    for entry in std::fs::read_dir(path).map_err(backend)? {
        let entry = entry.map_err(backend)?;
        let name = entry.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            logs.push((number, entry.path()));
        }
    }
    logs.sort_unstable();
    Ok(logs.into_iter().map(|(_, p)| p).collect())
}

/// A little-endian base-128 varint of at most 32 bits (RocksDB's `varint32`) at the start of
/// `bytes`: its value and length.
fn varint32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, b) in bytes.iter().take(5).enumerate() {
        let bits = u32::from(b & 0x7f).checked_shl(u32::try_from(i).ok()?.checked_mul(7)?)?;
        value |= bits;
        if b & 0x80 == 0 {
            return Some((value, i.checked_add(1)?));
        }
    }
    None
}

/// The head of the last intact window record in the raw bytes of write-ahead log files, in
/// log order (so that a rollback, which writes a lower head, counts as the latest state).
///
/// In RocksDB's write batch encoding a put is `tag ‖ [column family] ‖ varint32 key length ‖
/// key ‖ varint32 value length ‖ value`, so each commit's window record appears as
/// `6 ‖ "window" ‖ 24 ‖ value`. The value carries a keyed check, so a candidate that decodes
/// is a window record; one split by a log block header (every 32 KiB) is missed, which only
/// makes the count of lost versions lower, never higher.
fn last_logged_head(logs: &[PathBuf]) -> Result<Option<u64>, StoreError> {
    let key = layout::WINDOW_KEY;
    let mut needle = vec![u8::try_from(key.len()).map_err(backend)?];
    needle.extend_from_slice(key);
    let mut last = None;
    for log in logs {
        let bytes = std::fs::read(log).map_err(backend)?;
        for (at, _) in bytes
            .windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle.as_slice())
        {
            let value = at
                .checked_add(needle.len())
                .and_then(|start| bytes.get(start..))
                .and_then(|rest| {
                    let (len, n) = varint32(rest)?;
                    let end = n.checked_add(usize::try_from(len).ok()?)?;
                    rest.get(n..end)
                });
            if let Some(w) = value.and_then(|v| layout::decode_window(v).ok()) {
                last = Some(w.head);
            }
        }
    }
    Ok(last)
}

/// The head of an opened store: 0 if recovery left no window record (the log was damaged in
/// the commit that created the store).
fn recovered_head(store: &RocksStore) -> Result<u64, StoreError> {
    match layout::read_window(store) {
        Ok(w) => Ok(w.head),
        Err(StoreError::BadRecord {
            fault: RecordFault::Absent,
            ..
        }) => Ok(0),
        Err(e) => Err(e),
    }
}

/// After an open failed with `failure` (a corruption): if the damage is in the write-ahead
/// log, the store as point-in-time recovery opens it (read-only) and the loss. If
/// point-in-time recovery fails too, the damage is elsewhere (or reaches data already
/// flushed), and the original failure is returned.
fn measure_loss(
    path: &Path,
    tuning: &Tuning,
    failure: &rocksdb::Error,
) -> Result<(RocksStore, WalLoss), StoreError> {
    // Read the log before anything else opens the database.
    let logged = last_logged_head(&wal_files(path)?)?;
    let db = tuning
        .open_read_only(path, DBRecoveryMode::PointInTime)
        .map_err(|e| {
            StoreError::Backend(BackendError::new(format!(
                "{failure} (and point-in-time recovery fails: {e})"
            )))
        })?;
    let store = RocksStore {
        db,
        read_only: true,
        wal_loss: None,
    };
    let recovered_head = recovered_head(&store)?;
    let lost_versions = logged.unwrap_or(0).saturating_sub(recovered_head);
    Ok((
        store,
        WalLoss {
            recovered_head,
            lost_versions,
        },
    ))
}

fn damaged(loss: WalLoss) -> StoreError {
    StoreError::WalDamaged {
        recovered_head: loss.recovered_head,
        lost_versions: loss.lost_versions,
    }
}

fn is_corruption(e: &rocksdb::Error) -> bool {
    e.kind() == ErrorKind::Corruption
}

impl RocksStore {
    /// Creates a store in directory `path` with default options: see [`RocksStore::create_with`].
    pub fn create(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::create_with(path, RocksOptions::DEFAULT)
    }

    /// Creates a store in directory `path`, which must not exist (its parents are created as
    /// needed) or be an empty directory. Its tables are empty: initialize it with
    /// [`Tree::create_store`](crate::Tree::create_store).
    ///
    /// Anything else is refused, changing nothing: [`StoreError::AlreadyExists`] for an
    /// avlplus store (of any format), [`StoreError::NotAStore`] for the rest.
    ///
    /// ```no_run
    /// use avlplus::store::{RocksOptions, RocksStore, StoreError};
    /// let dir = std::env::temp_dir().join("avlplus-doc-create");
    /// let store = RocksStore::create_with(&dir, RocksOptions::DEFAULT.block_cache(8 << 20))?;
    /// drop(store);
    /// assert_eq!(RocksStore::create(&dir).unwrap_err(), StoreError::AlreadyExists);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_with(path: impl AsRef<Path>, options: RocksOptions) -> Result<Self, StoreError> {
        let path = path.as_ref();
        match survey(path)? {
            Found::Missing | Found::EmptyDirectory => {}
            Found::Store | Found::Format1 => return Err(StoreError::AlreadyExists),
        }
        let tuning = Tuning::new(&options);
        let mut db_opts = tuning.read_write(DBRecoveryMode::TolerateCorruptedTailRecords);
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        // Should anything have appeared since the survey.
        db_opts.set_error_if_exists(true);
        let db = DB::open_cf_descriptors(&db_opts, path, tuning.families()).map_err(backend)?;
        Ok(RocksStore {
            db,
            read_only: false,
            wal_loss: None,
        })
    }

    /// Opens the existing store in directory `path` with default options: see
    /// [`RocksStore::open_with`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, RocksOptions::DEFAULT)
    }

    /// Opens the existing store in directory `path` for reading and writing.
    ///
    /// Refused, changing nothing on disk: a missing path, a file, an empty directory, a
    /// directory without a RocksDB database ([`StoreError::NotAStore`]); a RocksDB database
    /// with other column families ([`NotAStore::ForeignDatabase`]); a format-1 store
    /// ([`StoreError::UnsupportedFormat`]); a write-ahead log damaged before its end, unless
    /// `options.wal_recovery` accepts the loss ([`StoreError::WalDamaged`]). The records
    /// themselves (identity, bookkeeping) are checked by
    /// [`Tree::open_store`](crate::Tree::open_store).
    ///
    /// A RocksDB failure after the checks (the database locked by another process, say) is
    /// [`StoreError::Backend`]; by then RocksDB has rotated its info log.
    ///
    /// ```no_run
    /// use avlplus::store::{NotAStore, RocksStore, StoreError};
    /// let missing = std::env::temp_dir().join("avlplus-doc-no-such-store");
    /// assert_eq!(
    ///     RocksStore::open(&missing).unwrap_err(),
    ///     StoreError::NotAStore(NotAStore::NoSuchPath)
    /// );
    /// assert!(!missing.exists());
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: RocksOptions) -> Result<Self, StoreError> {
        let path = path.as_ref();
        survey_existing(path)?;
        let tuning = Tuning::new(&options);
        // Replay the log read-only first: a read-write open that fails on a damaged log has
        // already rotated the info log. An empty log needs no replay.
        let logs = wal_files(path)?;
        let mut logged_bytes = 0u64;
        for log in &logs {
            let len = std::fs::metadata(log).map_err(backend)?.len();
            logged_bytes = logged_bytes.saturating_add(len);
        }
        let mut wal_loss = None;
        if logged_bytes > 0 {
            match tuning.open_read_only(path, DBRecoveryMode::TolerateCorruptedTailRecords) {
                Ok(db) => drop(db),
                Err(e) if is_corruption(&e) => {
                    let (_, loss) = measure_loss(path, &tuning, &e)?;
                    match options.wal_recovery {
                        WalRecovery::AcceptLoss => wal_loss = Some(loss),
                        WalRecovery::Refuse => return Err(damaged(loss)),
                    }
                }
                Err(e) => return Err(backend(e)),
            }
        }
        let mode = if wal_loss.is_some() {
            DBRecoveryMode::PointInTime
        } else {
            DBRecoveryMode::TolerateCorruptedTailRecords
        };
        let db = DB::open_cf_descriptors(&tuning.read_write(mode), path, tuning.families())
            .map_err(backend)?;
        let mut store = RocksStore {
            db,
            read_only: false,
            wal_loss: None,
        };
        if let Some(loss) = wal_loss {
            // What the read-write recovery actually kept.
            let head = recovered_head(&store)?;
            let logged = loss.recovered_head.saturating_add(loss.lost_versions);
            store.wal_loss = Some(WalLoss {
                recovered_head: head,
                lost_versions: logged.saturating_sub(head),
            });
        }
        Ok(store)
    }

    /// Opens the existing store in directory `path` read-only with default options: see
    /// [`RocksStore::open_read_only_with`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_read_only_with(path, RocksOptions::DEFAULT)
    }

    /// Opens the existing store in directory `path` read-only: it may be open read-write
    /// elsewhere (this handle sees the commits made before it opened), nothing on disk is
    /// changed (not even RocksDB's info log), and [`StoreBackend::write`] and
    /// [`RocksStore::flush`] return [`StoreError::ReadOnly`]. Refused as
    /// [`RocksStore::open_with`] refuses.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use avlplus::{store::{RocksStore, StoreConfig}, Tree};
    /// let store = Arc::new(RocksStore::open_read_only("/var/lib/node/state")?);
    /// let tree: Tree = Tree::open_store(store, StoreConfig::default())?;
    /// println!("head {} root {:?}", tree.version(), tree.root());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_read_only_with(
        path: impl AsRef<Path>,
        options: RocksOptions,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref();
        survey_existing(path)?;
        let tuning = Tuning::new(&options);
        match tuning.open_read_only(path, DBRecoveryMode::TolerateCorruptedTailRecords) {
            Ok(db) => Ok(RocksStore {
                db,
                read_only: true,
                wal_loss: None,
            }),
            Err(e) if is_corruption(&e) => {
                let (mut store, loss) = measure_loss(path, &tuning, &e)?;
                match options.wal_recovery {
                    WalRecovery::AcceptLoss => {
                        store.wal_loss = Some(loss);
                        Ok(store)
                    }
                    WalRecovery::Refuse => Err(damaged(loss)),
                }
            }
            Err(e) => Err(backend(e)),
        }
    }

    /// What opening past a damaged write-ahead log dropped, if it did
    /// ([`WalRecovery::AcceptLoss`]); `None` for an intact log.
    pub fn wal_loss(&self) -> Option<WalLoss> {
        self.wal_loss
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn cf(&self, table: Table) -> Result<&ColumnFamily, StoreError> {
        self.db.cf_handle(table.name()).ok_or_else(|| {
            StoreError::Backend(BackendError::new(format!(
                "column family {} missing",
                table.name()
            )))
        })
    }

    /// Writes every memtable to disk, so that the next open replays no write-ahead log (after
    /// a bulk load with [`Durability::Buffered`](super::Durability::Buffered), say).
    /// [`StoreError::ReadOnly`] on a read-only store.
    pub fn flush(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
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
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint32_decodes_rocksdb_varints() {
        assert_eq!(varint32(&[24]), Some((24, 1)));
        assert_eq!(varint32(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(
            varint32(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Some((u32::MAX, 5))
        );
        assert_eq!(varint32(&[0x80, 0x80]), None);
        assert_eq!(varint32(&[0x80; 6]), None);
        assert_eq!(varint32(&[]), None);
    }
}
