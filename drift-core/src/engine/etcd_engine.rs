//! The etcd v3 engine (feature `etcd`): Drift's tables as key prefixes of an etcd
//! cluster, driven from Drift's synchronous API through an async client
//! (`etcd-client`) on a runtime the engine owns.
//!
//! # Key layout (under the database's prefix `P`)
//! - `P t/<table>\0<key>` → the row or index entry (`\0` ends the table name, which
//!   never holds one, so each table is one contiguous range);
//! - `P n/<table>` → empty: the table exists;
//! - `P v/<table>` → empty, rewritten by every commit that writes the table: its
//!   modification revision is the last commit that changed the table.
//!
//! # Transactions
//! - A **read transaction** reads at one revision: the revision etcd reports for the
//!   request that lists the tables when it begins. Every later read names that
//!   revision, so it sees a snapshot (until etcd compacts that revision away; a read
//!   then fails).
//! - A **write transaction** reads at its start revision too, buffers its writes (and
//!   reads them back: read your writes, ranges included), and commits in one etcd
//!   transaction guarded by compares on everything it read: each key read by its
//!   modification revision (0 for a key that was absent), each table it scanned a
//!   range of by its version key not being newer than the start revision. A commit
//!   whose compares fail applied nothing and is [`Error::Conflict`]: the outcome is
//!   serializable (each commit behaves as if it ran alone at its commit revision).
//!   Ranges conflict per table, not per range: coarser than needed, never wrong.
//!
//! # Limits
//! etcd refuses a transaction with more operations than `--max-txn-ops` (default
//! 128) or a request larger than `--max-request-bytes` (default 1.5 MiB). A commit
//! over either fails with [`Error::Storage`] naming the flag to raise.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, SortOrder, SortTarget, Txn, TxnOp};

use super::{Durability, Engine, EngineRead, EngineWrite, TableId};
use crate::error::{Error, Result, StorageError};

/// Entries fetched per request when a range is read.
const PAGE: i64 = 512;

/// How many times a request that could not connect is sent (see `Inner::call`).
const CONNECT_TRIES: u32 = 8;

/// How long one request may take before it fails.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A fetched entry: etcd key, value, modification revision.
type Fetched = (Vec<u8>, Vec<u8>, i64);

struct Inner {
    /// Always `Some` until dropped: taken to shut it down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    prefix: Vec<u8>,
}

/// An open etcd database: a client and the key prefix it lives under.
#[derive(Clone)]
pub(crate) struct EtcdEngine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EtcdEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdEngine").field("prefix", &String::from_utf8_lossy(&self.inner.prefix)).finish()
    }
}

fn storage(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Storage(StorageError::new(format!("{context}: {e}")))
}

/// An etcd error, with the server flag to raise when it is one of etcd's limits.
fn etcd_error(context: &str, e: etcd_client::Error) -> Error {
    let text = e.to_string();
    let hint = if text.contains("too many operations in txn request") {
        " (the transaction has more operations than the server's --max-txn-ops allows, 128 by default: \
         raise it, or write in smaller transactions)"
    } else if text.contains("request is too large") || text.contains("message larger than max") {
        " (the request is larger than the server's --max-request-bytes allows, 1.5 MiB by default: raise it, \
         or write in smaller transactions)"
    } else if text.contains("required revision has been compacted") {
        " (the transaction's snapshot revision was compacted away by etcd: run it again)"
    } else {
        ""
    };
    Error::Storage(StorageError::new(format!("{context}: {text}{hint}")))
}

/// Whether a failed request may be sent again: it never reached a server, or it only
/// reads and its connection broke.
fn retryable(e: &etcd_client::Error, idempotent: bool) -> bool {
    let text = e.to_string();
    text.contains("tcp connect error") || (idempotent && text.contains("transport error"))
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks end, which tokio refuses inside an
        // async context (a `Db` dropped at the end of an async function): shut it down
        // in the background instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Inner {
    /// Runs the request `make` builds on the engine's runtime and waits for it, from
    /// any thread (an async caller's included: the future runs on the engine's own
    /// runtime). A request that could not connect to the member it was sent to never
    /// reached a server, so it is sent again (the client's balancer can keep picking a
    /// member that is down: grpc/grpc-rust#2839), up to `CONNECT_TRIES` times. A read
    /// (`idempotent`) is also sent again when its connection broke on the way.
    fn call<T, F, M>(&self, context: &str, idempotent: bool, make: M) -> Result<T>
    where
        T: Send + 'static,
        F: Future<Output = std::result::Result<T, etcd_client::Error>> + Send + 'static,
        M: Fn() -> F,
    {
        let Some(runtime) = &self.runtime else {
            return Err(storage(context, "the etcd client stopped"));
        };
        let mut tries = 0;
        loop {
            tries += 1;
            let f = make();
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            runtime.spawn(async move {
                let r = tokio::time::timeout(REQUEST_TIMEOUT, f).await;
                let _ = tx.send(r);
            });
            match rx.recv() {
                Ok(Ok(Err(e))) if tries < CONNECT_TRIES && retryable(&e, idempotent) => {
                    std::thread::sleep(Duration::from_millis(10 * u64::from(tries)));
                }
                Ok(Ok(r)) => return r.map_err(|e| etcd_error(context, e)),
                Ok(Err(_)) => return Err(storage(context, format!("etcd did not answer within {REQUEST_TIMEOUT:?}"))),
                Err(_) => return Err(storage(context, "the etcd client stopped")),
            }
        }
    }

    fn key(&self, kind: &[u8], table: &str, rest: Option<&[u8]>) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + 3 + table.len() + rest.map_or(0, <[u8]>::len));
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(kind);
        k.extend_from_slice(table.as_bytes());
        if let Some(rest) = rest {
            k.push(0);
            k.extend_from_slice(rest);
        }
        k
    }

    /// `P t/<table>\0`: where the table's entries start.
    fn table_start(&self, table: &str) -> Vec<u8> {
        self.key(b"t/", table, Some(&[]))
    }

    /// Just past the table's entries.
    fn table_end(&self, table: &str) -> Vec<u8> {
        let mut k = self.key(b"t/", table, None);
        k.push(1);
        k
    }

    fn marker(&self, table: &str) -> Vec<u8> {
        self.key(b"n/", table, None)
    }

    fn version(&self, table: &str) -> Vec<u8> {
        self.key(b"v/", table, None)
    }

    /// The existing tables (with their markers' modification revisions), the current
    /// revision, and the keys `keys` at that revision (value and modification
    /// revision), read in one request.
    #[allow(clippy::type_complexity)]
    fn tables_now(&self, keys: &[Vec<u8>]) -> Result<(HashMap<String, i64>, i64, Vec<Option<(Vec<u8>, i64)>>)> {
        let start = self.key(b"n/", "", None);
        let mut end = start.clone();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let kv = self.client.kv_client();
        let list = GetOptions::new().with_range(end).with_keys_only();
        let (header, mut responses) = if keys.is_empty() {
            let resp = self.call("cannot list tables", true, || {
                let (mut kv, start, list) = (kv.clone(), start.clone(), list.clone());
                async move { kv.get(start, Some(list)).await }
            })?;
            (resp.header().map_or(0, |h| h.revision()), vec![resp])
        } else {
            // A read-only etcd transaction: every get at one revision, one round trip.
            let mut ops = vec![TxnOp::get(start.clone(), Some(list))];
            ops.extend(keys.iter().map(|k| TxnOp::get(k.clone(), None)));
            let resp = self.call("cannot list tables", true, || {
                let (mut kv, txn) = (kv.clone(), Txn::new().and_then(ops.clone()));
                async move { kv.txn(txn).await }
            })?;
            let revision = resp.header().map_or(0, |h| h.revision());
            let gets = resp
                .op_responses()
                .into_iter()
                .filter_map(|r| match r {
                    etcd_client::TxnOpResponse::Get(g) => Some(g),
                    _ => None,
                })
                .collect();
            (revision, gets)
        };
        if responses.len() != keys.len() + 1 {
            return Err(storage("cannot list tables", "etcd answered a different number of reads"));
        }
        let fetched =
            responses.drain(1..).map(|g| g.kvs().first().map(|kv| (kv.value().to_vec(), kv.mod_revision()))).collect();
        let skip = self.prefix.len() + 2;
        let names = responses[0]
            .kvs()
            .iter()
            .map(|kv| (String::from_utf8_lossy(&kv.key()[skip..]).into_owned(), kv.mod_revision()))
            .collect();
        Ok((names, header, fetched))
    }

    /// Up to `PAGE` entries of `[start, end)` at `revision`, ascending or descending.
    fn page(&self, start: &[u8], end: &[u8], revision: i64, descending: bool) -> Result<Vec<Fetched>> {
        let mut options = GetOptions::new().with_range(end.to_vec()).with_limit(PAGE).with_revision(revision);
        if descending {
            options = options.with_sort(SortTarget::Key, SortOrder::Descend);
        }
        let kv = self.client.kv_client();
        let start = start.to_vec();
        let resp = self.call("cannot read a range", true, || {
            let (mut kv, start, options) = (kv.clone(), start.clone(), options.clone());
            async move { kv.get(start, Some(options)).await }
        })?;
        Ok(resp.kvs().iter().map(|kv| (kv.key().to_vec(), kv.value().to_vec(), kv.mod_revision())).collect())
    }

    /// How many keys `[start, end)` holds at `revision`, in one request.
    fn count(&self, start: Vec<u8>, end: Vec<u8>, revision: i64) -> Result<u64> {
        let kv = self.client.kv_client();
        let options = GetOptions::new().with_range(end).with_count_only().with_revision(revision);
        let resp = self.call("cannot count a table", true, || {
            let (mut kv, start, options) = (kv.clone(), start.clone(), options.clone());
            async move { kv.get(start, Some(options)).await }
        })?;
        Ok(u64::try_from(resp.count()).unwrap_or(0))
    }

    /// One key at `revision`: its value and modification revision.
    fn get(&self, key: Vec<u8>, revision: i64) -> Result<Option<(Vec<u8>, i64)>> {
        let kv = self.client.kv_client();
        let resp = self.call("cannot read", true, || {
            let (mut kv, key) = (kv.clone(), key.clone());
            async move { kv.get(key, Some(GetOptions::new().with_revision(revision))).await }
        })?;
        Ok(resp.kvs().first().map(|kv| (kv.value().to_vec(), kv.mod_revision())))
    }
}

impl EtcdEngine {
    /// Connects to `endpoints` and opens the database under `prefix`.
    pub(crate) fn connect(endpoints: &[String], prefix: &str) -> Result<EtcdEngine> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("drift-etcd")
            .enable_all()
            .build()
            .map_err(|e| storage("cannot start the etcd client's runtime", e))?;
        let endpoints = endpoints.to_vec();
        let connect = async move {
            let options = ConnectOptions::new().with_connect_timeout(REQUEST_TIMEOUT).with_timeout(REQUEST_TIMEOUT);
            Client::connect(endpoints, Some(options)).await
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(connect.await);
        });
        let client = rx
            .recv()
            .map_err(|e| storage("cannot connect to etcd", e))?
            .map_err(|e| etcd_error("cannot connect to etcd", e))?;
        Ok(EtcdEngine { inner: Arc::new(Inner { runtime: Some(runtime), client, prefix: prefix.as_bytes().to_vec() }) })
    }

    pub(crate) fn handle(&self) -> EtcdEngine {
        self.clone()
    }
}

fn check_names(names: &[String]) -> Result<()> {
    match names.iter().find(|n| n.contains('\0')) {
        Some(n) => Err(storage("cannot use a table on etcd", format!("the table name {n:?} holds a NUL byte"))),
        None => Ok(()),
    }
}

impl Engine for EtcdEngine {
    type Read = EtcdRead;
    type Write = EtcdWrite;

    fn begin_read(&self, names: Arc<[String]>) -> Result<EtcdRead> {
        check_names(&names)?;
        let (existing, revision, _) = self.inner.tables_now(&[])?;
        let exists = names.iter().map(|n| existing.contains_key(n)).collect();
        Ok(EtcdRead { inner: Arc::clone(&self.inner), names, revision, exists, lengths: RefCell::default() })
    }

    fn begin_write(&self, names: Arc<[String]>, prefetch: &[(TableId, &[u8])]) -> Result<EtcdWrite> {
        check_names(&names)?;
        let mut keys = Vec::with_capacity(prefetch.len());
        for &(tid, key) in prefetch {
            let table = names.get(tid).ok_or_else(|| storage("cannot open table", "unknown table id"))?;
            let mut k = self.inner.table_start(table);
            k.extend_from_slice(key);
            keys.push(k);
        }
        let (existing, revision, fetched) = self.inner.tables_now(&keys)?;
        // Read at the start revision, as `EtcdWrite::current` would have: guarded too.
        let reads = keys.into_iter().zip(fetched).map(|(k, f)| (k, f.map_or((0, None), |(v, rev)| (rev, Some(v)))));
        let n = names.len();
        Ok(EtcdWrite {
            inner: Arc::clone(&self.inner),
            exists: names.iter().map(|name| existing.contains_key(name)).collect(),
            marker_revisions: names.iter().map(|name| existing.get(name).copied().unwrap_or(0)).collect(),
            names,
            revision,
            touched: RefCell::new(vec![false; n]),
            cleared: vec![false; n],
            writes: BTreeMap::new(),
            reads: RefCell::new(reads.collect()),
            scanned: RefCell::new(HashSet::new()),
        })
    }

    fn table_names(&self) -> Result<Vec<String>> {
        let (names, _, _) = self.inner.tables_now(&[])?;
        let mut names: Vec<String> = names.into_keys().collect();
        names.sort();
        Ok(names)
    }
}

/// The bounds of a range as etcd keys `[start, end)`.
fn window(inner: &Inner, table: &str, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> (Vec<u8>, Vec<u8>) {
    let base = inner.table_start(table);
    let with = |k: &[u8], zero: bool| {
        let mut v = base.clone();
        v.extend_from_slice(k);
        if zero {
            v.push(0);
        }
        v
    };
    let start = match lo {
        Bound::Included(k) => with(k, false),
        Bound::Excluded(k) => with(k, true),
        Bound::Unbounded => base.clone(),
    };
    let end = match hi {
        Bound::Included(k) => with(k, true),
        Bound::Excluded(k) => with(k, false),
        Bound::Unbounded => inner.table_end(table),
    };
    (start, end)
}

/// A read transaction at one revision.
pub(crate) struct EtcdRead {
    inner: Arc<Inner>,
    names: Arc<[String]>,
    revision: i64,
    exists: Vec<bool>,
    /// Table lengths counted so far: a snapshot's do not change.
    lengths: RefCell<HashMap<TableId, u64>>,
}

impl EtcdRead {
    fn table(&self, tid: TableId) -> Result<&str> {
        match (self.names.get(tid), self.exists.get(tid)) {
            (Some(name), Some(true)) => Ok(name),
            (Some(name), _) => Err(storage("cannot open table", format!("table `{name}` does not exist"))),
            _ => Err(storage("cannot open table", "unknown table id")),
        }
    }
}

/// The entries of a range: fetched from etcd page by page from either end, merged
/// with the transaction's own writes in the range (a write transaction; none in a
/// read transaction), which win over what etcd holds.
pub(crate) struct EtcdRange<'a> {
    /// Where to fetch from, at which revision; `None`: nothing stored counts (a
    /// table that is missing or that the transaction deleted).
    source: Option<(&'a Inner, i64)>,
    /// What is not fetched yet: `[start, end)`, in etcd keys.
    start: Vec<u8>,
    end: Vec<u8>,
    /// Bytes of the etcd key before the table's key.
    skip: usize,
    exhausted: bool,
    front: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// Fetched from the high end, in descending order.
    back: VecDeque<(Vec<u8>, Vec<u8>)>,
    /// The transaction's writes in the range, ascending: `None` removes the key.
    overlay: VecDeque<(Vec<u8>, Option<Vec<u8>>)>,
}

impl<'a> EtcdRange<'a> {
    /// Fetches the next page from the front (or the back); `false` when nothing is
    /// left to fetch.
    fn fill(&mut self, from_back: bool) -> Result<bool> {
        let Some((inner, revision)) = self.source else { return Ok(false) };
        if self.exhausted || self.start >= self.end {
            self.exhausted = true;
            return Ok(false);
        }
        let page = inner.page(&self.start, &self.end, revision, from_back)?;
        if (page.len() as i64) < PAGE {
            self.exhausted = true;
        }
        let Some((last, _, _)) = page.last() else {
            self.exhausted = true;
            return Ok(false);
        };
        if from_back {
            self.end = last.clone();
        } else {
            self.start = last.clone();
            self.start.push(0);
        }
        let skip = self.skip;
        let strip = |(k, v, _): Fetched| (k[skip..].to_vec(), v);
        if from_back {
            self.back.extend(page.into_iter().map(strip));
        } else {
            self.front.extend(page.into_iter().map(strip));
        }
        Ok(true)
    }

    /// The key of the lowest stored entry not yet taken, fetching as needed.
    fn stored_front(&mut self) -> Result<Option<&[u8]>> {
        while self.front.is_empty() && self.fill(false)? {}
        Ok(self.front.front().or_else(|| self.back.back()).map(|(k, _)| k.as_slice()))
    }

    fn take_stored_front(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        self.front.pop_front().or_else(|| self.back.pop_back())
    }

    /// The key of the highest stored entry not yet taken, fetching as needed.
    fn stored_back(&mut self) -> Result<Option<&[u8]>> {
        while self.back.is_empty() && self.fill(true)? {}
        Ok(self.back.front().or_else(|| self.front.back()).map(|(k, _)| k.as_slice()))
    }

    fn take_stored_back(&mut self) -> Option<(Vec<u8>, Vec<u8>)> {
        self.back.pop_front().or_else(|| self.front.pop_back())
    }

    fn step(&mut self, from_back: bool) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            let stored = if from_back { self.stored_back()? } else { self.stored_front()? }.map(<[u8]>::to_vec);
            let written = if from_back { self.overlay.back() } else { self.overlay.front() }.map(|(k, _)| k.clone());
            let take_written = match (&stored, &written) {
                (None, None) => return Ok(None),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(s), Some(w)) => {
                    if from_back {
                        w >= s
                    } else {
                        w <= s
                    }
                }
            };
            if !take_written {
                return Ok(if from_back { self.take_stored_back() } else { self.take_stored_front() });
            }
            let entry = if from_back { self.overlay.pop_back() } else { self.overlay.pop_front() };
            if stored.is_some() && stored == written {
                // The transaction's write replaces what is stored under that key.
                let _ = if from_back { self.take_stored_back() } else { self.take_stored_front() };
            }
            if let Some((k, Some(v))) = entry {
                return Ok(Some((k, v)));
            }
        }
    }
}

type Entry<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

impl<'a> Iterator for EtcdRange<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step(false) {
            Ok(e) => e.map(|(k, v)| Ok((Cow::Owned(k), Cow::Owned(v)))),
            Err(e) => {
                self.stop();
                Some(Err(e))
            }
        }
    }
}

impl DoubleEndedIterator for EtcdRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self.step(true) {
            Ok(e) => e.map(|(k, v)| Ok((Cow::Owned(k), Cow::Owned(v)))),
            Err(e) => {
                self.stop();
                Some(Err(e))
            }
        }
    }
}

impl EtcdRange<'_> {
    /// Ends the range after an error: nothing more is yielded.
    fn stop(&mut self) {
        self.exhausted = true;
        self.front.clear();
        self.back.clear();
        self.overlay.clear();
    }
}

impl EngineRead for EtcdRead {
    type Value<'a> = Cow<'a, [u8]>;
    type Range<'a> = EtcdRange<'a>;

    fn get(&self, tid: TableId, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>> {
        let table = self.table(tid)?;
        let mut k = self.inner.table_start(table);
        k.extend_from_slice(key);
        Ok(self.inner.get(k, self.revision)?.map(|(v, _)| Cow::Owned(v)))
    }

    fn range<'a>(&'a self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<EtcdRange<'a>> {
        let table = self.table(tid)?;
        let (start, end) = window(&self.inner, table, lo, hi);
        Ok(EtcdRange {
            source: Some((&*self.inner, self.revision)),
            skip: self.inner.table_start(table).len(),
            start,
            end,
            exhausted: false,
            front: VecDeque::new(),
            back: VecDeque::new(),
            overlay: VecDeque::new(),
        })
    }

    /// One count-only request at the snapshot's revision (the planner asks for a
    /// table's length before a scan; counting by pages read the table twice).
    fn len(&self, tid: TableId) -> Result<Option<u64>> {
        if let Some(&n) = self.lengths.borrow().get(&tid) {
            return Ok(Some(n));
        }
        let table = self.table(tid)?;
        let (start, end) = (self.inner.table_start(table), self.inner.table_end(table));
        let n = self.inner.count(start, end, self.revision)?;
        self.lengths.borrow_mut().insert(tid, n);
        Ok(Some(n))
    }
}

/// A key read by a write transaction: its modification revision (0 when absent) and
/// its value, at the start revision.
type Read = (i64, Option<Vec<u8>>);

/// A write transaction: reads at its start revision, writes buffered until commit.
pub(crate) struct EtcdWrite {
    inner: Arc<Inner>,
    names: Arc<[String]>,
    revision: i64,
    /// Tables that existed when the transaction began.
    exists: Vec<bool>,
    /// Their markers' modification revisions then (0: absent). The commit compares
    /// them: a table another commit created or deleted meanwhile is a conflict.
    marker_revisions: Vec<i64>,
    /// Tables the transaction used: created at commit when missing.
    touched: RefCell<Vec<bool>>,
    /// Tables deleted by the transaction: nothing stored before counts.
    cleared: Vec<bool>,
    /// Writes by (table, key): `None` removes.
    writes: BTreeMap<(TableId, Vec<u8>), Option<Vec<u8>>>,
    /// Keys read from etcd: etcd key → (modification revision, 0 when absent; the
    /// value). A key is fetched once per transaction: the value at the start revision
    /// does not change.
    reads: RefCell<HashMap<Vec<u8>, Read>>,
    /// Tables a range was read of.
    scanned: RefCell<HashSet<TableId>>,
}

impl EtcdWrite {
    fn table(&self, tid: TableId) -> Result<&str> {
        let name = self.names.get(tid).ok_or_else(|| storage("cannot open table", "unknown table id"))?;
        if let Some(t) = self.touched.borrow_mut().get_mut(tid) {
            *t = true;
        }
        Ok(name)
    }

    /// The value of `key` in this transaction: its own write, else etcd's at the start
    /// revision (recorded for the commit's compares).
    fn current(&self, tid: TableId, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let table = self.table(tid)?;
        if let Some(w) = self.writes.get(&(tid, key.to_vec())) {
            return Ok(w.clone());
        }
        if self.cleared[tid] {
            return Ok(None);
        }
        let mut k = self.inner.table_start(table);
        k.extend_from_slice(key);
        if let Some((_, value)) = self.reads.borrow().get(&k) {
            return Ok(value.clone());
        }
        if !self.exists[tid] {
            // Absent, and guarded as absent: another transaction may create the table
            // and write this key before this one commits.
            self.reads.borrow_mut().insert(k, (0, None));
            return Ok(None);
        }
        let found = self.inner.get(k.clone(), self.revision)?;
        let (revision, value) = match found {
            Some((v, rev)) => (rev, Some(v)),
            None => (0, None),
        };
        self.reads.borrow_mut().insert(k, (revision, value.clone()));
        Ok(value)
    }
}

impl EtcdWrite {
    /// Uses table `tid`: it is created at commit when missing.
    pub(crate) fn touch(&self, tid: TableId) -> Result<()> {
        self.table(tid).map(drop)
    }
}

impl EngineRead for EtcdWrite {
    type Value<'a> = Cow<'a, [u8]>;
    type Range<'a> = EtcdRange<'a>;

    fn get(&self, tid: TableId, key: &[u8]) -> Result<Option<Cow<'_, [u8]>>> {
        Ok(self.current(tid, key)?.map(Cow::Owned))
    }

    fn range<'a>(&'a self, tid: TableId, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Result<EtcdRange<'a>> {
        let table = self.table(tid)?;
        let stored = !self.cleared[tid] && self.exists[tid];
        if !self.cleared[tid] {
            // Guarded even when the table is missing: its version key is then absent,
            // and a commit that creates the table and writes to it sets one.
            self.scanned.borrow_mut().insert(tid);
        }
        let overlay = self
            .writes
            .range((tid, Vec::new())..)
            .take_while(|((t, _), _)| *t == tid)
            .filter(|((_, k), _)| RangeBounds::<[u8]>::contains(&(lo, hi), k.as_slice()))
            .map(|((_, k), w)| (k.clone(), w.clone()))
            .collect();
        let (start, end) = window(&self.inner, table, lo, hi);
        Ok(EtcdRange {
            source: stored.then_some((&*self.inner, self.revision)),
            skip: self.inner.table_start(table).len(),
            start,
            end,
            exhausted: !stored,
            front: VecDeque::new(),
            back: VecDeque::new(),
            overlay,
        })
    }

    fn len(&self, _tid: TableId) -> Result<Option<u64>> {
        Ok(None)
    }
}

impl EngineWrite for EtcdWrite {
    fn put(&mut self, tid: TableId, key: &[u8], value: &[u8], replaced: &mut dyn FnMut(Option<&[u8]>)) -> Result<()> {
        let old = self.current(tid, key)?;
        replaced(old.as_deref());
        self.writes.insert((tid, key.to_vec()), Some(value.to_vec()));
        Ok(())
    }

    fn remove(&mut self, tid: TableId, key: &[u8], removed: &mut dyn FnMut(&[u8])) -> Result<()> {
        if let Some(old) = self.current(tid, key)? {
            removed(&old);
            self.writes.insert((tid, key.to_vec()), None);
        }
        Ok(())
    }

    fn delete_table(&mut self, tid: TableId) -> Result<bool> {
        if tid >= self.names.len() {
            return Err(storage("cannot delete table", "unknown table id"));
        }
        // A table used by this transaction exists (using one creates it), as on redb.
        let mine: Vec<_> = self
            .writes
            .range((tid, Vec::new())..)
            .take_while(|((t, _), _)| *t == tid)
            .map(|(k, _)| k.clone())
            .collect();
        let existed = (self.exists[tid] && !self.cleared[tid]) || !mine.is_empty() || self.touched.borrow()[tid];
        self.cleared[tid] = true;
        let keys = mine;
        for k in keys {
            self.writes.remove(&k);
        }
        if let Some(t) = self.touched.borrow_mut().get_mut(tid) {
            *t = false;
        }
        Ok(existed)
    }

    fn commit(self, _durability: Durability) -> Result<()> {
        // etcd commits are durable once a majority has them: there is no weaker mode.
        let inner = &self.inner;
        let touched = self.touched.borrow();
        let mut ops = Vec::new();
        let mut written: HashSet<TableId> = HashSet::new();
        // Tables whose existence this commit relies on: their markers must be as they
        // were at the start (a table another commit created or deleted meanwhile is
        // a conflict, never a row without its table).
        let mut relied_on: Vec<TableId> = Vec::new();
        for (tid, name) in self.names.iter().enumerate() {
            let mine: Vec<&Vec<u8>> = self
                .writes
                .range((tid, Vec::new())..)
                .take_while(|((t, _), _)| *t == tid)
                .map(|((_, k), _)| k)
                .collect();
            let used = touched[tid] || !mine.is_empty();
            if used || self.cleared[tid] {
                relied_on.push(tid);
            }
            if self.cleared[tid] {
                // Everything stored in the table goes, whenever it was written: the
                // gaps between this transaction's own keys are deleted as ranges
                // (etcd refuses a put inside a range the same transaction deletes).
                let mut from = inner.table_start(name);
                for key in &mine {
                    let mut at = inner.table_start(name);
                    at.extend_from_slice(key);
                    if from < at {
                        ops.push(TxnOp::delete(
                            from.clone(),
                            Some(etcd_client::DeleteOptions::new().with_range(at.clone())),
                        ));
                    }
                    from = at;
                    from.push(0);
                }
                ops.push(TxnOp::delete(
                    from,
                    Some(etcd_client::DeleteOptions::new().with_range(inner.table_end(name))),
                ));
                if !used && self.exists[tid] {
                    ops.push(TxnOp::delete(inner.marker(name), None));
                }
                written.insert(tid);
            }
            if used && !self.exists[tid] {
                ops.push(TxnOp::put(inner.marker(name), Vec::<u8>::new(), None));
            }
        }
        for ((tid, key), w) in &self.writes {
            let mut k = inner.table_start(&self.names[*tid]);
            k.extend_from_slice(key);
            ops.push(match w {
                Some(v) => TxnOp::put(k, v.clone(), None),
                None => TxnOp::delete(k, None),
            });
            written.insert(*tid);
        }
        if ops.is_empty() {
            return Ok(());
        }
        for tid in &written {
            ops.push(TxnOp::put(inner.version(&self.names[*tid]), Vec::<u8>::new(), None));
        }
        let mut compares: Vec<Compare> = self
            .reads
            .borrow()
            .iter()
            .map(|(k, (rev, _))| Compare::mod_revision(k.clone(), CompareOp::Equal, *rev))
            .collect();
        for tid in self.scanned.borrow().iter() {
            compares.push(Compare::mod_revision(inner.version(&self.names[*tid]), CompareOp::Less, self.revision + 1));
        }
        for tid in relied_on {
            compares.push(Compare::mod_revision(
                inner.marker(&self.names[tid]),
                CompareOp::Equal,
                self.marker_revisions[tid],
            ));
        }
        let txn = Txn::new().when(compares).and_then(ops);
        let kv = inner.client.kv_client();
        let resp = inner.call("commit failed", false, || {
            let (mut kv, txn) = (kv.clone(), txn.clone());
            async move { kv.txn(txn).await }
        })?;
        if resp.succeeded() {
            Ok(())
        } else {
            Err(Error::Conflict {
                reason: format!(
                    "another commit changed what this transaction read since etcd revision {}",
                    self.revision
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EtcdEngine;

    /// The engine owns a tokio runtime. Dropping a runtime blocks, which tokio refuses
    /// inside an async context: a `Db` dropped at the end of an async function panicked.
    #[test]
    fn an_engine_dropped_inside_async_code_does_not_panic() {
        // The client connects lazily: no server is needed to build or drop one.
        let engine = EtcdEngine::connect(&["http://127.0.0.1:1".to_string()], "p/").expect("a lazy client");
        let outer = tokio::runtime::Builder::new_current_thread().build().unwrap();
        outer.block_on(async move { drop(engine) });
    }
}
