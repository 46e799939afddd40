//! Drift on etcd beside raw `etcd-client` calls doing the same work by hand, and beside
//! Drift on redb. The binary starts its own one-member etcd on 127.0.0.1 in a temp dir
//! (`etcd` on PATH), loads N users in batches of B rows per transaction (B = 1, 10, 100),
//! then runs gets by key, gets by unique email, a full scan, an index range by age and
//! updates of the indexed age. Every arm's answers are checked against the same expected
//! values; a mismatch exits non-zero. Prints a markdown table (time per op, ratios, etcd
//! requests per op) and the loopback round trip (a trivial etcd get, median of 1,000).
//!
//! `cargo run --release -p drift-bench --features etcd --bin drift-bench-etcd -- --n 10000`

#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use drift::prelude::*;
use etcd_client::{Client, Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp};
use serde::{Deserialize, Serialize};

type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
/// Opens a fresh database for a tag.
type Opener = Box<dyn Fn(&str) -> BoxResult<Db>>;
/// A value and its modification revision.
type Versioned = Option<(Vec<u8>, i64)>;
/// Keys and values.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Parser, Debug)]
#[command(about = "Drift on etcd vs raw etcd-client calls vs Drift on redb")]
struct Cli {
    /// Users loaded (ids 1..=n) by the B = 100 run, which the reads and updates then use.
    #[arg(long, default_value_t = 10_000)]
    n: u64,
    /// Rows loaded by the B = 1 and B = 10 runs (default: n).
    #[arg(long)]
    small_batch_rows: Option<u64>,
    /// Gets by key, and gets by email.
    #[arg(long, default_value_t = 1_000)]
    gets: u64,
    /// Updates of the indexed age, in batches of `update_batch` per transaction.
    #[arg(long, default_value_t = 1_000)]
    updates: u64,
    #[arg(long, default_value_t = 10)]
    update_batch: usize,
    /// Timed runs of each read workload; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

const MIN_AGE: u32 = 18;
const AGES: u32 = 63;
/// The index range: `RANGE.0 <= age <= RANGE.1`.
const RANGE: (u32, u32) = (30, 35);
/// Entries per range request of the raw arm: the page size of Drift's etcd engine.
const PAGE: i64 = 512;
const BATCHES: [usize; 3] = [1, 10, 100];

// ---------------------------------------------------------------------------------------
// The data model

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct RawRow {
    email: String,
    age: u32,
    name: String,
    bio: String,
}

fn email_of(id: u64) -> String {
    format!("user{id:07}@example.com")
}

fn row(id: u64) -> RawRow {
    let h = mix(id);
    let bio: String = (0..80).map(|i| char::from(b'a' + ((h >> (i % 60)) as u8 + i as u8) % 26)).collect();
    RawRow { email: email_of(id), age: MIN_AGE + (h % u64::from(AGES)) as u32, name: format!("name-{id}"), bio }
}

/// The new age of an updated user: always another one.
fn new_age(id: u64, old: u32) -> u32 {
    MIN_AGE + (old - MIN_AGE + 1 + (id % 7) as u32) % AGES
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Tally {
    rows: u64,
    age_sum: u64,
    id_sum: u64,
}

impl Tally {
    fn add(&mut self, id: u64, age: u32) {
        self.rows += 1;
        self.age_sum += u64::from(age);
        self.id_sum += id;
    }
}

fn expected_scan(ages: &[u32]) -> Tally {
    let mut t = Tally::default();
    for (i, &a) in ages.iter().enumerate() {
        t.add(i as u64 + 1, a);
    }
    t
}

fn expected_range(ages: &[u32]) -> Tally {
    let mut t = Tally::default();
    for (i, &a) in ages.iter().enumerate() {
        if (RANGE.0..=RANGE.1).contains(&a) {
            t.add(i as u64 + 1, a);
        }
    }
    t
}

fn expected_gets(ages: &[u32], ids: &[u64]) -> Tally {
    let mut t = Tally::default();
    for &id in ids {
        if let Some(&a) = ages.get((id as usize).wrapping_sub(1)) {
            t.add(id, a);
        }
    }
    t
}

// ---------------------------------------------------------------------------------------
// The arms

trait Arm {
    /// A fresh, empty database for one load run.
    fn fresh(&mut self, tag: &str) -> BoxResult<()>;
    fn insert(&mut self, rows: &[(u64, RawRow)], batch: usize) -> BoxResult<()>;
    fn get_ids(&mut self, ids: &[u64]) -> BoxResult<Tally>;
    fn get_emails(&mut self, emails: &[String]) -> BoxResult<Tally>;
    fn scan(&mut self) -> BoxResult<Tally>;
    fn age_range(&mut self, lo: u32, hi: u32) -> BoxResult<Tally>;
    /// Returns how many users were found and updated.
    fn update_ages(&mut self, updates: &[(u64, u32)], batch: usize) -> BoxResult<u64>;
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "users")]
pub struct User {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub age: u32,
    pub name: String,
    pub bio: String,
}

/// Drift through its public API, on etcd or on redb (cache off on both: the etcd engine
/// always runs without it).
struct DriftArm {
    open: Opener,
    db: Option<Db>,
}

impl DriftArm {
    fn db(&self) -> BoxResult<&Db> {
        self.db.as_ref().ok_or_else(|| "no database opened".into())
    }
}

impl Arm for DriftArm {
    fn fresh(&mut self, tag: &str) -> BoxResult<()> {
        self.db = None;
        self.db = Some((self.open)(tag)?);
        Ok(())
    }

    fn insert(&mut self, rows: &[(u64, RawRow)], batch: usize) -> BoxResult<()> {
        let db = self.db()?;
        for chunk in rows.chunks(batch) {
            let users: Vec<User> = chunk
                .iter()
                .map(|(id, r)| User {
                    id: *id,
                    email: r.email.clone(),
                    age: r.age,
                    name: r.name.clone(),
                    bio: r.bio.clone(),
                })
                .collect();
            db.write(|tx| {
                for u in &users {
                    tx.insert(u)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    fn get_ids(&mut self, ids: &[u64]) -> BoxResult<Tally> {
        Ok(self.db()?.read(|tx| {
            let mut t = Tally::default();
            for id in ids {
                if let Some(u) = tx.get::<User>(id)? {
                    t.add(u.id, u.age);
                }
            }
            Ok(t)
        })?)
    }

    fn get_emails(&mut self, emails: &[String]) -> BoxResult<Tally> {
        Ok(self.db()?.read(|tx| {
            let mut t = Tally::default();
            for e in emails {
                if let Some(u) = tx.get_by::<User, _>(User::EMAIL, e.as_str())? {
                    t.add(u.id, u.age);
                }
            }
            Ok(t)
        })?)
    }

    fn scan(&mut self) -> BoxResult<Tally> {
        Ok(self.db()?.read(|tx| {
            let mut t = Tally::default();
            for u in tx.query::<User>().iter()? {
                let u = u?;
                t.add(u.id, u.age);
            }
            Ok(t)
        })?)
    }

    fn age_range(&mut self, lo: u32, hi: u32) -> BoxResult<Tally> {
        Ok(self.db()?.read(|tx| {
            let mut t = Tally::default();
            for u in tx.query::<User>().filter(User::AGE.between(lo, hi)).order_by(User::AGE.asc()).iter()? {
                let u = u?;
                t.add(u.id, u.age);
            }
            Ok(t)
        })?)
    }

    fn update_ages(&mut self, updates: &[(u64, u32)], batch: usize) -> BoxResult<u64> {
        let db = self.db()?;
        let mut found = 0;
        for chunk in updates.chunks(batch) {
            found += db.write(|tx| {
                let mut found = 0;
                for &(id, age) in chunk {
                    if let Some(mut u) = tx.get::<User>(&id)? {
                        u.age = age;
                        tx.update(&u)?;
                        found += 1;
                    }
                }
                Ok(found)
            })?;
        }
        Ok(found)
    }
}

/// The same work through `etcd-client` by hand, under a prefix `P`:
/// - `P u/<id u64 BE>` → the row (postcard);
/// - `P e/<email>` → the id (the unique index);
/// - `P a/<age u32 BE><id u64 BE>` → empty (the age index).
///
/// A batch of inserts is one txn: `when` every row key and email key is absent, `then`
/// three puts per row. Reads take the revision of their first answer and read the rest at
/// it (a snapshot, without the extra request Drift spends to start one). An update reads
/// each row, then commits one txn per batch guarded by the rows' modification revisions.
struct RawArm {
    rt: tokio::runtime::Runtime,
    kv: KvClient,
    base: String,
    prefix: Vec<u8>,
}

fn id_bytes(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

fn decode_id(b: &[u8]) -> BoxResult<u64> {
    Ok(u64::from_be_bytes(b.try_into()?))
}

impl RawArm {
    fn key(&self, kind: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + kind.len() + rest.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(kind);
        k.extend_from_slice(rest);
        k
    }

    fn row_key(&self, id: u64) -> Vec<u8> {
        self.key(b"u/", &id_bytes(id))
    }

    fn email_key(&self, email: &str) -> Vec<u8> {
        self.key(b"e/", email.as_bytes())
    }

    fn age_key(&self, age: u32, id: u64) -> Vec<u8> {
        let mut rest = age.to_be_bytes().to_vec();
        rest.extend_from_slice(&id_bytes(id));
        self.key(b"a/", &rest)
    }

    /// One key, at `revision` (0: the latest). Returns the value, its modification
    /// revision, and the revision the answer was read at.
    fn get(&self, key: Vec<u8>, revision: i64) -> BoxResult<(Versioned, i64)> {
        let mut kv = self.kv.clone();
        let resp = self.rt.block_on(kv.get(key, Some(GetOptions::new().with_revision(revision))))?;
        let at = resp.header().map_or(0, |h| h.revision());
        Ok((resp.kvs().first().map(|kv| (kv.value().to_vec(), kv.mod_revision())), at))
    }

    /// Every entry of `[start, end)`, `PAGE` per request, at one revision.
    fn range(&self, start: Vec<u8>, end: Vec<u8>, keys_only: bool) -> BoxResult<(Entries, i64)> {
        let mut out = Vec::new();
        let mut revision = 0;
        let mut from = start;
        loop {
            let mut options = GetOptions::new().with_range(end.clone()).with_limit(PAGE).with_revision(revision);
            if keys_only {
                options = options.with_keys_only();
            }
            let mut kv = self.kv.clone();
            let resp = self.rt.block_on(kv.get(from.clone(), Some(options)))?;
            if revision == 0 {
                revision = resp.header().map_or(0, |h| h.revision());
            }
            let more = resp.more();
            for e in resp.kvs() {
                out.push((e.key().to_vec(), e.value().to_vec()));
            }
            match out.last() {
                Some((last, _)) if more => {
                    from = last.clone();
                    from.push(0);
                }
                _ => return Ok((out, revision)),
            }
        }
    }

    fn get_row(&self, id: u64, revision: i64) -> BoxResult<(Option<(RawRow, i64)>, i64)> {
        let (found, at) = self.get(self.row_key(id), revision)?;
        match found {
            Some((v, m)) => Ok((Some((postcard::from_bytes(&v)?, m)), at)),
            None => Ok((None, at)),
        }
    }

    fn txn(&self, txn: Txn) -> BoxResult<bool> {
        let mut kv = self.kv.clone();
        Ok(self.rt.block_on(kv.txn(txn))?.succeeded())
    }
}

impl Arm for RawArm {
    fn fresh(&mut self, tag: &str) -> BoxResult<()> {
        self.prefix = format!("{}{tag}/", self.base).into_bytes();
        Ok(())
    }

    fn insert(&mut self, rows: &[(u64, RawRow)], batch: usize) -> BoxResult<()> {
        for chunk in rows.chunks(batch) {
            let mut when = Vec::with_capacity(2 * chunk.len());
            let mut then = Vec::with_capacity(3 * chunk.len());
            for (id, r) in chunk {
                let (row_key, email_key) = (self.row_key(*id), self.email_key(&r.email));
                when.push(Compare::version(row_key.clone(), CompareOp::Equal, 0));
                when.push(Compare::version(email_key.clone(), CompareOp::Equal, 0));
                then.push(TxnOp::put(row_key, postcard::to_allocvec(r)?, None));
                then.push(TxnOp::put(email_key, id_bytes(*id).to_vec(), None));
                then.push(TxnOp::put(self.age_key(r.age, *id), Vec::new(), None));
            }
            if !self.txn(Txn::new().when(when).and_then(then))? {
                return Err("raw insert: an id or an email is taken".into());
            }
        }
        Ok(())
    }

    fn get_ids(&mut self, ids: &[u64]) -> BoxResult<Tally> {
        let mut t = Tally::default();
        let mut revision = 0;
        for &id in ids {
            let (found, at) = self.get_row(id, revision)?;
            revision = at;
            if let Some((r, _)) = found {
                t.add(id, r.age);
            }
        }
        Ok(t)
    }

    fn get_emails(&mut self, emails: &[String]) -> BoxResult<Tally> {
        let mut t = Tally::default();
        let mut revision = 0;
        for e in emails {
            let (found, at) = self.get(self.email_key(e), revision)?;
            revision = at;
            if let Some((v, _)) = found {
                let id = decode_id(&v)?;
                let (r, _) = self.get_row(id, revision)?;
                let (r, _) = r.ok_or("raw: an email index entry without its row")?;
                t.add(id, r.age);
            }
        }
        Ok(t)
    }

    fn scan(&mut self) -> BoxResult<Tally> {
        let (entries, _) = self.range(self.key(b"u/", &[]), self.key(b"u0", &[]), false)?;
        let skip = self.prefix.len() + 2;
        let mut t = Tally::default();
        for (k, v) in entries {
            let r: RawRow = postcard::from_bytes(&v)?;
            t.add(decode_id(&k[skip..])?, r.age);
        }
        Ok(t)
    }

    fn age_range(&mut self, lo: u32, hi: u32) -> BoxResult<Tally> {
        let start = self.key(b"a/", &lo.to_be_bytes());
        let end = self.key(b"a/", &(hi + 1).to_be_bytes());
        let (entries, revision) = self.range(start, end, true)?;
        let skip = self.prefix.len() + 2 + 4;
        let mut t = Tally::default();
        for (k, _) in entries {
            let id = decode_id(&k[skip..])?;
            let (r, _) = self.get_row(id, revision)?;
            let (r, _) = r.ok_or("raw: an age index entry without its row")?;
            t.add(id, r.age);
        }
        Ok(t)
    }

    fn update_ages(&mut self, updates: &[(u64, u32)], batch: usize) -> BoxResult<u64> {
        let mut found = 0;
        for chunk in updates.chunks(batch) {
            let mut when = Vec::new();
            let mut then = Vec::new();
            let mut revision = 0;
            for &(id, age) in chunk {
                let (r, at) = self.get_row(id, revision)?;
                revision = at;
                let Some((mut r, modified)) = r else { continue };
                let key = self.row_key(id);
                when.push(Compare::mod_revision(key.clone(), CompareOp::Equal, modified));
                then.push(TxnOp::delete(self.age_key(r.age, id), None));
                then.push(TxnOp::put(self.age_key(age, id), Vec::new(), None));
                r.age = age;
                then.push(TxnOp::put(key, postcard::to_allocvec(&r)?, None));
                found += 1;
            }
            if !self.txn(Txn::new().when(when).and_then(then))? {
                return Err("raw update: a row changed under the batch".into());
            }
        }
        Ok(found)
    }
}

// ---------------------------------------------------------------------------------------
// etcd

fn free_port() -> BoxResult<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A one-member etcd on loopback in a temp dir; killed on drop.
struct Server {
    child: Child,
    _dir: tempfile::TempDir,
    endpoint: String,
    client_port: u16,
}

impl Server {
    fn start() -> BoxResult<Server> {
        let dir = tempfile::tempdir()?;
        let (client, peer) = (free_port()?, free_port()?);
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "drift-bench", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("drift-bench={peer_url}")])
            .args(["--max-txn-ops", "100000", "--max-request-bytes", "33554432"])
            .args(["--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start etcd (Debian: apt-get install etcd-server): {e}"))?;
        Ok(Server { child, _dir: dir, endpoint, client_port: client })
    }

    /// The KV requests etcd has answered so far (`grpc_server_handled_total` of the KV
    /// service, from its metrics endpoint).
    fn kv_requests(&self) -> BoxResult<u64> {
        let mut s = TcpStream::connect(("127.0.0.1", self.client_port))?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        let mut total = 0.0;
        for line in body.lines() {
            if line.starts_with("grpc_server_handled_total{") && line.contains("grpc_service=\"etcdserverpb.KV\"") {
                if let Some(v) = line.rsplit(' ').next() {
                    total += v.parse::<f64>()?;
                }
            }
        }
        Ok(total as u64)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect_raw(endpoint: &str) -> BoxResult<(tokio::runtime::Runtime, KvClient)> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let attempt: BoxResult<KvClient> = rt.block_on(async {
            let client = Client::connect([endpoint], None).await?;
            let mut kv = client.kv_client();
            kv.get("probe", None).await?;
            Ok(kv)
        });
        match attempt {
            Ok(kv) => return Ok((rt, kv)),
            Err(e) if Instant::now() > deadline => return Err(format!("etcd did not come up: {e}").into()),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Measuring

const ARMS: [&str; 3] = ["drift-etcd", "raw-etcd", "drift-redb"];

struct Line {
    workload: String,
    unit: &'static str,
    /// Seconds per unit, per arm.
    per_op: [f64; 3],
    /// etcd KV requests per unit: drift-etcd, raw-etcd.
    requests: [f64; 2],
}

struct Bench<'a> {
    server: &'a Server,
    arms: [Box<dyn Arm>; 3],
    lines: Vec<Line>,
    failures: Vec<String>,
}

impl Bench<'_> {
    /// Runs `op` on every arm `runs` times; reports the median time over `units`, and
    /// checks each answer with `check`.
    fn measure<T: std::fmt::Debug>(
        &mut self,
        workload: &str,
        unit: &'static str,
        units: u64,
        runs: usize,
        mut op: impl FnMut(&mut dyn Arm) -> BoxResult<T>,
        check: impl Fn(&T) -> bool,
    ) -> BoxResult<()> {
        let mut per_op = [0.0; 3];
        let mut requests = [0.0; 2];
        for (a, arm) in self.arms.iter_mut().enumerate() {
            let before = if a < 2 { self.server.kv_requests()? } else { 0 };
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                let t = Instant::now();
                let answer = op(arm.as_mut())?;
                times.push(t.elapsed().as_secs_f64());
                if !check(&answer) {
                    self.failures.push(format!("{workload}: {} answered {answer:?}", ARMS[a]));
                }
            }
            if a < 2 {
                let n = self.server.kv_requests()? - before;
                requests[a] = n as f64 / (runs as f64 * units as f64);
            }
            times.sort_by(f64::total_cmp);
            per_op[a] = times[times.len() / 2] / units as f64;
        }
        eprintln!("{workload}: done");
        self.lines.push(Line { workload: workload.to_string(), unit, per_op, requests });
        Ok(())
    }
}

impl Bench<'_> {
    /// Checks an untimed answer of every arm.
    fn verify<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        mut op: impl FnMut(&mut dyn Arm) -> BoxResult<T>,
        check: impl Fn(&T) -> bool,
    ) -> BoxResult<()> {
        for (a, arm) in self.arms.iter_mut().enumerate() {
            let answer = op(arm.as_mut())?;
            if !check(&answer) {
                self.failures.push(format!("{what}: {} answered {answer:?}", ARMS[a]));
            }
        }
        Ok(())
    }
}

fn fmt_time(s: f64) -> String {
    if s >= 1e-3 { format!("{:.2} ms", s * 1e3) } else { format!("{:.1} µs", s * 1e6) }
}

fn fmt_requests(r: f64) -> String {
    if (r - r.round()).abs() < 0.005 { format!("{r:.0}") } else { format!("{r:.2}") }
}

/// The loopback round trip: a trivial get, median of 1,000 (after 100 to warm up).
fn round_trip(rt: &tokio::runtime::Runtime, kv: &KvClient) -> BoxResult<f64> {
    let mut probe = kv.clone();
    let mut times = Vec::with_capacity(1000);
    for i in 0..1100 {
        let t = Instant::now();
        rt.block_on(probe.get("rt-probe", None))?;
        if i >= 100 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn fmt_ratio(r: f64) -> String {
    if r < 10.0 { format!("{r:.2}×") } else { format!("{r:.0}×") }
}

fn run(cli: &Cli) -> BoxResult<Vec<String>> {
    let server = Server::start()?;
    let (rt, kv) = connect_raw(&server.endpoint)?;

    // The probe has a connection of its own: the raw arm's moves into the arm.
    let (probe_rt, probe_kv) = connect_raw(&server.endpoint)?;
    let round_trip_start = round_trip(&probe_rt, &probe_kv)?;
    let redb_dir = tempfile::tempdir()?;
    let endpoint = server.endpoint.clone();
    let drift_etcd = DriftArm {
        open: Box::new(move |tag| {
            Ok(Db::builder().entity::<User>().etcd([endpoint.clone()], &format!("drift/{tag}/"))?)
        }),
        db: None,
    };
    let redb_path = redb_dir.path().to_path_buf();
    let drift_redb = DriftArm {
        open: Box::new(move |tag| {
            let path: &Path = &redb_path.join(format!("{tag}.redb"));
            Ok(Db::builder().entity::<User>().cache_capacity(0).open(path)?)
        }),
        db: None,
    };
    let raw = RawArm { rt, kv, base: "raw/".to_string(), prefix: Vec::new() };
    let mut bench = Bench {
        server: &server,
        arms: [Box::new(drift_etcd), Box::new(raw), Box::new(drift_redb)],
        lines: Vec::new(),
        failures: Vec::new(),
    };

    let n = cli.n;
    let small = cli.small_batch_rows.unwrap_or(n).min(n);
    let rows: Vec<(u64, RawRow)> = (1..=n).map(|id| (id, row(id))).collect();
    let mut ages: Vec<u32> = rows.iter().map(|(_, r)| r.age).collect();

    // Loads: a fresh database per batch size; the last (B = 100, n rows) stays.
    for b in BATCHES {
        let count = if b == *BATCHES.last().unwrap_or(&b) { n } else { small };
        let part = &rows[..count as usize];
        let expect = expected_scan(&ages[..count as usize]);
        for arm in &mut bench.arms {
            arm.fresh(&format!("b{b}"))?;
        }
        bench.measure(
            &format!("bulk insert, B = {b} rows per txn ({count} rows)"),
            "row",
            count,
            1,
            |arm| arm.insert(part, b),
            |()| true,
        )?;
        bench.verify("the load", |arm| arm.scan(), |t| *t == expect)?;
    }
    let scan_expect = expected_scan(&ages);
    bench.measure("full scan, sum of age", "scan", 1, cli.runs, |arm| arm.scan(), |t| *t == scan_expect)?;

    let gets = cli.gets;
    // About one id in eleven is past n: a miss.
    let ids: Vec<u64> = (0..gets).map(|i| mix(i ^ 0xA5A5) % (n + n / 10) + 1).collect();
    let expect = expected_gets(&ages, &ids);
    bench.measure(
        &format!("get by key ({gets} in one read txn)"),
        "get",
        gets,
        cli.runs,
        |arm| arm.get_ids(&ids),
        |t| *t == expect,
    )?;

    let email_ids: Vec<u64> = (0..gets).map(|i| mix(i ^ 0x5A5A) % (n + n / 10) + 1).collect();
    let emails: Vec<String> = email_ids.iter().map(|&id| email_of(id)).collect();
    let expect = expected_gets(&ages, &email_ids);
    bench.measure(
        &format!("get by unique email ({gets} in one read txn)"),
        "get",
        gets,
        cli.runs,
        |arm| arm.get_emails(&emails),
        |t| *t == expect,
    )?;

    let range_expect = expected_range(&ages);
    bench.measure(
        &format!("index range, {} <= age <= {} ({} rows)", RANGE.0, RANGE.1, range_expect.rows),
        "query",
        1,
        cli.runs,
        |arm| arm.age_range(RANGE.0, RANGE.1),
        |t| *t == range_expect,
    )?;

    let updates: Vec<(u64, u32)> = (0..cli.updates.min(n))
        .map(|i| {
            let id = i * n / cli.updates.min(n) + 1;
            (id, new_age(id, ages[id as usize - 1]))
        })
        .collect();
    let want = updates.len() as u64;
    bench.measure(
        &format!("update indexed age ({want}, {} per txn)", cli.update_batch),
        "row",
        want,
        1,
        |arm| arm.update_ages(&updates, cli.update_batch),
        |&found| found == want,
    )?;
    for &(id, age) in &updates {
        ages[id as usize - 1] = age;
    }
    // After the updates: the rows and the age index agree with the model (untimed).
    let (scan_expect, range_expect) = (expected_scan(&ages), expected_range(&ages));
    bench.verify("scan after the updates", |arm| arm.scan(), |t| *t == scan_expect)?;
    bench.verify("age range after the updates", |arm| arm.age_range(RANGE.0, RANGE.1), |t| *t == range_expect)?;

    let round_trip_end = round_trip(&probe_rt, &probe_kv)?;
    let round_trip = (round_trip_start + round_trip_end) / 2.0;
    let mut out = vec![
        format!(
            "{n} users; etcd {} (one member, loopback, fsync on). Loopback round trip (a trivial etcd get, median of 1,000): {} before the workloads, {} after; \"in round trips\" divides by their mean, {}.",
            etcd_version(),
            fmt_time(round_trip_start),
            fmt_time(round_trip_end),
            fmt_time(round_trip)
        ),
        String::new(),
        "| workload | unit | drift-etcd | raw-etcd | drift-redb | drift-etcd / raw-etcd | drift-etcd / drift-redb | drift-etcd in round trips | etcd requests per unit (drift / raw) |".to_string(),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|".to_string(),
    ];
    for l in &bench.lines {
        out.push(format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {} / {} |",
            l.workload,
            l.unit,
            fmt_time(l.per_op[0]),
            fmt_time(l.per_op[1]),
            fmt_time(l.per_op[2]),
            fmt_ratio(l.per_op[0] / l.per_op[1]),
            fmt_ratio(l.per_op[0] / l.per_op[2]),
            l.per_op[0] / round_trip,
            fmt_requests(l.requests[0]),
            fmt_requests(l.requests[1]),
        ));
    }
    if !bench.failures.is_empty() {
        return Err(format!("answers differ from the expected values:\n{}", bench.failures.join("\n")).into());
    }
    Ok(out)
}

fn etcd_version() -> String {
    Command::new("etcd")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(|l| l.trim_start_matches("etcd Version: ").to_string()))
        .unwrap_or_else(|| "?".to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("drift-bench-etcd: {e}");
            ExitCode::FAILURE
        }
    }
}
