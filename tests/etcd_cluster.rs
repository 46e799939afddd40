#![cfg(feature = "etcd")]
//! Drift on a three-member etcd cluster on 127.0.0.1 (processes this test starts, in
//! a temp dir, and stops), with the leader killed (SIGKILL) during a write workload.
//!
//! Each commit inserts a batch (a unique label) and its two items (`belongs_to` with
//! `on_delete = cascade`), and adds one to a counter row, recording the counter's new
//! value in the batch. Afterwards every acknowledged commit is there with all its rows,
//! no commit is half there, the counter equals the number of batches, and the two
//! surviving members go on serving reads and writes.
//!
//! ```sh
//! cargo test --features etcd --test etcd_cluster -- --nocapture   # needs `etcd` on PATH
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use drift::ErrorKind;
use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Batch {
    /// The commit's number, chosen by its writer.
    #[drift(primary_key)]
    pub id: u64,
    #[drift(unique)]
    pub label: String,
    /// The counter's value this commit set: 1, 2, 3, ... in commit order.
    pub counter: u64,
    #[drift(has_many(Item, foreign_key = batch_id))]
    pub items: HasMany<Item>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Item {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(index)]
    pub batch_id: u64,
    /// 0 or 1: each batch has one of each.
    pub slot: u32,
    #[drift(belongs_to(Batch, key = batch_id, on_delete = cascade))]
    pub batch: BelongsTo<Batch>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Counter {
    #[drift(primary_key)]
    pub id: u64,
    pub value: u64,
}

const COUNTER: u64 = 1;
const PREFIX: &str = "cluster/";
const WRITERS: u64 = 2;
/// Commits acknowledged before the kill, and after it.
const BEFORE_KILL: usize = 20;
const AFTER_KILL: usize = 20;
/// Runs of one commit before its writer gives up on it.
const RUNS: u32 = 6;

fn builder() -> drift::DbBuilder {
    Db::builder().entity::<Batch>().entity::<Item>().entity::<Counter>()
}

fn free_ports(n: usize) -> Vec<u16> {
    // Held together, so that the ports differ.
    let listeners: Vec<_> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

struct Member {
    /// `None` once killed.
    child: Option<Child>,
    endpoint: String,
}

/// Three etcd members on 127.0.0.1, each with a data dir in one temp dir; every
/// running member is killed when this is dropped, on every path.
struct Cluster {
    members: Vec<Member>,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let ports = free_ports(6);
        let peer = |i: usize| format!("http://127.0.0.1:{}", ports[2 * i + 1]);
        let initial: Vec<String> = (0..3).map(|i| format!("m{i}={}", peer(i))).collect();
        let token = format!("drift-{}-{}", std::process::id(), ports[0]);
        let mut cluster = Cluster { members: Vec::new(), dir };
        for i in 0..3 {
            let endpoint = format!("http://127.0.0.1:{}", ports[2 * i]);
            let log = std::fs::File::create(cluster.dir.path().join(format!("m{i}.log"))).unwrap();
            let child = Command::new("etcd")
                .args(["--name", &format!("m{i}"), "--data-dir"])
                .arg(cluster.dir.path().join(format!("m{i}")))
                .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
                .args(["--listen-peer-urls", &peer(i), "--initial-advertise-peer-urls", &peer(i)])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-state", "new", "--initial-cluster-token", &token])
                .args(["--log-level", "error"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("etcd starts (Debian: apt-get install etcd-server)");
            cluster.members.push(Member { child: Some(child), endpoint });
        }
        cluster
    }

    fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.endpoint.clone()).collect()
    }

    fn survivors(&self) -> Vec<String> {
        self.members.iter().filter(|m| m.child.is_some()).map(|m| m.endpoint.clone()).collect()
    }

    /// Opens the test's database on `endpoints`, waiting for the cluster to elect a
    /// leader and answer.
    fn open(&self, endpoints: &[String]) -> Db {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match builder().etcd(endpoints.to_vec(), PREFIX) {
                Ok(db) => return db,
                Err(e) => assert!(Instant::now() < deadline, "the cluster did not come up: {e}\n{}", self.logs()),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The member that says it is the leader, polled until exactly one does.
    fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let leaders: Vec<usize> = (0..self.members.len())
                .filter(|&i| self.members[i].child.is_some() && is_leader(&self.members[i].endpoint))
                .collect();
            if let [one] = leaders[..] {
                return one;
            }
            assert!(Instant::now() < deadline, "no single leader: {leaders:?}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self, i: usize) {
        let mut child = self.members[i].child.take().expect("a running member");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    fn logs(&self) -> String {
        (0..self.members.len())
            .map(|i| {
                let log = std::fs::read_to_string(self.dir.path().join(format!("m{i}.log"))).unwrap_or_default();
                format!("--- m{i}:\n{log}")
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.members.iter_mut().filter_map(|m| m.child.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the member at `endpoint` reports itself leader (etcd's `/metrics`).
fn is_leader(endpoint: &str) -> bool {
    let addr = endpoint.trim_start_matches("http://");
    let metrics = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        Ok(text)
    };
    metrics().is_ok_and(|text| text.lines().any(|l| l.trim() == "etcd_server_is_leader 1"))
}

/// Sets the flag when dropped, so the workload's threads stop on every path.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// One commit: batch `id`, its two items, and the counter's increment.
fn commit_batch(db: &Db, id: u64) -> drift::Result<()> {
    db.write(|tx| {
        let mut counter = tx.get::<Counter>(&COUNTER)?.expect("the counter row");
        counter.value += 1;
        tx.update(&counter)?;
        tx.insert(&Batch { id, label: format!("batch {id}"), counter: counter.value, ..Default::default() })?;
        for slot in 0..2 {
            tx.insert(&Item { batch_id: id, slot, ..Default::default() })?;
        }
        Ok(())
    })
}

/// How a writer's commits ended.
#[derive(Debug, Default)]
struct Outcomes {
    /// Acknowledged commits, with when.
    acked: Vec<(u64, Instant)>,
    /// Commits whose reply was lost, found landed by a later run (which hit its own
    /// key or label).
    landed_unacked: Vec<u64>,
    /// Commits a run of which failed after sending it, and no later run settled:
    /// each is there whole or not at all.
    unknown: Vec<u64>,
    /// Commits each run of which failed before sending it, or had it refused
    /// (a conflict): none is there.
    failed: Vec<u64>,
    /// Why runs failed (storage errors, and conflicts after every retry).
    errors: Vec<String>,
}

/// Commits batches `first`, `first + WRITERS`, ... until `stop`, sending each
/// acknowledged number to `acks`. A run that fails with a storage error (the leader
/// gone, a timeout) or a conflict is run again, up to `RUNS` times.
fn writer(db: &Db, first: u64, stop: &AtomicBool, acks: &mpsc::Sender<u64>) -> Outcomes {
    let mut out = Outcomes::default();
    let mut id = first;
    while !stop.load(Ordering::SeqCst) {
        // Whether a run failed after sending the commit: it may have landed.
        let mut maybe_landed = false;
        let mut settled = false;
        for _ in 0..RUNS {
            match commit_batch(db, id) {
                Ok(()) => {
                    out.acked.push((id, Instant::now()));
                    let _ = acks.send(id);
                    settled = true;
                }
                Err(e) if maybe_landed && matches!(e.kind(), ErrorKind::AlreadyExists | ErrorKind::UniqueViolation) => {
                    out.landed_unacked.push(id);
                    settled = true;
                }
                Err(e) if matches!(e.kind(), ErrorKind::Storage | ErrorKind::Conflict) => {
                    let text = e.to_string();
                    maybe_landed |= e.kind() == ErrorKind::Storage && text.contains("commit failed");
                    out.errors.push(text);
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // Not a synchronisation: a pause before asking the cluster again.
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => panic!("commit {id}: {e}"),
            }
            break;
        }
        if !settled {
            if maybe_landed { &mut out.unknown } else { &mut out.failed }.push(id);
        }
        id += WRITERS;
    }
    out
}

/// The distinct errors of `outcomes`, each with how often it came (the part after
/// "grpc request error", where there is one, so that keys and statements merge).
fn error_summary(outcomes: &[Outcomes]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in outcomes.iter().flat_map(|o| &o.errors) {
        let cause = e.find("grpc request error").map_or(e.as_str(), |at| &e[at..]);
        *counts.entry(cause).or_default() += 1;
    }
    counts.iter().map(|(cause, n)| format!("\n  {n:>4} x {cause}")).collect()
}

/// Reads in a loop until `stop`; each read checks that its snapshot holds whole
/// commits only. Returns when each read ended and whether it succeeded.
fn reader(db: &Db, stop: &AtomicBool) -> Vec<(Instant, bool)> {
    let mut reads = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let snapshot = db.read(|tx| {
            let counter = tx.get::<Counter>(&COUNTER)?.expect("the counter row").value;
            Ok((counter, tx.query::<Batch>().count()?, tx.query::<Item>().count()?))
        });
        match snapshot {
            Ok((counter, batches, items)) => {
                assert_eq!((batches, items), (counter, 2 * counter), "a snapshot holds whole commits only");
                reads.push((Instant::now(), true));
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
                reads.push((Instant::now(), false));
            }
        }
        // Pacing, so the reader leaves the CPUs to the writers and the members.
        std::thread::sleep(Duration::from_millis(20));
    }
    reads
}

/// Every batch, and the slots of the items of each batch, in one snapshot.
fn contents(db: &Db) -> (BTreeMap<u64, Batch>, BTreeMap<u64, Vec<u32>>, u64) {
    db.read(|tx| {
        let batches = tx.query::<Batch>().all()?.into_iter().map(|b| (b.id, b)).collect();
        let mut items: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
        for item in tx.query::<Item>().all()? {
            items.entry(item.batch_id).or_default().push(item.slot);
        }
        for slots in items.values_mut() {
            slots.sort_unstable();
        }
        let counter = tx.get::<Counter>(&COUNTER)?.expect("the counter row").value;
        Ok((batches, items, counter))
    })
    .unwrap()
}

/// Prints the workload's figures; returns how long after the kill the first read
/// succeeded.
fn print_figures(outcomes: &[Outcomes], reads: &[(Instant, bool)], killed_at: Instant) -> Option<Duration> {
    let mut ack_times: Vec<Instant> = outcomes.iter().flat_map(|o| o.acked.iter().map(|(_, t)| *t)).collect();
    ack_times.sort();
    let last_ack_before = ack_times.iter().rev().find(|t| **t < killed_at).expect("a commit before the kill");
    let first_ack_after = ack_times.iter().find(|t| **t > killed_at);
    let first_read_after = reads.iter().find(|(t, ok)| *ok && *t > killed_at).map(|(t, _)| *t - killed_at);
    let failed_reads = reads.iter().filter(|(_, ok)| !ok).count();
    let per_writer: Vec<usize> = outcomes.iter().map(|o| o.acked.len()).collect();
    eprintln!(
        "{} commits acknowledged (per writer {per_writer:?}), {} after the kill; writes stalled {:?} \
         (last commit before the kill to first after), first commit {:?} after the kill; \
         {} reads, {failed_reads} failed, first good read {first_read_after:?} after the kill",
        ack_times.len(),
        ack_times.iter().filter(|t| **t > killed_at).count(),
        first_ack_after.map(|t| *t - *last_ack_before),
        first_ack_after.map(|t| *t - killed_at),
        reads.len(),
    );
    eprintln!("runs that failed:{}", error_summary(outcomes));
    first_read_after
}

/// Asserts that `db` holds every acknowledged commit, whole, and nothing but whole
/// commits; returns the batches and the counter.
fn assert_whole_commits(db: &Db, outcomes: &[Outcomes]) -> (BTreeMap<u64, Batch>, u64) {
    let (batches, items, counter) = contents(db);
    let acked: BTreeSet<u64> = outcomes.iter().flat_map(|o| o.acked.iter().map(|(id, _)| *id)).collect();
    let landed: BTreeSet<u64> = outcomes.iter().flat_map(|o| o.landed_unacked.iter().copied()).collect();
    let unknown: BTreeSet<u64> = outcomes.iter().flat_map(|o| o.unknown.iter().copied()).collect();
    let failed: BTreeSet<u64> = outcomes.iter().flat_map(|o| o.failed.iter().copied()).collect();
    eprintln!(
        "{} batches stored: {} acknowledged, {} landed without a reply, {} of {} unsettled; {} refused",
        batches.len(),
        acked.len(),
        landed.len(),
        unknown.iter().filter(|id| batches.contains_key(id)).count(),
        unknown.len(),
        failed.len(),
    );
    for id in acked.iter().chain(&landed) {
        assert!(batches.contains_key(id), "commit {id} was acknowledged (or found landed) but is missing");
    }
    for id in &failed {
        assert!(!batches.contains_key(id), "commit {id} was refused but is there");
    }
    for id in batches.keys() {
        assert!(acked.contains(id) || landed.contains(id) || unknown.contains(id), "batch {id} was never committed");
    }
    let orphans: Vec<_> = items.keys().filter(|id| !batches.contains_key(id)).collect();
    assert!(orphans.is_empty(), "items without their batch (half-applied commits): {orphans:?}");
    for id in batches.keys() {
        assert_eq!(items.get(id).map(Vec::as_slice), Some(&[0, 1][..]), "batch {id} has both its items, once");
    }
    let labels: BTreeSet<&str> = batches.values().map(|b| b.label.as_str()).collect();
    assert_eq!(labels.len(), batches.len(), "labels are unique");
    let counters: Vec<u64> = {
        let mut c: Vec<u64> = batches.values().map(|b| b.counter).collect();
        c.sort_unstable();
        c
    };
    assert_eq!(counter, batches.len() as u64, "one increment per stored commit");
    assert_eq!(counters, (1..=counter).collect::<Vec<_>>(), "commits applied one after another, none lost");
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report:?}");
    (batches, counter)
}

#[test]
fn killing_the_leader_mid_workload_loses_no_acknowledged_commit() {
    let started = Instant::now();
    let mut cluster = Cluster::start();
    let endpoints = cluster.endpoints();
    let db = cluster.open(&endpoints);
    db.write(|tx| tx.insert(&Counter { id: COUNTER, value: 0 })).unwrap();
    eprintln!("cluster up in {:?}", started.elapsed());

    let stop = Arc::new(AtomicBool::new(false));
    let _stop_guard = StopOnDrop(Arc::clone(&stop));
    let (acks, acked) = mpsc::channel();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let db = cluster.open(&endpoints);
            let (stop, acks) = (Arc::clone(&stop), acks.clone());
            std::thread::spawn(move || writer(&db, w + 1, &stop, &acks))
        })
        .collect();
    drop(acks);
    let reader = {
        let db = cluster.open(&endpoints);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || reader(&db, &stop))
    };

    let wait_acks = |n: usize, within: Duration| {
        let deadline = Instant::now() + within;
        for got in 0..n {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(e) = acked.recv_timeout(left) {
                return Err(format!("{got} of {n} commits acknowledged within {within:?} ({e})"));
            }
        }
        Ok(())
    };
    let stop_workload = |writers: Vec<std::thread::JoinHandle<Outcomes>>, reader: std::thread::JoinHandle<_>| {
        stop.store(true, Ordering::SeqCst);
        let outcomes: Vec<Outcomes> = writers.into_iter().map(|h| h.join().expect("a writer")).collect();
        (outcomes, reader.join().expect("the reader"))
    };
    if let Err(e) = wait_acks(BEFORE_KILL, Duration::from_secs(15)) {
        let (outcomes, _) = stop_workload(writers, reader);
        panic!("before the kill: {e}; errors:{}", error_summary(&outcomes));
    }
    let leader = cluster.leader();
    let killed_at = Instant::now();
    cluster.kill(leader);
    eprintln!("killed m{leader}, the leader, after {BEFORE_KILL} commits");
    let after_kill = wait_acks(AFTER_KILL, Duration::from_secs(20));
    let (outcomes, reads) = stop_workload(writers, reader);

    let first_read_after = print_figures(&outcomes, &reads, killed_at);
    if let Err(e) = after_kill {
        panic!("after killing the leader: {e} (the runs that failed are listed above)");
    }
    assert!(first_read_after.is_some(), "reads go on after the leader changed");
    let new_leader = cluster.leader();
    assert_ne!(new_leader, leader);
    eprintln!("m{new_leader} leads now");

    // Every acknowledged commit is there, whole; nothing else is, but whole commits
    // whose reply was lost.
    let survivors = cluster.open(&cluster.survivors());
    let (batches, counter) = assert_whole_commits(&survivors, &outcomes);

    // The survivors go on: a new commit, a cascade, a read through the unique index,
    // on the workload's handle and on a handle of the survivors only.
    let next = batches.keys().max().unwrap() + 1;
    commit_batch(&db, next).unwrap();
    commit_batch(&survivors, next + 1).unwrap();
    let gone = outcomes.iter().flat_map(|o| &o.acked).map(|(id, _)| *id).min().unwrap();
    survivors.write(|tx| tx.delete::<Batch>(&gone).map(drop)).unwrap();
    let (after, items_after, counter_after) = contents(&db);
    assert!(!after.contains_key(&gone) && !items_after.contains_key(&gone), "the cascade took its items");
    assert_eq!(after.len(), batches.len() + 1);
    assert_eq!(counter_after, counter + 2);
    let by_label = db.read(|tx| tx.get_by::<Batch, _>(Batch::LABEL, &format!("batch {next}"))).unwrap();
    assert_eq!(by_label.map(|b| b.id), Some(next));
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report:?}");
    eprintln!("done in {:?}", started.elapsed());
}
