//! Random statement sequences on an in-memory database against a model of
//! `BTreeMap`s that knows each statement's outcome.
//!
//! The operations: insert, update, upsert, delete, `delete_where`, get, `get_by`, a
//! query with a filter, relation loads (lazy and eager), savepoints (nested, released
//! or rolled back), commit and abort, optionally after a committed fixture. Every
//! result, and every error's [`ErrorKind`], is the one the model predicts; a failed
//! statement leaves the transaction as if it never ran. After a failed statement, a
//! rolled-back savepoint and at each transaction's end, the content read by scan and
//! by key equals the model's; after a commit or abort, a new snapshot reads the
//! committed state and one opened before the transaction still reads the state before
//! it. At the end `db.check()` must be clean.
//!
//! ```text
//! Member ── team ────▶ Team      cascade   (leads unique (team_id, nick), nick an Option)
//! Member ── mentor ──▶ Member    set_null  (Option, self-reference, indexed)
//! Task   ── team ────▶ Team      set_null  (Option, leads index (team_id, prio))
//! Task   ── owner ───▶ Member    restrict  (Option, unique: Member has_one Task)
//! ```
//!
//! Team has a unique `name` and an indexed `tier`; Task has an `auto_increment` key.
//! No entity cascades to itself, so a `delete_where` deletes every row it matched.
#![no_main]

use std::collections::BTreeMap;
use std::fmt::Debug;

use arbitrary::Arbitrary;
use drift::ErrorKind;
use drift::prelude::*;
use libfuzzer_sys::fuzz_target;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "fz_teams")]
pub struct Team {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(unique)]
    pub name: String,
    #[drift(index)]
    pub tier: u8,
    #[drift(has_many(Member, foreign_key = team_id))]
    pub members: HasMany<Member>,
    #[drift(has_many(Task, foreign_key = team_id))]
    pub tasks: HasMany<Task>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "fz_members", index(fields(team_id, nick), unique))]
pub struct Member {
    #[drift(primary_key)]
    pub id: u64,
    pub team_id: u64,
    pub nick: Option<String>,
    #[drift(index)]
    pub age: u8,
    #[drift(index)]
    pub mentor_id: Option<u64>,
    #[drift(belongs_to(Team, key = team_id, on_delete = cascade))]
    pub team: BelongsTo<Team>,
    #[drift(belongs_to(Member, key = mentor_id, on_delete = set_null))]
    pub mentor: BelongsTo<Member>,
    #[drift(has_many(Member, foreign_key = mentor_id))]
    pub mentees: HasMany<Member>,
    #[drift(has_one(Task, foreign_key = owner_id))]
    pub task: HasOne<Task>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "fz_tasks", index(fields(team_id, prio)))]
pub struct Task {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub team_id: Option<u64>,
    pub prio: i8,
    #[drift(unique)]
    pub owner_id: Option<u64>,
    #[drift(belongs_to(Team, key = team_id, on_delete = set_null))]
    pub team: BelongsTo<Team>,
    #[drift(belongs_to(Member, key = owner_id, on_delete = restrict))]
    pub owner: BelongsTo<Member>,
}

// ---------------------------------------------------------------------------------
// The input. Value spaces are small so that collisions are common, and a reference
// ranges one past its parent's keys. A reference, and the key of an update, upsert,
// delete or get, names an existing row for half of its values (`pick`), so that deep
// states get built and cascades, set_nulls and restricts run.

const NAMES: [&str; 4] = ["", "a", "ab", "b"];
const NICKS: [&str; 2] = ["x", "y"];

fn team_id(v: u8) -> u64 {
    1 + u64::from(v % 4)
}
fn team_ref(v: u8) -> u64 {
    1 + u64::from(v % 5)
}
fn member_id(v: u8) -> u64 {
    1 + u64::from(v % 6)
}
fn member_ref(v: u8) -> u64 {
    1 + u64::from(v % 7)
}
/// 0 asks for the next key of the sequence; keys at the top exhaust it.
fn task_id(v: u8) -> u64 {
    match v {
        255 => u64::MAX,
        254 => u64::MAX - 1,
        v => u64::from(v % 8),
    }
}
fn name(v: u8) -> String {
    NAMES[usize::from(v) % NAMES.len()].to_string()
}
fn nick(v: u8) -> String {
    NICKS[usize::from(v) % NICKS.len()].to_string()
}
fn small(v: u8) -> u8 {
    v % 3
}
fn prio(v: u8) -> i8 {
    (v % 3).cast_signed() - 1
}

/// For `v` below 128 a key of `rows` when there is one, else `raw(v)`.
fn pick<V>(rows: &BTreeMap<u64, V>, v: u8, raw: fn(u8) -> u64) -> u64 {
    match rows.keys().nth(usize::from(v % 128) % rows.len().max(1)) {
        Some(&k) if v < 128 => k,
        _ => raw(v),
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The entity cache: off, tiny (evicting), default.
    cache: u8,
    /// The rows committed before `ops` run: none, [`fixture`], or it with tasks
    /// owned by members (which restrict their deletes).
    setup: u8,
    ops: Vec<Op>,
}

/// Three teams; five members across them, mentored within and across teams (one
/// by itself); tasks in teams and in none.
fn fixture(owners: bool) -> Vec<Row> {
    let team = |id, name: &str, tier| Row::Team(Team { id, name: name.into(), tier, ..Default::default() });
    let member = |id, team_id, nick: Option<&str>, age, mentor_id| {
        Row::Member(Member { id, team_id, nick: nick.map(Into::into), age, mentor_id, ..Default::default() })
    };
    let task = |team_id, prio, owner_id: Option<u64>| {
        let owner_id = owner_id.filter(|_| owners);
        Row::Task(Task { id: 0, team_id, prio, owner_id, ..Default::default() })
    };
    vec![
        team(1, "a", 0),
        team(2, "ab", 1),
        team(3, "b", 2),
        member(1, 1, Some("x"), 0, None),
        member(2, 1, None, 1, Some(1)),
        member(3, 2, Some("x"), 2, Some(1)),
        member(4, 2, Some("y"), 0, Some(3)),
        member(5, 3, None, 1, Some(5)),
        task(Some(1), 0, None),
        task(Some(2), 1, Some(4)),
        task(None, -1, Some(2)),
        task(Some(1), -1, Some(5)),
    ]
}

/// Each variant is as likely: statements come nine times as often as savepoints, and
/// each way of ending a savepoint or the transaction a quarter as often again.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Op {
    Insert(RowIn),
    Update(RowIn),
    Upsert(RowIn),
    Delete(KeyIn),
    DeleteWhere(Q),
    Get(KeyIn),
    GetBy(UniqueIn),
    Query(Q),
    /// The row's relations, lazily and eagerly loaded.
    Load(KeyIn),
    Savepoint,
    End(EndIn),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum EndIn {
    /// Ends the innermost savepoint, keeping its writes (nothing outside one).
    Release,
    /// Ends the innermost savepoint, taking its writes back (nothing outside one).
    RollbackTo,
    Commit,
    Abort,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Insert,
    Update,
    Upsert,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum RowIn {
    Team { id: u8, name: u8, tier: u8 },
    Member { id: u8, team: u8, nick: Option<u8>, age: u8, mentor: Option<u8> },
    Task { id: u8, team: Option<u8>, prio: u8, owner: Option<u8> },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum KeyIn {
    Team(u8),
    Member(u8),
    Task(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum UniqueIn {
    TeamName(u8),
    TaskOwner(u8),
}

#[derive(Debug, Clone, PartialEq)]
enum Row {
    Team(Team),
    Member(Member),
    Task(Task),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Key {
    Team(u64),
    Member(u64),
    Task(u64),
}

impl RowIn {
    /// The row to write: an insert keeps its own key, an update or upsert mostly
    /// names an existing row.
    fn row(self, mode: Mode, m: &Model) -> Row {
        match self {
            RowIn::Team { id, name: n, tier } => Row::Team(Team {
                id: if mode == Mode::Insert { team_id(id) } else { pick(&m.teams, id, team_id) },
                name: name(n),
                tier: small(tier),
                ..Default::default()
            }),
            RowIn::Member { id, team, nick: n, age, mentor } => Row::Member(Member {
                id: if mode == Mode::Insert { member_id(id) } else { pick(&m.members, id, member_id) },
                team_id: pick(&m.teams, team, team_ref),
                nick: n.map(nick),
                age: small(age),
                mentor_id: mentor.map(|v| pick(&m.members, v, member_ref)),
                ..Default::default()
            }),
            RowIn::Task { id, team, prio: p, owner } => Row::Task(Task {
                id: if mode == Mode::Insert { task_id(id) } else { pick(&m.tasks, id, task_id) },
                team_id: team.map(|v| pick(&m.teams, v, team_ref)),
                prio: prio(p),
                owner_id: owner.map(|v| pick(&m.members, v, member_ref)),
                ..Default::default()
            }),
        }
    }
}

impl KeyIn {
    fn key(self, m: &Model) -> Key {
        match self {
            KeyIn::Team(v) => Key::Team(pick(&m.teams, v, team_ref)),
            KeyIn::Member(v) => Key::Member(pick(&m.members, v, member_ref)),
            KeyIn::Task(v) => Key::Task(pick(&m.tasks, v, task_id)),
        }
    }
}

// ---------------------------------------------------------------------------------
// Filters: one leaf, or two joined; each leaf both a `Filter` and a predicate.

trait Leaf {
    type E: Entity<Key = u64> + Clone + PartialEq + Debug;
    fn filter(&self) -> Filter<Self::E>;
    fn holds(&self, e: &Self::E) -> bool;
    fn rows(m: &Model) -> &BTreeMap<u64, Self::E>;
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Join {
    And,
    Or,
    AndNot,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct F<L> {
    a: L,
    b: Option<(Join, L)>,
}

impl<L: Leaf> F<L> {
    fn filter(&self) -> Filter<L::E> {
        match &self.b {
            None => self.a.filter(),
            Some((Join::And, b)) => self.a.filter() & b.filter(),
            Some((Join::Or, b)) => self.a.filter() | b.filter(),
            Some((Join::AndNot, b)) => self.a.filter() & !b.filter(),
        }
    }

    fn holds(&self, e: &L::E) -> bool {
        match &self.b {
            None => self.a.holds(e),
            Some((Join::And, b)) => self.a.holds(e) && b.holds(e),
            Some((Join::Or, b)) => self.a.holds(e) || b.holds(e),
            Some((Join::AndNot, b)) => self.a.holds(e) && !b.holds(e),
        }
    }

    fn matching(&self, m: &Model) -> Vec<L::E> {
        L::rows(m).values().filter(|e| self.holds(e)).cloned().collect()
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum TeamLeaf {
    NameEq(u8),
    NameStarts(u8),
    NameGt(u8),
    TierEq(u8),
    TierLt(u8),
    TierBetween(u8, u8),
    IdGt(u8),
}

impl Leaf for TeamLeaf {
    type E = Team;
    fn filter(&self) -> Filter<Team> {
        match *self {
            TeamLeaf::NameEq(v) => Team::NAME.eq(name(v)),
            TeamLeaf::NameStarts(v) => Team::NAME.starts_with(name(v)),
            TeamLeaf::NameGt(v) => Team::NAME.gt(name(v)),
            TeamLeaf::TierEq(v) => Team::TIER.eq(small(v)),
            TeamLeaf::TierLt(v) => Team::TIER.lt(small(v)),
            TeamLeaf::TierBetween(a, b) => Team::TIER.between(small(a), small(b)),
            TeamLeaf::IdGt(v) => Team::ID.gt(team_ref(v)),
        }
    }
    fn holds(&self, t: &Team) -> bool {
        match *self {
            TeamLeaf::NameEq(v) => t.name == name(v),
            TeamLeaf::NameStarts(v) => t.name.starts_with(&name(v)),
            TeamLeaf::NameGt(v) => t.name > name(v),
            TeamLeaf::TierEq(v) => t.tier == small(v),
            TeamLeaf::TierLt(v) => t.tier < small(v),
            TeamLeaf::TierBetween(a, b) => small(a) <= t.tier && t.tier <= small(b),
            TeamLeaf::IdGt(v) => t.id > team_ref(v),
        }
    }
    fn rows(m: &Model) -> &BTreeMap<u64, Team> {
        &m.teams
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum MemberLeaf {
    TeamEq(u8),
    /// `nick = None` matches the rows without one.
    NickEq(Option<u8>),
    NickNone,
    NickSome,
    AgeEq(u8),
    AgeGte(u8),
    MentorEq(Option<u8>),
    MentorNone,
    IdIn(u8, u8),
}

impl Leaf for MemberLeaf {
    type E = Member;
    fn filter(&self) -> Filter<Member> {
        match *self {
            MemberLeaf::TeamEq(v) => Member::TEAM_ID.eq(team_ref(v)),
            MemberLeaf::NickEq(v) => Member::NICK.eq(v.map(nick)),
            MemberLeaf::NickNone => Member::NICK.is_none(),
            MemberLeaf::NickSome => Member::NICK.is_some(),
            MemberLeaf::AgeEq(v) => Member::AGE.eq(small(v)),
            MemberLeaf::AgeGte(v) => Member::AGE.gte(small(v)),
            MemberLeaf::MentorEq(v) => Member::MENTOR_ID.eq(v.map(member_ref)),
            MemberLeaf::MentorNone => Member::MENTOR_ID.is_none(),
            MemberLeaf::IdIn(a, b) => Member::ID.in_list(vec![member_ref(a), member_ref(b)]),
        }
    }
    fn holds(&self, r: &Member) -> bool {
        match *self {
            MemberLeaf::TeamEq(v) => r.team_id == team_ref(v),
            MemberLeaf::NickEq(v) => r.nick == v.map(nick),
            MemberLeaf::NickNone => r.nick.is_none(),
            MemberLeaf::NickSome => r.nick.is_some(),
            MemberLeaf::AgeEq(v) => r.age == small(v),
            MemberLeaf::AgeGte(v) => r.age >= small(v),
            MemberLeaf::MentorEq(v) => r.mentor_id == v.map(member_ref),
            MemberLeaf::MentorNone => r.mentor_id.is_none(),
            MemberLeaf::IdIn(a, b) => r.id == member_ref(a) || r.id == member_ref(b),
        }
    }
    fn rows(m: &Model) -> &BTreeMap<u64, Member> {
        &m.members
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum TaskLeaf {
    TeamEq(Option<u8>),
    TeamNone,
    PrioEq(u8),
    PrioLt(u8),
    OwnerEq(Option<u8>),
    OwnerSome,
    IdGt(u8),
}

impl Leaf for TaskLeaf {
    type E = Task;
    fn filter(&self) -> Filter<Task> {
        match *self {
            TaskLeaf::TeamEq(v) => Task::TEAM_ID.eq(v.map(team_ref)),
            TaskLeaf::TeamNone => Task::TEAM_ID.is_none(),
            TaskLeaf::PrioEq(v) => Task::PRIO.eq(prio(v)),
            TaskLeaf::PrioLt(v) => Task::PRIO.lt(prio(v)),
            TaskLeaf::OwnerEq(v) => Task::OWNER_ID.eq(v.map(member_ref)),
            TaskLeaf::OwnerSome => Task::OWNER_ID.is_some(),
            TaskLeaf::IdGt(v) => Task::ID.gt(task_id(v)),
        }
    }
    fn holds(&self, r: &Task) -> bool {
        match *self {
            TaskLeaf::TeamEq(v) => r.team_id == v.map(team_ref),
            TaskLeaf::TeamNone => r.team_id.is_none(),
            TaskLeaf::PrioEq(v) => r.prio == prio(v),
            TaskLeaf::PrioLt(v) => r.prio < prio(v),
            TaskLeaf::OwnerEq(v) => r.owner_id == v.map(member_ref),
            TaskLeaf::OwnerSome => r.owner_id.is_some(),
            TaskLeaf::IdGt(v) => r.id > task_id(v),
        }
    }
    fn rows(m: &Model) -> &BTreeMap<u64, Task> {
        &m.tasks
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Q {
    Team(F<TeamLeaf>),
    Member(F<MemberLeaf>),
    Task(F<TaskLeaf>),
}

// ---------------------------------------------------------------------------------
// The model.

#[derive(Debug, Clone, Default)]
struct Model {
    teams: BTreeMap<u64, Team>,
    members: BTreeMap<u64, Member>,
    tasks: BTreeMap<u64, Task>,
    /// The highest task key written and not taken back: an assigned key is one more.
    /// Deletes do not lower it.
    task_seq: u64,
}

impl Model {
    fn exists(&self, row: &Row) -> bool {
        match row {
            Row::Team(r) => self.teams.contains_key(&r.id),
            Row::Member(r) => self.members.contains_key(&r.id),
            Row::Task(r) => self.tasks.contains_key(&r.id),
        }
    }

    /// No other row holds one of the row's unique values; `None`s collide with nothing.
    fn unique_ok(&self, row: &Row) -> bool {
        match row {
            Row::Team(r) => !self.teams.values().any(|o| o.id != r.id && o.name == r.name),
            Row::Member(r) => {
                r.nick.is_none()
                    || !self.members.values().any(|o| o.id != r.id && (o.team_id, &o.nick) == (r.team_id, &r.nick))
            }
            Row::Task(r) => {
                r.owner_id.is_none() || !self.tasks.values().any(|o| o.id != r.id && o.owner_id == r.owner_id)
            }
        }
    }

    /// Every foreign key names a row (a member may be its own mentor).
    fn fk_ok(&self, row: &Row) -> bool {
        match row {
            Row::Team(_) => true,
            Row::Member(r) => {
                self.teams.contains_key(&r.team_id)
                    && r.mentor_id.is_none_or(|m| m == r.id || self.members.contains_key(&m))
            }
            Row::Task(r) => {
                r.team_id.is_none_or(|t| self.teams.contains_key(&t))
                    && r.owner_id.is_none_or(|o| self.members.contains_key(&o))
            }
        }
    }

    /// The checks in the library's order: an `auto_increment` key of 0 (insert,
    /// upsert) takes the next key, failing when none is left; then the key (taken or
    /// missing), unique values, foreign keys. Returns the row as stored.
    fn put(&mut self, mode: Mode, row: &Row) -> Result<Row, ErrorKind> {
        let mut row = row.clone();
        if let Row::Task(t) = &mut row
            && t.id == 0
            && mode != Mode::Update
        {
            t.id = self.task_seq.checked_add(1).ok_or(ErrorKind::Key)?;
        }
        let exists = self.exists(&row);
        match mode {
            Mode::Insert if exists => return Err(ErrorKind::AlreadyExists),
            Mode::Update if !exists => return Err(ErrorKind::NotFound),
            _ => {}
        }
        if !self.unique_ok(&row) {
            return Err(ErrorKind::UniqueViolation);
        }
        if !self.fk_ok(&row) {
            return Err(ErrorKind::ForeignKey);
        }
        match row.clone() {
            Row::Team(r) => drop(self.teams.insert(r.id, r)),
            Row::Member(r) => drop(self.members.insert(r.id, r)),
            Row::Task(r) => {
                self.task_seq = self.task_seq.max(r.id);
                self.tasks.insert(r.id, r);
            }
        }
        Ok(row)
    }

    /// Removes the row and applies the `on_delete` rules of the rows that refer to it.
    fn remove(&mut self, key: Key) -> Option<Row> {
        match key {
            Key::Team(id) => {
                let team = self.teams.remove(&id)?;
                let members: Vec<u64> = self.members.values().filter(|m| m.team_id == id).map(|m| m.id).collect();
                for m in members {
                    self.remove(Key::Member(m));
                }
                for t in self.tasks.values_mut().filter(|t| t.team_id == Some(id)) {
                    t.team_id = None;
                }
                Some(Row::Team(team))
            }
            Key::Member(id) => {
                let member = self.members.remove(&id)?;
                for m in self.members.values_mut().filter(|m| m.mentor_id == Some(id)) {
                    m.mentor_id = None;
                }
                Some(Row::Member(member))
            }
            Key::Task(id) => self.tasks.remove(&id).map(Row::Task),
        }
    }

    /// Removes the rows with `keys` as one statement: when the removals leave a task
    /// whose owner is gone (`restrict`), nothing is removed.
    fn delete(&mut self, keys: &[Key]) -> Result<Vec<Row>, ErrorKind> {
        let mut next = self.clone();
        let removed: Vec<Row> = keys.iter().filter_map(|&k| next.remove(k)).collect();
        if next.tasks.values().any(|t| t.owner_id.is_some_and(|o| !next.members.contains_key(&o))) {
            return Err(ErrorKind::Restrict);
        }
        *self = next;
        Ok(removed)
    }

    fn get(&self, key: Key) -> Option<Row> {
        match key {
            Key::Team(k) => self.teams.get(&k).cloned().map(Row::Team),
            Key::Member(k) => self.members.get(&k).cloned().map(Row::Member),
            Key::Task(k) => self.tasks.get(&k).cloned().map(Row::Task),
        }
    }

    /// The model keeps the rules it checks: no dangling key, no shared unique value.
    fn assert_consistent(&self) {
        let rows = self.teams.values().cloned().map(Row::Team);
        let rows = rows.chain(self.members.values().cloned().map(Row::Member));
        for row in rows.chain(self.tasks.values().cloned().map(Row::Task)) {
            assert!(self.fk_ok(&row) && self.unique_ok(&row), "the model is inconsistent at {row:?}");
        }
    }
}

// ---------------------------------------------------------------------------------
// Running statements on the database.

/// Reads on either kind of transaction.
trait Reads {
    fn q<T: Entity>(&self) -> Query<'_, T>;
    fn one<T: Entity>(&self, key: &T::Key) -> drift::Result<Option<T>>;
}

impl Reads for ReadTx {
    fn q<T: Entity>(&self) -> Query<'_, T> {
        self.query::<T>()
    }
    fn one<T: Entity>(&self, key: &T::Key) -> drift::Result<Option<T>> {
        self.get::<T>(key)
    }
}

impl Reads for WriteTx {
    fn q<T: Entity>(&self) -> Query<'_, T> {
        self.query::<T>()
    }
    fn one<T: Entity>(&self, key: &T::Key) -> drift::Result<Option<T>> {
        self.get::<T>(key)
    }
}

fn sorted<T: Entity<Key = u64>>(mut rows: Vec<T>) -> Vec<T> {
    rows.sort_by_key(Entity::key);
    rows
}

/// Every row of the database equals the model's, read by a scan and by key (through
/// the cache when there is one); keys the model lacks are absent.
fn same<X: Reads>(tx: &X, m: &Model, when: &dyn Debug) {
    same_rows(tx, &m.teams, 1..=5, when);
    same_rows(tx, &m.members, 1..=7, when);
    same_rows(tx, &m.tasks, 0..=8, when);
}

fn same_rows<T, X>(tx: &X, rows: &BTreeMap<u64, T>, absent: impl Iterator<Item = u64>, when: &dyn Debug)
where
    T: Entity<Key = u64> + Clone + PartialEq + Debug,
    X: Reads,
{
    let name = T::SCHEMA.name.to_string();
    assert_eq!(sorted(tx.q::<T>().all().unwrap()), rows.values().cloned().collect::<Vec<_>>(), "{name} {when:?}");
    for k in rows.keys().copied().chain(absent) {
        assert_eq!(tx.one::<T>(&k).unwrap().as_ref(), rows.get(&k), "get {name} {k} {when:?}");
    }
}

/// Writes the row; returns it as then stored under the key the statement returned.
fn put<T: Entity<Key = u64>>(tx: &mut WriteTx, mode: Mode, row: &T) -> drift::Result<Option<T>> {
    let key = match mode {
        Mode::Insert => tx.insert(row)?,
        Mode::Update => tx.update(row).map(|()| row.key())?,
        Mode::Upsert => tx.upsert(row)?,
    };
    tx.get::<T>(&key)
}

fn get(tx: &WriteTx, key: Key) -> drift::Result<Option<Row>> {
    Ok(match key {
        Key::Team(k) => tx.get::<Team>(&k)?.map(Row::Team),
        Key::Member(k) => tx.get::<Member>(&k)?.map(Row::Member),
        Key::Task(k) => tx.get::<Task>(&k)?.map(Row::Task),
    })
}

/// The statement's outcome is the model's; a failed one changed nothing.
fn outcome<V: PartialEq + Debug>(
    tx: &WriteTx,
    m: &Model,
    what: &dyn Debug,
    got: drift::Result<V>,
    want: Result<V, ErrorKind>,
) {
    match (got, want) {
        (Ok(g), Ok(w)) => assert_eq!(g, w, "{what:?}"),
        (Err(e), Err(k)) => {
            assert_eq!(e.kind(), k, "{what:?}: {e}");
            same(tx, m, &format_args!("after the failed {what:?}"));
        }
        (got, want) => panic!("{what:?}: the database gave {got:?}, the model {want:?}"),
    }
}

fn query<L: Leaf>(tx: &WriteTx, m: &Model, f: &F<L>) {
    let want = f.matching(m);
    let q = tx.query::<L::E>().filter(f.filter());
    assert_eq!(sorted(q.all().unwrap()), want, "{f:?}", f = f.filter());
    assert_eq!(q.count().unwrap(), want.len() as u64, "count of {f:?}", f = f.filter());
}

fn delete_where<L: Leaf>(tx: &mut WriteTx, m: &mut Model, f: &F<L>, key: fn(u64) -> Key) {
    let keys: Vec<Key> = f.matching(m).iter().map(|e| key(e.key())).collect();
    let want = m.delete(&keys).map(|rows| rows.len() as u64);
    let got = tx.delete_where::<L::E>(f.filter());
    outcome(tx, m, &format_args!("delete_where {:?}", f.filter()), got, want);
}

/// Runs one statement on the transaction and on the model.
fn statement(tx: &mut WriteTx, m: &mut Model, op: &Op) {
    match *op {
        Op::Insert(row) => put_row(tx, m, Mode::Insert, row),
        Op::Update(row) => put_row(tx, m, Mode::Update, row),
        Op::Upsert(row) => put_row(tx, m, Mode::Upsert, row),
        Op::Delete(key) => {
            let key = key.key(m);
            let want = m.delete(&[key]).map(|rows| rows.into_iter().next());
            let got = match key {
                Key::Team(k) => tx.delete::<Team>(&k).map(|r| r.map(Row::Team)),
                Key::Member(k) => tx.delete::<Member>(&k).map(|r| r.map(Row::Member)),
                Key::Task(k) => tx.delete::<Task>(&k).map(|r| r.map(Row::Task)),
            };
            outcome(tx, m, &format_args!("delete {key:?}"), got, want);
        }
        Op::DeleteWhere(q) => match &q {
            Q::Team(f) => delete_where(tx, m, f, Key::Team),
            Q::Member(f) => delete_where(tx, m, f, Key::Member),
            Q::Task(f) => delete_where(tx, m, f, Key::Task),
        },
        Op::Get(key) => {
            let key = key.key(m);
            assert_eq!(get(tx, key).unwrap(), m.get(key), "get {key:?}");
        }
        Op::GetBy(UniqueIn::TeamName(v)) => {
            let want = m.teams.values().find(|t| t.name == name(v)).cloned();
            assert_eq!(tx.get_by(Team::NAME, name(v)).unwrap(), want, "get_by name {:?}", name(v));
        }
        Op::GetBy(UniqueIn::TaskOwner(v)) => {
            let owner = Some(pick(&m.members, v, member_ref));
            let want = m.tasks.values().find(|t| t.owner_id == owner).cloned();
            assert_eq!(tx.get_by(Task::OWNER_ID, owner).unwrap(), want, "get_by owner {owner:?}");
        }
        Op::Query(q) => match &q {
            Q::Team(f) => query(tx, m, f),
            Q::Member(f) => query(tx, m, f),
            Q::Task(f) => query(tx, m, f),
        },
        Op::Load(key) => load(tx, m, key.key(m)),
        Op::Savepoint | Op::End(_) => unreachable!("not a statement"),
    }
    m.assert_consistent();
}

fn children<T: Clone>(rows: &BTreeMap<u64, T>, f: impl Fn(&T) -> bool) -> Vec<T> {
    rows.values().filter(|r| f(r)).cloned().collect()
}

/// The relations of the row with `key`, loaded lazily on the row and eagerly by a
/// query of all rows, are the model's.
fn load(tx: &WriteTx, m: &Model, key: Key) {
    match key {
        Key::Team(k) => {
            let Some(t) = tx.get::<Team>(&k).unwrap() else { return };
            let (members, tasks) =
                (children(&m.members, |x| x.team_id == k), children(&m.tasks, |x| x.team_id == Some(k)));
            assert_eq!(sorted(t.members(tx).unwrap().to_vec()), members, "members of team {k}");
            assert_eq!(sorted(t.tasks(tx).unwrap().to_vec()), tasks, "tasks of team {k}");
            for t in tx.query::<Team>().with(Team::MEMBERS).with(Team::TASKS).all().unwrap() {
                let members = children(&m.members, |x| x.team_id == t.id);
                assert_eq!(sorted(t.members.loaded().unwrap().to_vec()), members, "eager members of team {}", t.id);
                let tasks = children(&m.tasks, |x| x.team_id == Some(t.id));
                assert_eq!(sorted(t.tasks.loaded().unwrap().to_vec()), tasks, "eager tasks of team {}", t.id);
            }
        }
        Key::Member(k) => {
            let Some(r) = tx.get::<Member>(&k).unwrap() else { return };
            assert_eq!(Some(r.team(tx).unwrap()), m.teams.get(&r.team_id), "team of member {k}");
            let mentor = r.mentor_id.and_then(|x| m.members.get(&x));
            assert_eq!(r.mentor(tx).unwrap(), mentor, "mentor of member {k}");
            let mentees = children(&m.members, |x| x.mentor_id == Some(k));
            assert_eq!(sorted(r.mentees(tx).unwrap().to_vec()), mentees, "mentees of member {k}");
            let task = m.tasks.values().find(|x| x.owner_id == Some(k));
            assert_eq!(r.task(tx).unwrap(), task, "task of member {k}");
            let all = tx.query::<Member>().with(Member::TEAM).with(Member::MENTEES).with(Member::TASK).all().unwrap();
            for r in all {
                assert_eq!(r.team.loaded(), m.teams.get(&r.team_id), "eager team of member {}", r.id);
                let mentees = children(&m.members, |x| x.mentor_id == Some(r.id));
                assert_eq!(sorted(r.mentees.loaded().unwrap().to_vec()), mentees, "eager mentees of member {}", r.id);
                let task = m.tasks.values().find(|x| x.owner_id == Some(r.id));
                assert_eq!(r.task.loaded(), task, "eager task of member {}", r.id);
            }
        }
        Key::Task(k) => {
            let Some(r) = tx.get::<Task>(&k).unwrap() else { return };
            assert_eq!(r.team(tx).unwrap(), r.team_id.and_then(|x| m.teams.get(&x)), "team of task {k}");
            assert_eq!(r.owner(tx).unwrap(), r.owner_id.and_then(|x| m.members.get(&x)), "owner of task {k}");
            for r in tx.query::<Task>().with(Task::TEAM).with(Task::OWNER).all().unwrap() {
                assert_eq!(r.team.loaded(), r.team_id.and_then(|x| m.teams.get(&x)), "eager team of task {}", r.id);
                let owner = r.owner_id.and_then(|x| m.members.get(&x));
                assert_eq!(r.owner.loaded(), owner, "eager owner of task {}", r.id);
            }
        }
    }
}

fn put_row(tx: &mut WriteTx, m: &mut Model, mode: Mode, row: RowIn) {
    write(tx, m, mode, &row.row(mode, m));
}

fn write(tx: &mut WriteTx, m: &mut Model, mode: Mode, row: &Row) {
    let want = m.put(mode, row).map(Some);
    let got = match row {
        Row::Team(r) => put(tx, mode, r).map(|r| r.map(Row::Team)),
        Row::Member(r) => put(tx, mode, r).map(|r| r.map(Row::Member)),
        Row::Task(r) => put(tx, mode, r).map(|r| r.map(Row::Task)),
    };
    outcome(tx, m, &format_args!("{mode:?} {row:?}"), got, want);
}

/// How a run of operations ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum End {
    Release,
    RollbackTo,
    Commit,
    Abort,
    Eof,
}

const MAX_DEPTH: u32 = 4;

/// The error a savepoint's closure returns to be rolled back.
fn rollback() -> drift::Error {
    drift::Error::NotFound { entity: "fuzz", key: "rollback to savepoint".into() }
}

/// Runs operations until one ends the current savepoint (at `depth` > 0) or the
/// transaction. A commit or abort inside savepoints releases them on the way out.
fn block<'a>(tx: &mut WriteTx, m: &mut Model, ops: &mut impl Iterator<Item = &'a Op>, depth: u32) -> End {
    while let Some(op) = ops.next() {
        match op {
            Op::Savepoint if depth < MAX_DEPTH => {
                let before = m.clone();
                let mut end = End::Eof;
                let r = tx.savepoint(|tx| {
                    end = block(tx, m, ops, depth + 1);
                    if end == End::RollbackTo { Err(rollback()) } else { Ok(()) }
                });
                match end {
                    End::RollbackTo => {
                        let e = r.expect_err("a savepoint whose closure failed");
                        assert_eq!(e.kind(), ErrorKind::NotFound, "the closure's error comes back: {e}");
                        *m = before;
                        same(tx, m, &"after rolling back to a savepoint");
                    }
                    End::Release => r.expect("a released savepoint"),
                    End::Commit | End::Abort | End::Eof => {
                        r.expect("a released savepoint");
                        return end;
                    }
                }
            }
            Op::End(EndIn::Release) if depth > 0 => return End::Release,
            Op::End(EndIn::RollbackTo) if depth > 0 => return End::RollbackTo,
            // Too deep to open one more savepoint, or none open to end: ignored.
            Op::Savepoint | Op::End(EndIn::Release | EndIn::RollbackTo) => {}
            Op::End(EndIn::Commit) => return End::Commit,
            Op::End(EndIn::Abort) => return End::Abort,
            op => statement(tx, m, op),
        }
    }
    End::Eof
}

fuzz_target!(|input: Input| {
    let builder = Db::builder().entity::<Team>().entity::<Member>().entity::<Task>();
    let db = match input.cache % 3 {
        0 => builder.cache_capacity(0),
        1 => builder.cache_capacity(2),
        _ => builder,
    }
    .in_memory()
    .unwrap();
    let mut committed = Model::default();
    if let owners @ 1..=2 = input.setup % 3 {
        let mut tx = db.begin_write().unwrap();
        for row in fixture(owners == 2) {
            write(&mut tx, &mut committed, Mode::Insert, &row);
        }
        tx.commit().unwrap();
        let sizes = (committed.teams.len(), committed.members.len(), committed.tasks.len());
        assert_eq!(sizes, (3, 5, 4), "every row of the fixture is written");
    }
    let mut ops = input.ops.iter();
    loop {
        // A snapshot of the committed state, read again once the transaction ends.
        let snapshot = db.begin_read().unwrap();
        let mut tx = db.begin_write().unwrap();
        let mut m = committed.clone();
        let end = block(&mut tx, &mut m, &mut ops, 0);
        same(&tx, &m, &format_args!("at the transaction's end ({end:?})"));
        match end {
            End::Commit => {
                tx.commit().unwrap();
                same(&snapshot, &committed, &"in a snapshot from before the commit");
                committed = m;
                same(&db.begin_read().unwrap(), &committed, &"after commit");
            }
            End::Abort | End::Eof => {
                tx.rollback();
                same(&db.begin_read().unwrap(), &committed, &"after abort");
                same(&snapshot, &committed, &"in a snapshot from before the abort");
            }
            End::Release | End::RollbackTo => unreachable!("ends a savepoint only"),
        }
        if end == End::Eof {
            break;
        }
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{report}");
});
