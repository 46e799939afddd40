//! Model-based test of relations: random inserts, updates, upserts and deletes of
//! parents and children, one per write transaction or several in one (with failing
//! statements and savepoints in the middle), against an in-memory oracle that applies
//! the same referential rules. After every step the database must equal the oracle,
//! no foreign key may dangle, every index must match the rows (equality counts and
//! index-only group counts), and the lazy and eager relation loaders must return what
//! the oracle says.
//!
//! The library schema covers each `on_delete` mode, an optional foreign key, a
//! self-reference, a unique foreign key (`has_one`) and composite foreign keys (served
//! by an index, and by a primary-key prefix):
//!
//! ```text
//! Author ── mentor ──────────▶ Author      set_null  (Option<u64>, self-reference)
//! Book   ── author ──────────▶ Author      cascade
//! Review ── book ────────────▶ Book        cascade
//! Review ── author ──────────▶ Author      set_null  (Option<u64>, leads a two-field index)
//! Loan   ── book ────────────▶ Book        restrict
//! Cover  ── book ────────────▶ Book        cascade   (unique: Book has_one Cover)
//! Placement ── (room, slot) ─▶ Shelf       cascade   (composite, through an index)
//! Bin    ── (room, slot) ────▶ Shelf       restrict  (composite, a key prefix)
//! ```
//!
//! Four more shapes run as models of their own ([`Shape`]), each on a few entities:
//!
//! ```text
//! Coach  ── club ────────────▶ Club        restrict  (leads unique (club_id, nick), nick an Option)
//! Player ── club ────────────▶ Club        cascade   (leads unique (club_id, nick), nick an Option)
//! Ticket ── club ────────────▶ Club        cascade   (index (club_id, id), id auto_increment)
//! Stub   ── club ────────────▶ Club        restrict  (unique (club_id, id), id auto_increment)
//! Node   ── parent ──────────▶ Node        cascade   (Option<u64>, self-reference: chains, trees)
//! Node   ── link ────────────▶ Node        set_null  (Option<u64>, self-reference)
//! Pass   ── club ────────────▶ Club        cascade   (auto_increment with explicit keys, unique code)
//! ```

use std::collections::BTreeMap;

use drift::prelude::*;
use drift::{ErrorKind, Transaction, count};
use proptest::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_authors")]
pub struct Author {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(index)]
    pub name: String,
    pub mentor_id: Option<u64>,
    #[drift(belongs_to(Author, key = mentor_id, on_delete = set_null))]
    pub mentor: BelongsTo<Author>,
    #[drift(has_many(Author, foreign_key = mentor_id))]
    pub mentees: HasMany<Author>,
    #[drift(has_many(Book, foreign_key = author_id))]
    pub books: HasMany<Book>,
    #[drift(has_many(Review, foreign_key = author_id))]
    pub reviews: HasMany<Review>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_books")]
pub struct Book {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(index)]
    pub author_id: u64,
    #[drift(index)]
    pub genre: u8,
    #[drift(belongs_to(Author, key = author_id, on_delete = cascade))]
    pub author: BelongsTo<Author>,
    #[drift(has_many(Review, foreign_key = book_id))]
    pub reviews: HasMany<Review>,
    #[drift(has_many(Loan, foreign_key = book_id))]
    pub loans: HasMany<Loan>,
    #[drift(has_one(Cover, foreign_key = book_id))]
    pub cover: HasOne<Cover>,
}

/// `author_id` leads a two-field index: its `belongs_to` is served by it (a child is
/// found by a prefix of the entries), and `set_null` must rewrite those entries.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_reviews", index(fields(author_id, stars)))]
pub struct Review {
    #[drift(primary_key)]
    pub id: u64,
    pub book_id: u64,
    pub author_id: Option<u64>,
    pub stars: u8,
    #[drift(belongs_to(Book, key = book_id, on_delete = cascade))]
    pub book: BelongsTo<Book>,
    #[drift(belongs_to(Author, key = author_id, on_delete = set_null))]
    pub author: BelongsTo<Author>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_loans")]
pub struct Loan {
    #[drift(primary_key)]
    pub id: u64,
    pub book_id: u64,
    #[drift(unique)]
    pub ticket: u32,
    #[drift(belongs_to(Book, key = book_id, on_delete = restrict))]
    pub book: BelongsTo<Book>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_covers")]
pub struct Cover {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(unique)]
    pub book_id: u64,
    pub color: u8,
    #[drift(belongs_to(Book, key = book_id, on_delete = cascade))]
    pub book: BelongsTo<Book>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_shelves")]
pub struct Shelf {
    #[drift(primary_key)]
    pub room: String,
    #[drift(primary_key)]
    pub slot: u32,
    #[drift(index)]
    pub label: String,
    #[drift(has_many(Placement, foreign_key = (room, slot)))]
    pub placements: HasMany<Placement>,
    #[drift(has_many(Bin, foreign_key = (room, slot)))]
    pub bins: HasMany<Bin>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_placements")]
pub struct Placement {
    #[drift(primary_key)]
    pub id: u64,
    pub room: String,
    pub slot: u32,
    #[drift(index)]
    pub qty: u8,
    #[drift(belongs_to(Shelf, key = (room, slot), on_delete = cascade))]
    pub shelf: BelongsTo<Shelf>,
}

/// Its foreign key leads its primary key: children are found by a key-range scan.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_bins")]
pub struct Bin {
    #[drift(primary_key)]
    pub room: String,
    #[drift(primary_key)]
    pub slot: u32,
    #[drift(primary_key)]
    pub n: u8,
    pub note: String,
    #[drift(belongs_to(Shelf, key = (room, slot), on_delete = restrict))]
    pub shelf: BelongsTo<Shelf>,
}

/// The parent of the shapes' children.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_clubs")]
pub struct Club {
    #[drift(primary_key)]
    pub id: u64,
    pub tier: u8,
    #[drift(has_many(Coach, foreign_key = club_id))]
    pub coaches: HasMany<Coach>,
    #[drift(has_many(Player, foreign_key = club_id))]
    pub players: HasMany<Player>,
    #[drift(has_many(Ticket, foreign_key = club_id))]
    pub tickets: HasMany<Ticket>,
    #[drift(has_many(Stub, foreign_key = club_id))]
    pub stubs: HasMany<Stub>,
    #[drift(has_many(Pass, foreign_key = club_id))]
    pub passes: HasMany<Pass>,
}

/// `club_id` leads a unique index whose other field is an `Option`. A coach whose
/// `nick` is `None` collides with no other (as in SQL), and is still the club's child:
/// the club's restrict, and its loaders, must find it.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_coaches", index(fields(club_id, nick), unique))]
pub struct Coach {
    #[drift(primary_key)]
    pub id: u64,
    pub club_id: u64,
    pub nick: Option<String>,
    #[drift(belongs_to(Club, key = club_id, on_delete = restrict))]
    pub club: BelongsTo<Club>,
}

/// As [`Coach`], with `cascade`: a player whose `nick` is `None` goes with the club.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_players", index(fields(club_id, nick), unique))]
pub struct Player {
    #[drift(primary_key)]
    pub id: u64,
    pub club_id: u64,
    pub nick: Option<String>,
    #[drift(belongs_to(Club, key = club_id, on_delete = cascade))]
    pub club: BelongsTo<Club>,
}

/// An `auto_increment` key inside a secondary index: the entry must hold the
/// assigned key, not the 0 the row was inserted with.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_tickets", index(fields(club_id, id)))]
pub struct Ticket {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub club_id: u64,
    pub seat: u8,
    #[drift(belongs_to(Club, key = club_id, on_delete = cascade))]
    pub club: BelongsTo<Club>,
}

/// As [`Ticket`], with a unique index and `restrict`.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_stubs", index(fields(club_id, id), unique))]
pub struct Stub {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub club_id: u64,
    pub seat: u8,
    #[drift(belongs_to(Club, key = club_id, on_delete = restrict))]
    pub club: BelongsTo<Club>,
}

/// A tree (or a chain) through `parent_id`, deleted with all its descendants, and
/// links to any node, nulled when it goes.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_nodes")]
pub struct Node {
    #[drift(primary_key)]
    pub id: u64,
    pub parent_id: Option<u64>,
    pub link_id: Option<u64>,
    pub tag: u8,
    #[drift(belongs_to(Node, key = parent_id, on_delete = cascade))]
    pub parent: BelongsTo<Node>,
    #[drift(belongs_to(Node, key = link_id, on_delete = set_null))]
    pub link: BelongsTo<Node>,
    #[drift(has_many(Node, foreign_key = parent_id))]
    pub children: HasMany<Node>,
    #[drift(has_many(Node, foreign_key = link_id))]
    pub linked: HasMany<Node>,
}

/// An `auto_increment` key that inserts may also give explicitly.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_passes")]
pub struct Pass {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub code: u8,
    pub club_id: u64,
    #[drift(belongs_to(Club, key = club_id, on_delete = cascade))]
    pub club: BelongsTo<Club>,
}

fn builder() -> drift::DbBuilder {
    Db::builder()
        .entity::<Author>()
        .entity::<Book>()
        .entity::<Review>()
        .entity::<Loan>()
        .entity::<Cover>()
        .entity::<Shelf>()
        .entity::<Placement>()
        .entity::<Bin>()
        .entity::<Club>()
        .entity::<Coach>()
        .entity::<Player>()
        .entity::<Ticket>()
        .entity::<Stub>()
        .entity::<Node>()
        .entity::<Pass>()
}

// ---------------------------------------------------------------------------------
// Key spaces: small, so that collisions, missing parents and restricts are common.
// A foreign key ranges one past its parent's keys: a parent that never exists.

const AUTHOR_IDS: u64 = 4;
const BOOK_IDS: u64 = 5;
const NAMES: [&str; 3] = ["ann", "bob", "cy"];
const GENRES: u8 = 3;
const STARS: u8 = 3;
const TICKETS: u32 = 4;
const COLORS: u8 = 2;
/// "a" and "ab": a string key must not match another as a prefix.
const ROOMS: [&str; 3] = ["a", "ab", "b"];
const SLOTS: u32 = 2;
const LABELS: [&str; 2] = ["x", "y"];
const QTYS: u8 = 3;

fn author(id: u64, name: &str, mentor_id: Option<u64>) -> Author {
    Author { id, name: name.into(), mentor_id, ..Default::default() }
}
fn book(id: u64, author_id: u64, genre: u8) -> Book {
    Book { id, author_id, genre, ..Default::default() }
}
fn review(id: u64, book_id: u64, author_id: Option<u64>, stars: u8) -> Review {
    Review { id, book_id, author_id, stars, ..Default::default() }
}
fn loan(id: u64, book_id: u64, ticket: u32) -> Loan {
    Loan { id, book_id, ticket, ..Default::default() }
}
fn cover(id: u64, book_id: u64, color: u8) -> Cover {
    Cover { id, book_id, color, ..Default::default() }
}
fn shelf(room: &str, slot: u32, label: &str) -> Shelf {
    Shelf { room: room.into(), slot, label: label.into(), ..Default::default() }
}
fn placement(id: u64, room: &str, slot: u32, qty: u8) -> Placement {
    Placement { id, room: room.into(), slot, qty, ..Default::default() }
}
fn bin(room: &str, slot: u32, n: u8, note: &str) -> Bin {
    Bin { room: room.into(), slot, n, note: note.into(), ..Default::default() }
}

/// Club keys, and one past them in foreign keys.
const CLUB_IDS: u64 = 3;
const NICKS: [&str; 2] = ["x", "y"];
const SEATS: u8 = 2;
/// Ids at which `club_id = c AND id > k` queries on the auto-assigned keys start.
const AFTER: [u64; 5] = [0, 1, 3, 7, 15];
const NODE_IDS: u64 = 8;
const TAGS: u8 = 2;
const CODES: u8 = 4;

fn club(id: u64, tier: u8) -> Club {
    Club { id, tier, ..Default::default() }
}
fn coach(id: u64, club_id: u64, nick: Option<&str>) -> Coach {
    Coach { id, club_id, nick: nick.map(str::to_string), ..Default::default() }
}
fn player(id: u64, club_id: u64, nick: Option<&str>) -> Player {
    Player { id, club_id, nick: nick.map(str::to_string), ..Default::default() }
}
fn ticket(id: u64, club_id: u64, seat: u8) -> Ticket {
    Ticket { id, club_id, seat, ..Default::default() }
}
fn stub(id: u64, club_id: u64, seat: u8) -> Stub {
    Stub { id, club_id, seat, ..Default::default() }
}
fn node(id: u64, parent_id: Option<u64>, link_id: Option<u64>, tag: u8) -> Node {
    Node { id, parent_id, link_id, tag, ..Default::default() }
}
fn pass(id: u64, code: u8, club_id: u64) -> Pass {
    Pass { id, code, club_id, ..Default::default() }
}

type ShelfKey = (String, u32);
type BinKey = (String, u32, u8);

fn shelf_keys() -> Vec<ShelfKey> {
    ROOMS.iter().flat_map(|r| (0..SLOTS).map(move |s| ((*r).to_string(), s))).collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Row {
    Author(Author),
    Book(Book),
    Review(Review),
    Loan(Loan),
    Cover(Cover),
    Shelf(Shelf),
    Placement(Placement),
    Bin(Bin),
    Club(Club),
    Coach(Coach),
    Player(Player),
    Ticket(Ticket),
    Stub(Stub),
    Node(Node),
    Pass(Pass),
}

#[derive(Debug, Clone, PartialEq)]
enum Key {
    Author(u64),
    Book(u64),
    Review(u64),
    Loan(u64),
    Cover(u64),
    Shelf(ShelfKey),
    Placement(u64),
    Bin(BinKey),
    Club(u64),
    Coach(u64),
    Player(u64),
    Ticket(u64),
    Stub(u64),
    Node(u64),
    Pass(u64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Insert,
    Update,
    Upsert,
}

#[derive(Debug, Clone)]
enum Op {
    Put(Mode, Row),
    Delete(Key),
}

/// An operation as generated, and `Some(pick)` to aim it at rows that exist when it
/// runs (chosen by `pick`): a delete or an update at an existing row, and the row's
/// foreign keys at existing parents, so that deep rows get built and cascades run.
/// `None` keeps the generated keys, which often name no row or no parent.
#[derive(Debug, Clone)]
struct Gen(Op, Option<usize>);

fn nth<K: Clone, V>(map: &BTreeMap<K, V>, pick: usize) -> Option<K> {
    map.keys().nth(pick.checked_rem(map.len())?).cloned()
}

impl Gen {
    fn resolve(&self, m: &Model) -> Op {
        let &Gen(ref op, Some(pick)) = self else { return self.0.clone() };
        let (mode, row) = match op {
            Op::Put(mode, row) => (*mode, row),
            Op::Delete(key) => {
                let key = match key {
                    Key::Author(k) => Key::Author(nth(&m.authors, pick).unwrap_or(*k)),
                    Key::Book(k) => Key::Book(nth(&m.books, pick).unwrap_or(*k)),
                    Key::Review(k) => Key::Review(nth(&m.reviews, pick).unwrap_or(*k)),
                    Key::Loan(k) => Key::Loan(nth(&m.loans, pick).unwrap_or(*k)),
                    Key::Cover(k) => Key::Cover(nth(&m.covers, pick).unwrap_or(*k)),
                    Key::Shelf(k) => Key::Shelf(nth(&m.shelves, pick).unwrap_or_else(|| k.clone())),
                    Key::Placement(k) => Key::Placement(nth(&m.placements, pick).unwrap_or(*k)),
                    Key::Bin(k) => Key::Bin(nth(&m.bins, pick).unwrap_or_else(|| k.clone())),
                    Key::Club(k) => Key::Club(nth(&m.clubs, pick).unwrap_or(*k)),
                    Key::Coach(k) => Key::Coach(nth(&m.coaches, pick).unwrap_or(*k)),
                    Key::Player(k) => Key::Player(nth(&m.players, pick).unwrap_or(*k)),
                    Key::Ticket(k) => Key::Ticket(nth(&m.tickets, pick).unwrap_or(*k)),
                    Key::Stub(k) => Key::Stub(nth(&m.stubs, pick).unwrap_or(*k)),
                    Key::Node(k) => Key::Node(nth(&m.nodes, pick).unwrap_or(*k)),
                    Key::Pass(k) => Key::Pass(nth(&m.passes, pick).unwrap_or(*k)),
                };
                return Op::Delete(key);
            }
        };
        let mut row = row.clone();
        let (author, book, shelf) = (nth(&m.authors, pick), nth(&m.books, pick), nth(&m.shelves, pick));
        let other_author = nth(&m.authors, pick / 7);
        let club = nth(&m.clubs, pick);
        let update = mode != Mode::Insert;
        let own = pick / 3;
        match &mut row {
            Row::Author(r) => {
                if update {
                    r.id = nth(&m.authors, own).unwrap_or(r.id);
                }
                r.mentor_id = r.mentor_id.and(other_author);
            }
            Row::Book(r) => {
                if update {
                    r.id = nth(&m.books, own).unwrap_or(r.id);
                }
                r.author_id = author.unwrap_or(r.author_id);
            }
            Row::Review(r) => {
                if update {
                    r.id = nth(&m.reviews, own).unwrap_or(r.id);
                }
                r.book_id = book.unwrap_or(r.book_id);
                r.author_id = r.author_id.and(other_author);
            }
            Row::Loan(r) => {
                if update {
                    r.id = nth(&m.loans, own).unwrap_or(r.id);
                }
                r.book_id = book.unwrap_or(r.book_id);
            }
            Row::Cover(r) => {
                if update {
                    r.id = nth(&m.covers, own).unwrap_or(r.id);
                }
                r.book_id = book.unwrap_or(r.book_id);
            }
            Row::Shelf(r) => {
                if update {
                    (r.room, r.slot) = nth(&m.shelves, own).unwrap_or((r.room.clone(), r.slot));
                }
            }
            Row::Placement(r) => {
                if update {
                    r.id = nth(&m.placements, own).unwrap_or(r.id);
                }
                (r.room, r.slot) = shelf.unwrap_or((r.room.clone(), r.slot));
            }
            Row::Bin(r) => {
                // Its foreign key is part of its key: an update keeps the shelf.
                if update {
                    (r.room, r.slot, r.n) = nth(&m.bins, own).unwrap_or((r.room.clone(), r.slot, r.n));
                } else {
                    (r.room, r.slot) = shelf.unwrap_or((r.room.clone(), r.slot));
                }
            }
            Row::Club(r) => {
                if update {
                    r.id = nth(&m.clubs, own).unwrap_or(r.id);
                }
            }
            Row::Coach(r) => {
                if update {
                    r.id = nth(&m.coaches, own).unwrap_or(r.id);
                }
                r.club_id = club.unwrap_or(r.club_id);
            }
            Row::Player(r) => {
                if update {
                    r.id = nth(&m.players, own).unwrap_or(r.id);
                }
                r.club_id = club.unwrap_or(r.club_id);
            }
            // An insert keeps its key (0: assigned by the sequence, or explicit).
            Row::Ticket(r) => {
                if update {
                    r.id = nth(&m.tickets, own).unwrap_or(r.id);
                }
                r.club_id = club.unwrap_or(r.club_id);
            }
            Row::Stub(r) => {
                if update {
                    r.id = nth(&m.stubs, own).unwrap_or(r.id);
                }
                r.club_id = club.unwrap_or(r.club_id);
            }
            Row::Pass(r) => {
                if update {
                    r.id = nth(&m.passes, own).unwrap_or(r.id);
                }
                r.club_id = club.unwrap_or(r.club_id);
            }
            Row::Node(r) => {
                if update {
                    r.id = nth(&m.nodes, own).unwrap_or(r.id);
                }
                // One in three under the deepest node, so that long chains grow.
                let parent = if pick % 3 == 0 { m.deepest_node() } else { nth(&m.nodes, pick) };
                r.parent_id = r.parent_id.and(parent);
                r.link_id = r.link_id.and(nth(&m.nodes, pick / 7));
            }
        }
        Op::Put(mode, row)
    }
}

// ---------------------------------------------------------------------------------
// The oracle.

#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    authors: BTreeMap<u64, Author>,
    books: BTreeMap<u64, Book>,
    reviews: BTreeMap<u64, Review>,
    loans: BTreeMap<u64, Loan>,
    covers: BTreeMap<u64, Cover>,
    shelves: BTreeMap<ShelfKey, Shelf>,
    placements: BTreeMap<u64, Placement>,
    bins: BTreeMap<BinKey, Bin>,
    clubs: BTreeMap<u64, Club>,
    coaches: BTreeMap<u64, Coach>,
    players: BTreeMap<u64, Player>,
    tickets: BTreeMap<u64, Ticket>,
    stubs: BTreeMap<u64, Stub>,
    nodes: BTreeMap<u64, Node>,
    passes: BTreeMap<u64, Pass>,
    sequences: Sequences,
}

/// Per `auto_increment` entity, the highest key a committed insert gave or was
/// given: the next assigned key is one more. A failed statement, a rolled-back
/// savepoint or transaction, and deletes do not move it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sequences {
    ticket: u64,
    stub: u64,
    pass: u64,
}

/// A put returns the row as written (with its assigned key), a delete the row removed.
type Outcome = Result<Option<Row>, ErrorKind>;

impl Model {
    fn exists(&self, row: &Row) -> bool {
        match row {
            Row::Author(r) => self.authors.contains_key(&r.id),
            Row::Book(r) => self.books.contains_key(&r.id),
            Row::Review(r) => self.reviews.contains_key(&r.id),
            Row::Loan(r) => self.loans.contains_key(&r.id),
            Row::Cover(r) => self.covers.contains_key(&r.id),
            Row::Shelf(r) => self.shelves.contains_key(&(r.room.clone(), r.slot)),
            Row::Placement(r) => self.placements.contains_key(&r.id),
            Row::Bin(r) => self.bins.contains_key(&(r.room.clone(), r.slot, r.n)),
            Row::Club(r) => self.clubs.contains_key(&r.id),
            Row::Coach(r) => self.coaches.contains_key(&r.id),
            Row::Player(r) => self.players.contains_key(&r.id),
            Row::Ticket(r) => self.tickets.contains_key(&r.id),
            Row::Stub(r) => self.stubs.contains_key(&r.id),
            Row::Node(r) => self.nodes.contains_key(&r.id),
            Row::Pass(r) => self.passes.contains_key(&r.id),
        }
    }

    /// The sequence and the key of a row of an `auto_increment` entity.
    fn auto_key<'r>(&mut self, row: &'r mut Row) -> Option<(&mut u64, &'r mut u64)> {
        match row {
            Row::Ticket(r) => Some((&mut self.sequences.ticket, &mut r.id)),
            Row::Stub(r) => Some((&mut self.sequences.stub, &mut r.id)),
            Row::Pass(r) => Some((&mut self.sequences.pass, &mut r.id)),
            _ => None,
        }
    }

    /// No other row holds the row's unique values.
    fn unique_ok(&self, row: &Row) -> bool {
        match row {
            Row::Loan(r) => !self.loans.values().any(|o| o.ticket == r.ticket && o.id != r.id),
            Row::Cover(r) => !self.covers.values().any(|o| o.book_id == r.book_id && o.id != r.id),
            // `None`s do not collide.
            Row::Coach(r) => {
                r.nick.is_none()
                    || !self.coaches.values().any(|o| (o.club_id, &o.nick) == (r.club_id, &r.nick) && o.id != r.id)
            }
            Row::Player(r) => {
                r.nick.is_none()
                    || !self.players.values().any(|o| (o.club_id, &o.nick) == (r.club_id, &r.nick) && o.id != r.id)
            }
            // (club_id, id) holds the key: never taken by another row.
            Row::Stub(_) => true,
            Row::Pass(r) => !self.passes.values().any(|o| o.code == r.code && o.id != r.id),
            _ => true,
        }
    }

    /// Every foreign key of the row names a parent (a row may be its own parent).
    fn fk_ok(&self, row: &Row) -> bool {
        let shelf = |room: &str, slot: u32| self.shelves.contains_key(&(room.to_string(), slot));
        match row {
            Row::Author(r) => r.mentor_id.is_none_or(|m| m == r.id || self.authors.contains_key(&m)),
            Row::Book(r) => self.authors.contains_key(&r.author_id),
            Row::Review(r) => {
                self.books.contains_key(&r.book_id) && r.author_id.is_none_or(|a| self.authors.contains_key(&a))
            }
            Row::Loan(r) => self.books.contains_key(&r.book_id),
            Row::Cover(r) => self.books.contains_key(&r.book_id),
            Row::Shelf(_) => true,
            Row::Placement(r) => shelf(&r.room, r.slot),
            Row::Bin(r) => shelf(&r.room, r.slot),
            Row::Club(_) => true,
            Row::Coach(r) => self.clubs.contains_key(&r.club_id),
            Row::Player(r) => self.clubs.contains_key(&r.club_id),
            Row::Ticket(r) => self.clubs.contains_key(&r.club_id),
            Row::Stub(r) => self.clubs.contains_key(&r.club_id),
            Row::Pass(r) => self.clubs.contains_key(&r.club_id),
            Row::Node(r) => {
                let node = |n: Option<u64>| n.is_none_or(|n| n == r.id || self.nodes.contains_key(&n));
                node(r.parent_id) && node(r.link_id)
            }
        }
    }

    fn store(&mut self, row: Row) {
        match row {
            Row::Author(r) => drop(self.authors.insert(r.id, r)),
            Row::Book(r) => drop(self.books.insert(r.id, r)),
            Row::Review(r) => drop(self.reviews.insert(r.id, r)),
            Row::Loan(r) => drop(self.loans.insert(r.id, r)),
            Row::Cover(r) => drop(self.covers.insert(r.id, r)),
            Row::Shelf(r) => drop(self.shelves.insert((r.room.clone(), r.slot), r)),
            Row::Placement(r) => drop(self.placements.insert(r.id, r)),
            Row::Bin(r) => drop(self.bins.insert((r.room.clone(), r.slot, r.n), r)),
            Row::Club(r) => drop(self.clubs.insert(r.id, r)),
            Row::Coach(r) => drop(self.coaches.insert(r.id, r)),
            Row::Player(r) => drop(self.players.insert(r.id, r)),
            Row::Ticket(r) => drop(self.tickets.insert(r.id, r)),
            Row::Stub(r) => drop(self.stubs.insert(r.id, r)),
            Row::Node(r) => drop(self.nodes.insert(r.id, r)),
            Row::Pass(r) => drop(self.passes.insert(r.id, r)),
        }
    }

    /// The statement's checks in the library's order: an `auto_increment` key of 0
    /// (insert or upsert) takes the next key of the sequence, failing when it is
    /// exhausted; then the key (taken or missing), unique indexes, foreign keys. A
    /// row inserted raises the sequence to its key.
    fn put(&mut self, mode: Mode, row: &Row) -> Outcome {
        let mut row = row.clone();
        if let Some((seq, id)) = self.auto_key(&mut row)
            && *id == 0
            && mode != Mode::Update
        {
            *id = seq.checked_add(1).ok_or(ErrorKind::Key)?;
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
        if let Some((seq, id)) = self.auto_key(&mut row)
            && !exists
        {
            *seq = (*seq).max(*id);
        }
        self.store(row.clone());
        Ok(Some(row))
    }

    /// The node with the longest chain of parents above it (the first such, by key).
    fn deepest_node(&self) -> Option<u64> {
        let depth = |n: &Node| {
            let (mut id, mut d) = (n.id, 0);
            while let Some(p) = self.nodes.get(&id).and_then(|n| n.parent_id).filter(|&p| p != id) {
                id = p;
                d += 1;
                if d > self.nodes.len() {
                    break; // a cycle
                }
            }
            d
        };
        self.nodes.values().max_by_key(|n| (depth(n), std::cmp::Reverse(n.id))).map(|n| n.id)
    }

    /// All or nothing: a restrict anywhere in the cascade leaves the model unchanged.
    fn delete(&mut self, key: &Key) -> Outcome {
        let mut next = self.clone();
        let removed = next.delete_rec(key)?;
        *self = next;
        Ok(removed)
    }

    fn delete_rec(&mut self, key: &Key) -> Outcome {
        Ok(match key {
            Key::Author(a) => {
                let Some(row) = self.authors.remove(a) else { return Ok(None) };
                for b in keys_where(&self.books, |r| r.author_id == *a) {
                    self.delete_rec(&Key::Book(b))?;
                }
                for r in self.reviews.values_mut().filter(|r| r.author_id == Some(*a)) {
                    r.author_id = None;
                }
                for m in self.authors.values_mut().filter(|m| m.mentor_id == Some(*a)) {
                    m.mentor_id = None;
                }
                Some(Row::Author(row))
            }
            Key::Book(b) => {
                let Some(row) = self.books.remove(b) else { return Ok(None) };
                if self.loans.values().any(|l| l.book_id == *b) {
                    return Err(ErrorKind::Restrict);
                }
                self.reviews.retain(|_, r| r.book_id != *b);
                self.covers.retain(|_, c| c.book_id != *b);
                Some(Row::Book(row))
            }
            Key::Shelf(k) => {
                let Some(row) = self.shelves.remove(k) else { return Ok(None) };
                if self.bins.values().any(|x| (&x.room, x.slot) == (&k.0, k.1)) {
                    return Err(ErrorKind::Restrict);
                }
                self.placements.retain(|_, p| (&p.room, p.slot) != (&k.0, k.1));
                Some(Row::Shelf(row))
            }
            Key::Club(c) => {
                let Some(row) = self.clubs.remove(c) else { return Ok(None) };
                if self.coaches.values().any(|x| x.club_id == *c) || self.stubs.values().any(|x| x.club_id == *c) {
                    return Err(ErrorKind::Restrict);
                }
                self.players.retain(|_, x| x.club_id != *c);
                self.tickets.retain(|_, x| x.club_id != *c);
                self.passes.retain(|_, x| x.club_id != *c);
                Some(Row::Club(row))
            }
            Key::Node(n) => {
                let Some(row) = self.nodes.remove(n) else { return Ok(None) };
                for child in keys_where(&self.nodes, |x| x.parent_id == Some(*n)) {
                    self.delete_rec(&Key::Node(child))?;
                }
                for x in self.nodes.values_mut().filter(|x| x.link_id == Some(*n)) {
                    x.link_id = None;
                }
                Some(Row::Node(row))
            }
            Key::Coach(k) => self.coaches.remove(k).map(Row::Coach),
            Key::Player(k) => self.players.remove(k).map(Row::Player),
            Key::Ticket(k) => self.tickets.remove(k).map(Row::Ticket),
            Key::Stub(k) => self.stubs.remove(k).map(Row::Stub),
            Key::Pass(k) => self.passes.remove(k).map(Row::Pass),
            Key::Review(k) => self.reviews.remove(k).map(Row::Review),
            Key::Loan(k) => self.loans.remove(k).map(Row::Loan),
            Key::Cover(k) => self.covers.remove(k).map(Row::Cover),
            Key::Placement(k) => self.placements.remove(k).map(Row::Placement),
            Key::Bin(k) => self.bins.remove(k).map(Row::Bin),
        })
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Put(mode, row) => self.put(*mode, row),
            Op::Delete(key) => self.delete(key),
        }
    }

    /// The oracle itself keeps referential integrity.
    fn assert_consistent(&self) {
        let rows = self.authors.values().cloned().map(Row::Author);
        let rows = rows.chain(self.books.values().cloned().map(Row::Book));
        let rows = rows.chain(self.reviews.values().cloned().map(Row::Review));
        let rows = rows.chain(self.loans.values().cloned().map(Row::Loan));
        let rows = rows.chain(self.covers.values().cloned().map(Row::Cover));
        let rows = rows.chain(self.placements.values().cloned().map(Row::Placement));
        let rows = rows.chain(self.bins.values().cloned().map(Row::Bin));
        let rows = rows.chain(self.coaches.values().cloned().map(Row::Coach));
        let rows = rows.chain(self.players.values().cloned().map(Row::Player));
        let rows = rows.chain(self.tickets.values().cloned().map(Row::Ticket));
        let rows = rows.chain(self.stubs.values().cloned().map(Row::Stub));
        let rows = rows.chain(self.nodes.values().cloned().map(Row::Node));
        let rows = rows.chain(self.passes.values().cloned().map(Row::Pass));
        for row in rows {
            assert!(self.fk_ok(&row), "the oracle dangles: {row:?}");
        }
    }
}

fn keys_where<K: Clone, V>(map: &BTreeMap<K, V>, f: impl Fn(&V) -> bool) -> Vec<K> {
    map.iter().filter(|(_, v)| f(v)).map(|(k, _)| k.clone()).collect()
}

fn values_where<K, V: Clone>(map: &BTreeMap<K, V>, f: impl Fn(&V) -> bool) -> Vec<V> {
    map.values().filter(|v| f(v)).cloned().collect()
}

/// A histogram of `f` over the rows, as an index-only `group_by(..).aggregate((count(),))` returns it.
fn histogram<K, V, G: Ord>(map: &BTreeMap<K, V>, f: impl Fn(&V) -> G) -> Vec<(G, (u64,))> {
    let mut h: BTreeMap<G, u64> = BTreeMap::new();
    for v in map.values() {
        *h.entry(f(v)).or_default() += 1;
    }
    h.into_iter().map(|(g, n)| (g, (n,))).collect()
}

// ---------------------------------------------------------------------------------
// Running operations on the database.

/// Writes the row; returns it as stored (with its assigned key, for an
/// `auto_increment` key of 0).
fn put<T: Entity>(tx: &mut WriteTx, mode: Mode, row: &T) -> drift::Result<T> {
    let key = match mode {
        Mode::Insert => tx.insert(row)?,
        Mode::Update => tx.update(row).map(|()| row.key())?,
        Mode::Upsert => tx.upsert(row)?,
    };
    Ok(tx.get::<T>(&key)?.expect("the row just written"))
}

fn run(tx: &mut WriteTx, op: &Op) -> drift::Result<Option<Row>> {
    match op {
        Op::Put(mode, row) => Ok(Some(match row {
            Row::Author(r) => Row::Author(put(tx, *mode, r)?),
            Row::Book(r) => Row::Book(put(tx, *mode, r)?),
            Row::Review(r) => Row::Review(put(tx, *mode, r)?),
            Row::Loan(r) => Row::Loan(put(tx, *mode, r)?),
            Row::Cover(r) => Row::Cover(put(tx, *mode, r)?),
            Row::Shelf(r) => Row::Shelf(put(tx, *mode, r)?),
            Row::Placement(r) => Row::Placement(put(tx, *mode, r)?),
            Row::Bin(r) => Row::Bin(put(tx, *mode, r)?),
            Row::Club(r) => Row::Club(put(tx, *mode, r)?),
            Row::Coach(r) => Row::Coach(put(tx, *mode, r)?),
            Row::Player(r) => Row::Player(put(tx, *mode, r)?),
            Row::Ticket(r) => Row::Ticket(put(tx, *mode, r)?),
            Row::Stub(r) => Row::Stub(put(tx, *mode, r)?),
            Row::Node(r) => Row::Node(put(tx, *mode, r)?),
            Row::Pass(r) => Row::Pass(put(tx, *mode, r)?),
        })),
        Op::Delete(key) => Ok(match key {
            Key::Author(k) => tx.delete::<Author>(k)?.map(Row::Author),
            Key::Book(k) => tx.delete::<Book>(k)?.map(Row::Book),
            Key::Review(k) => tx.delete::<Review>(k)?.map(Row::Review),
            Key::Loan(k) => tx.delete::<Loan>(k)?.map(Row::Loan),
            Key::Cover(k) => tx.delete::<Cover>(k)?.map(Row::Cover),
            Key::Shelf(k) => tx.delete::<Shelf>(k)?.map(Row::Shelf),
            Key::Placement(k) => tx.delete::<Placement>(k)?.map(Row::Placement),
            Key::Bin(k) => tx.delete::<Bin>(k)?.map(Row::Bin),
            Key::Club(k) => tx.delete::<Club>(k)?.map(Row::Club),
            Key::Coach(k) => tx.delete::<Coach>(k)?.map(Row::Coach),
            Key::Player(k) => tx.delete::<Player>(k)?.map(Row::Player),
            Key::Ticket(k) => tx.delete::<Ticket>(k)?.map(Row::Ticket),
            Key::Stub(k) => tx.delete::<Stub>(k)?.map(Row::Stub),
            Key::Node(k) => tx.delete::<Node>(k)?.map(Row::Node),
            Key::Pass(k) => tx.delete::<Pass>(k)?.map(Row::Pass),
        }),
    }
}

fn same_outcome(op: &Op, got: drift::Result<Option<Row>>, want: &Outcome) {
    match (&got, want) {
        (Ok(g), Ok(w)) => assert_eq!(g, w, "{op:?}"),
        (Err(e), Err(k)) => assert_eq!(e.kind(), *k, "{op:?}: {e}"),
        _ => panic!("{op:?}: the database gave {got:?}, the oracle {want:?}"),
    }
}

// ---------------------------------------------------------------------------------
// Checking the database against the oracle.

/// Queries on either kind of transaction.
trait Tx: Transaction {
    fn q<T: Entity>(&self) -> Query<'_, T>;
    fn st(&self) -> drift::TxStats;
}

impl Tx for ReadTx {
    fn q<T: Entity>(&self) -> Query<'_, T> {
        self.query::<T>()
    }
    fn st(&self) -> drift::TxStats {
        self.stats()
    }
}

impl Tx for WriteTx {
    fn q<T: Entity>(&self) -> Query<'_, T> {
        self.query::<T>()
    }
    fn st(&self) -> drift::TxStats {
        self.stats()
    }
}

fn all<T: Entity, X: Tx>(tx: &X) -> Vec<T> {
    tx.q::<T>().all().unwrap()
}

/// `filter` counted from its index (no table is scanned), and its rows, equal the
/// oracle's.
fn index_eq<T: Entity + PartialEq + std::fmt::Debug, X: Tx>(tx: &X, filter: Filter<T>, want: &[T], what: &str) {
    let before = tx.st();
    let n = tx.q::<T>().filter(filter.clone()).count().unwrap();
    let after = tx.st();
    assert_eq!(n, want.len() as u64, "count of {what}");
    assert_eq!(after.table_scans, before.table_scans, "count of {what} scanned the table");
    assert_eq!(after.rows_decoded, before.rows_decoded, "count of {what} decoded rows");
    same_rows(&tx.q::<T>().filter(filter).all().unwrap(), want, what);
}

/// `filter`'s count and rows, by whatever path the planner takes, equal the oracle's.
fn rows_eq<T: Entity + PartialEq + std::fmt::Debug, X: Tx>(tx: &X, filter: Filter<T>, want: &[T], what: &str) {
    assert_eq!(tx.q::<T>().filter(filter.clone()).count().unwrap(), want.len() as u64, "count of {what}");
    same_rows(&tx.q::<T>().filter(filter).all().unwrap(), want, what);
}

/// The same rows, each as many times, in any order (an index path yields them in
/// index order).
fn same_rows<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], what: &str) {
    let times = |rows: &[T], row: &T| rows.iter().filter(|r| *r == row).count();
    let same = got.len() == want.len() && got.iter().all(|g| times(got, g) == times(want, g));
    assert!(same, "rows of {what}: {got:?} != {want:?}");
}

impl Model {
    /// Every row of every entity in the database.
    fn read<X: Tx>(tx: &X) -> Model {
        let mut m = Model::default();
        let rows = all::<Author, X>(tx).into_iter().map(Row::Author);
        let rows = rows.chain(all::<Book, X>(tx).into_iter().map(Row::Book));
        let rows = rows.chain(all::<Review, X>(tx).into_iter().map(Row::Review));
        let rows = rows.chain(all::<Loan, X>(tx).into_iter().map(Row::Loan));
        let rows = rows.chain(all::<Cover, X>(tx).into_iter().map(Row::Cover));
        let rows = rows.chain(all::<Shelf, X>(tx).into_iter().map(Row::Shelf));
        let rows = rows.chain(all::<Placement, X>(tx).into_iter().map(Row::Placement));
        let rows = rows.chain(all::<Bin, X>(tx).into_iter().map(Row::Bin));
        let rows = rows.chain(all::<Club, X>(tx).into_iter().map(Row::Club));
        let rows = rows.chain(all::<Coach, X>(tx).into_iter().map(Row::Coach));
        let rows = rows.chain(all::<Player, X>(tx).into_iter().map(Row::Player));
        let rows = rows.chain(all::<Ticket, X>(tx).into_iter().map(Row::Ticket));
        let rows = rows.chain(all::<Stub, X>(tx).into_iter().map(Row::Stub));
        let rows = rows.chain(all::<Node, X>(tx).into_iter().map(Row::Node));
        for row in rows.chain(all::<Pass, X>(tx).into_iter().map(Row::Pass)) {
            assert!(!m.exists(&row), "a key returned twice: {row:?}");
            m.store(row);
        }
        m
    }
}

/// Everything: the rows of every entity, and the indexes and loaders of every shape.
fn check<X: Tx>(tx: &X, m: &Model) {
    check_as(tx, m, None);
}

/// The rows of every entity, and the indexes and loaders of `shape` (all when `None`):
/// a run writes the entities of one shape, the others stay empty.
fn check_as<X: Tx>(tx: &X, m: &Model, shape: Option<Shape>) {
    m.assert_consistent();
    // Every row of every entity, and no foreign key dangles.
    let db = Model::read(tx);
    assert_eq!(db.authors, m.authors);
    assert_eq!(db.books, m.books);
    assert_eq!(db.reviews, m.reviews);
    assert_eq!(db.loans, m.loans);
    assert_eq!(db.covers, m.covers);
    assert_eq!(db.shelves, m.shelves);
    assert_eq!(db.placements, m.placements);
    assert_eq!(db.bins, m.bins);
    assert_eq!(db.clubs, m.clubs);
    assert_eq!(db.coaches, m.coaches);
    assert_eq!(db.players, m.players);
    assert_eq!(db.tickets, m.tickets);
    assert_eq!(db.stubs, m.stubs);
    assert_eq!(db.nodes, m.nodes);
    assert_eq!(db.passes, m.passes);
    db.assert_consistent();
    let on = |s: Shape| shape.is_none_or(|shape| shape == s);
    if on(Shape::Library) {
        check_library(tx, m, &db);
    }
    if on(Shape::OptionalInUniqueIndex) {
        check_optional_in_unique_index(tx, m, &db);
    }
    if on(Shape::AutoKeyInIndex) {
        check_auto_key_in_index(tx, m, &db);
    }
    if on(Shape::Tree) {
        check_tree(tx, m, &db);
    }
    if on(Shape::ExplicitAutoKeys) {
        check_explicit_auto_keys(tx, m, &db);
    }
}

/// The indexes and loaders of the library schema; `db` holds the rows read from `tx`.
fn check_library<X: Tx>(tx: &X, m: &Model, db: &Model) {
    // Indexes: an equality count per value of the (small) domain, answered from the
    // index, and the index-only histogram of each non-unique index.
    for name in NAMES {
        let want = values_where(&m.authors, |a| a.name == name);
        index_eq(tx, Author::NAME.eq(name.to_string()), &want, "Author.name");
    }
    for a in 0..=AUTHOR_IDS {
        let want = values_where(&m.authors, |x| x.mentor_id == Some(a));
        index_eq(tx, Author::MENTOR_ID.eq(Some(a)), &want, "Author.mentor_id");
        let want = values_where(&m.books, |b| b.author_id == a);
        index_eq(tx, Book::AUTHOR_ID.eq(a), &want, "Book.author_id");
        let want = values_where(&m.reviews, |r| r.author_id == Some(a));
        index_eq(tx, Review::AUTHOR_ID.eq(Some(a)), &want, "Review.author_id");
    }
    index_eq(tx, Author::MENTOR_ID.is_none(), &values_where(&m.authors, |x| x.mentor_id.is_none()), "no mentor");
    index_eq(tx, Review::AUTHOR_ID.is_none(), &values_where(&m.reviews, |r| r.author_id.is_none()), "no author");
    for g in 0..GENRES {
        index_eq(tx, Book::GENRE.eq(g), &values_where(&m.books, |b| b.genre == g), "Book.genre");
    }
    for a in (0..=AUTHOR_IDS).map(Some).chain([None]) {
        for s in 0..STARS {
            let want = values_where(&m.reviews, |r| r.author_id == a && r.stars == s);
            index_eq(tx, Review::AUTHOR_ID.eq(a) & Review::STARS.eq(s), &want, "Review.(author_id, stars)");
        }
    }
    for b in 0..=BOOK_IDS {
        index_eq(tx, Review::BOOK_ID.eq(b), &values_where(&m.reviews, |r| r.book_id == b), "Review.book_id");
        index_eq(tx, Loan::BOOK_ID.eq(b), &values_where(&m.loans, |l| l.book_id == b), "Loan.book_id");
        index_eq(tx, Cover::BOOK_ID.eq(b), &values_where(&m.covers, |c| c.book_id == b), "Cover.book_id");
    }
    for t in 0..TICKETS {
        index_eq(tx, Loan::TICKET.eq(t), &values_where(&m.loans, |l| l.ticket == t), "Loan.ticket");
    }
    for label in LABELS {
        index_eq(tx, Shelf::LABEL.eq(label.to_string()), &values_where(&m.shelves, |s| s.label == label), "label");
    }
    for q in 0..QTYS {
        index_eq(tx, Placement::QTY.eq(q), &values_where(&m.placements, |p| p.qty == q), "Placement.qty");
    }
    for (room, slot) in shelf_keys() {
        let want = values_where(&m.placements, |p| p.room == room && p.slot == slot);
        index_eq(tx, Placement::ROOM.eq(room.clone()) & Placement::SLOT.eq(slot), &want, "Placement.(room, slot)");
        // A primary-key prefix: counted from the table's keys.
        let want = values_where(&m.bins, |b| b.room == room && b.slot == slot);
        let filter = Bin::ROOM.eq(room.clone()) & Bin::SLOT.eq(slot);
        assert_eq!(tx.q::<Bin>().filter(filter.clone()).count().unwrap(), want.len() as u64);
        assert_eq!(tx.q::<Bin>().filter(filter).all().unwrap(), want);
    }
    assert_eq!(
        tx.q::<Author>().group_by(Author::NAME).aggregate((count(),)).all().unwrap(),
        histogram(&m.authors, |a| a.name.clone())
    );
    assert_eq!(
        tx.q::<Author>().group_by(Author::MENTOR_ID).aggregate((count(),)).all().unwrap(),
        histogram(&m.authors, |a| a.mentor_id)
    );
    assert_eq!(
        tx.q::<Book>().group_by(Book::AUTHOR_ID).aggregate((count(),)).all().unwrap(),
        histogram(&m.books, |b| b.author_id)
    );
    assert_eq!(
        tx.q::<Book>().group_by(Book::GENRE).aggregate((count(),)).all().unwrap(),
        histogram(&m.books, |b| b.genre)
    );
    assert_eq!(
        tx.q::<Review>().group_by(Review::BOOK_ID).aggregate((count(),)).all().unwrap(),
        histogram(&m.reviews, |r| r.book_id)
    );
    assert_eq!(
        tx.q::<Review>().group_by(Review::AUTHOR_ID).aggregate((count(),)).all().unwrap(),
        histogram(&m.reviews, |r| r.author_id)
    );
    assert_eq!(
        tx.q::<Review>().group_by((Review::AUTHOR_ID, Review::STARS)).aggregate((count(),)).all().unwrap(),
        histogram(&m.reviews, |r| (r.author_id, r.stars))
    );
    assert_eq!(
        tx.q::<Loan>().group_by(Loan::BOOK_ID).aggregate((count(),)).all().unwrap(),
        histogram(&m.loans, |l| l.book_id)
    );
    assert_eq!(
        tx.q::<Shelf>().group_by(Shelf::LABEL).aggregate((count(),)).all().unwrap(),
        histogram(&m.shelves, |s| s.label.clone())
    );
    assert_eq!(
        tx.q::<Placement>().group_by((Placement::ROOM, Placement::SLOT)).aggregate((count(),)).all().unwrap(),
        histogram(&m.placements, |p| (p.room.clone(), p.slot))
    );
    assert_eq!(
        tx.q::<Placement>().group_by(Placement::QTY).aggregate((count(),)).all().unwrap(),
        histogram(&m.placements, |p| p.qty)
    );
    for t in 0..TICKETS {
        let want = m.loans.values().find(|l| l.ticket == t).cloned();
        assert_eq!(tx.q::<Loan>().filter(Loan::TICKET.eq(t)).first().unwrap(), want, "unique ticket {t}");
    }

    // Lazy accessors, on rows read fresh from the transaction.
    for a in db.authors.values() {
        let mentor = a.mentor(tx).unwrap().cloned();
        assert_eq!(mentor, a.mentor_id.and_then(|id| m.authors.get(&id).cloned()), "mentor of {}", a.id);
        assert_eq!(a.mentees(tx).unwrap(), values_where(&m.authors, |x| x.mentor_id == Some(a.id)));
        assert_eq!(a.books(tx).unwrap(), values_where(&m.books, |b| b.author_id == a.id));
        assert_eq!(a.reviews(tx).unwrap(), values_where(&m.reviews, |r| r.author_id == Some(a.id)));
        same_rows(&a.books_query(tx).all().unwrap(), &values_where(&m.books, |b| b.author_id == a.id), "books_query");
        let want = values_where(&m.reviews, |r| r.author_id == Some(a.id));
        same_rows(&a.reviews_query(tx).all().unwrap(), &want, "reviews_query");
    }
    for b in db.books.values() {
        assert_eq!(Some(b.author(tx).unwrap()), m.authors.get(&b.author_id), "author of book {}", b.id);
        assert_eq!(b.reviews(tx).unwrap(), values_where(&m.reviews, |r| r.book_id == b.id));
        assert_eq!(b.loans(tx).unwrap(), values_where(&m.loans, |l| l.book_id == b.id));
        assert_eq!(b.cover(tx).unwrap(), m.covers.values().find(|c| c.book_id == b.id));
    }
    for r in db.reviews.values() {
        assert_eq!(Some(r.book(tx).unwrap()), m.books.get(&r.book_id), "book of review {}", r.id);
        assert_eq!(r.author(tx).unwrap(), r.author_id.and_then(|a| m.authors.get(&a)), "author of review {}", r.id);
    }
    for l in db.loans.values() {
        assert_eq!(Some(l.book(tx).unwrap()), m.books.get(&l.book_id), "book of loan {}", l.id);
    }
    for c in db.covers.values() {
        assert_eq!(Some(c.book(tx).unwrap()), m.books.get(&c.book_id), "book of cover {}", c.id);
    }
    for s in db.shelves.values() {
        assert_eq!(s.placements(tx).unwrap(), values_where(&m.placements, |p| (&p.room, p.slot) == (&s.room, s.slot)));
        assert_eq!(s.bins(tx).unwrap(), values_where(&m.bins, |b| (&b.room, b.slot) == (&s.room, s.slot)));
    }
    for p in db.placements.values() {
        assert_eq!(Some(p.shelf(tx).unwrap()), m.shelves.get(&(p.room.clone(), p.slot)), "shelf of {p:?}");
    }
    for b in db.bins.values() {
        assert_eq!(Some(b.shelf(tx).unwrap()), m.shelves.get(&(b.room.clone(), b.slot)), "shelf of {b:?}");
    }

    // Eager loading agrees with the lazy accessors.
    let eager = tx.q::<Review>().with(Review::BOOK).with(Review::AUTHOR).all().unwrap();
    for r in &eager {
        assert_eq!(r.book.loaded(), m.books.get(&r.book_id));
        assert_eq!(r.author.loaded(), r.author_id.and_then(|a| m.authors.get(&a)));
    }
    let eager = tx.q::<Author>().with(Author::BOOKS.then(Book::LOANS)).with(Author::MENTEES).all().unwrap();
    for a in &eager {
        let kids = a.books.loaded().unwrap();
        assert_eq!(kids, values_where(&m.books, |b| b.author_id == a.id));
        for b in kids {
            assert_eq!(b.loans.loaded().unwrap(), values_where(&m.loans, |l| l.book_id == b.id));
        }
        assert_eq!(a.mentees.loaded().unwrap(), values_where(&m.authors, |x| x.mentor_id == Some(a.id)));
    }
    let eager = tx.q::<Book>().with(Book::COVER).with(Book::REVIEWS).all().unwrap();
    for b in &eager {
        assert_eq!(b.cover.loaded(), m.covers.values().find(|c| c.book_id == b.id));
        assert_eq!(b.reviews.loaded().unwrap(), values_where(&m.reviews, |r| r.book_id == b.id));
    }
    let eager = tx.q::<Shelf>().with(Shelf::PLACEMENTS).with(Shelf::BINS).all().unwrap();
    for s in &eager {
        assert_eq!(
            s.placements.loaded().unwrap(),
            values_where(&m.placements, |p| (&p.room, p.slot) == (&s.room, s.slot))
        );
        assert_eq!(s.bins.loaded().unwrap(), values_where(&m.bins, |b| (&b.room, b.slot) == (&s.room, s.slot)));
    }
}

/// Coaches and players: `club_id` leads a unique index with an `Option` field.
fn check_optional_in_unique_index<X: Tx>(tx: &X, m: &Model, db: &Model) {
    let nicks = || [None].into_iter().chain(NICKS.map(|n| Some(n.to_string())));
    for c in 0..=CLUB_IDS {
        // Children whose nick is `None` included.
        rows_eq(tx, Coach::CLUB_ID.eq(c), &values_where(&m.coaches, |x| x.club_id == c), "Coach.club_id");
        rows_eq(tx, Player::CLUB_ID.eq(c), &values_where(&m.players, |x| x.club_id == c), "Player.club_id");
        for nick in nicks() {
            let want = values_where(&m.coaches, |x| x.club_id == c && x.nick == nick);
            rows_eq(tx, Coach::CLUB_ID.eq(c) & Coach::NICK.eq(nick.clone()), &want, "Coach.(club_id, nick)");
            let want = values_where(&m.players, |x| x.club_id == c && x.nick == nick);
            rows_eq(tx, Player::CLUB_ID.eq(c) & Player::NICK.eq(nick.clone()), &want, "Player.(club_id, nick)");
        }
    }
    assert_eq!(
        tx.q::<Coach>().group_by((Coach::CLUB_ID, Coach::NICK)).aggregate((count(),)).all().unwrap(),
        histogram(&m.coaches, |x| (x.club_id, x.nick.clone()))
    );
    assert_eq!(
        tx.q::<Player>().group_by((Player::CLUB_ID, Player::NICK)).aggregate((count(),)).all().unwrap(),
        histogram(&m.players, |x| (x.club_id, x.nick.clone()))
    );
    for c in db.clubs.values() {
        let want = values_where(&m.coaches, |x| x.club_id == c.id);
        same_rows(c.coaches(tx).unwrap(), &want, "coaches");
        same_rows(&c.coaches_query(tx).all().unwrap(), &want, "coaches_query");
        let want = values_where(&m.players, |x| x.club_id == c.id);
        same_rows(c.players(tx).unwrap(), &want, "players");
        same_rows(&c.players_query(tx).all().unwrap(), &want, "players_query");
    }
    for x in db.coaches.values() {
        assert_eq!(Some(x.club(tx).unwrap()), m.clubs.get(&x.club_id), "club of coach {}", x.id);
    }
    for x in db.players.values() {
        assert_eq!(Some(x.club(tx).unwrap()), m.clubs.get(&x.club_id), "club of player {}", x.id);
    }
    for c in &tx.q::<Club>().with(Club::COACHES).with(Club::PLAYERS).all().unwrap() {
        same_rows(c.coaches.loaded().unwrap(), &values_where(&m.coaches, |x| x.club_id == c.id), "eager coaches");
        same_rows(c.players.loaded().unwrap(), &values_where(&m.players, |x| x.club_id == c.id), "eager players");
    }
}

/// Tickets and stubs: the auto-assigned key is the second field of an index.
fn check_auto_key_in_index<X: Tx>(tx: &X, m: &Model, db: &Model) {
    for c in 0..=CLUB_IDS {
        for k in AFTER {
            let want = values_where(&m.tickets, |x| x.club_id == c && x.id > k);
            rows_eq(tx, Ticket::CLUB_ID.eq(c) & Ticket::ID.gt(k), &want, "Ticket.(club_id, id)");
            let want = values_where(&m.stubs, |x| x.club_id == c && x.id > k);
            rows_eq(tx, Stub::CLUB_ID.eq(c) & Stub::ID.gt(k), &want, "Stub.(club_id, id)");
        }
    }
    // Counts grouped by the index's fields walk its entries alone: an entry written
    // with another key, or left behind by a delete, shows here.
    assert_eq!(
        tx.q::<Ticket>().group_by((Ticket::CLUB_ID, Ticket::ID)).aggregate((count(),)).all().unwrap(),
        histogram(&m.tickets, |x| (x.club_id, x.id))
    );
    assert_eq!(
        tx.q::<Stub>().group_by((Stub::CLUB_ID, Stub::ID)).aggregate((count(),)).all().unwrap(),
        histogram(&m.stubs, |x| (x.club_id, x.id))
    );
    for c in db.clubs.values() {
        let want = values_where(&m.tickets, |x| x.club_id == c.id);
        same_rows(c.tickets(tx).unwrap(), &want, "tickets");
        same_rows(&c.tickets_query(tx).all().unwrap(), &want, "tickets_query");
        let want = values_where(&m.stubs, |x| x.club_id == c.id);
        same_rows(c.stubs(tx).unwrap(), &want, "stubs");
        same_rows(&c.stubs_query(tx).all().unwrap(), &want, "stubs_query");
    }
    for x in db.tickets.values() {
        assert_eq!(Some(x.club(tx).unwrap()), m.clubs.get(&x.club_id), "club of ticket {}", x.id);
    }
    for x in db.stubs.values() {
        assert_eq!(Some(x.club(tx).unwrap()), m.clubs.get(&x.club_id), "club of stub {}", x.id);
    }
    for c in &tx.q::<Club>().with(Club::TICKETS).with(Club::STUBS).all().unwrap() {
        same_rows(c.tickets.loaded().unwrap(), &values_where(&m.tickets, |x| x.club_id == c.id), "eager tickets");
        same_rows(c.stubs.loaded().unwrap(), &values_where(&m.stubs, |x| x.club_id == c.id), "eager stubs");
    }
}

/// Nodes: two self-references.
fn check_tree<X: Tx>(tx: &X, m: &Model, db: &Model) {
    for n in 0..=NODE_IDS {
        index_eq(tx, Node::PARENT_ID.eq(Some(n)), &values_where(&m.nodes, |x| x.parent_id == Some(n)), "parent_id");
        index_eq(tx, Node::LINK_ID.eq(Some(n)), &values_where(&m.nodes, |x| x.link_id == Some(n)), "link_id");
    }
    index_eq(tx, Node::PARENT_ID.is_none(), &values_where(&m.nodes, |x| x.parent_id.is_none()), "roots");
    index_eq(tx, Node::LINK_ID.is_none(), &values_where(&m.nodes, |x| x.link_id.is_none()), "no link");
    assert_eq!(
        tx.q::<Node>().group_by(Node::PARENT_ID).aggregate((count(),)).all().unwrap(),
        histogram(&m.nodes, |x| x.parent_id)
    );
    assert_eq!(
        tx.q::<Node>().group_by(Node::LINK_ID).aggregate((count(),)).all().unwrap(),
        histogram(&m.nodes, |x| x.link_id)
    );
    for n in db.nodes.values() {
        assert_eq!(n.parent(tx).unwrap(), n.parent_id.and_then(|p| m.nodes.get(&p)), "parent of node {}", n.id);
        assert_eq!(n.link(tx).unwrap(), n.link_id.and_then(|p| m.nodes.get(&p)), "link of node {}", n.id);
        let want = values_where(&m.nodes, |x| x.parent_id == Some(n.id));
        same_rows(n.children(tx).unwrap(), &want, "children");
        same_rows(&n.children_query(tx).all().unwrap(), &want, "children_query");
        let want = values_where(&m.nodes, |x| x.link_id == Some(n.id));
        same_rows(n.linked(tx).unwrap(), &want, "linked");
        same_rows(&n.linked_query(tx).all().unwrap(), &want, "linked_query");
    }
    let eager = tx.q::<Node>().with(Node::PARENT).with(Node::CHILDREN.then(Node::CHILDREN)).all().unwrap();
    for n in &eager {
        assert_eq!(n.parent.loaded(), n.parent_id.and_then(|p| m.nodes.get(&p)), "eager parent of {}", n.id);
        let kids = n.children.loaded().unwrap();
        same_rows(kids, &values_where(&m.nodes, |x| x.parent_id == Some(n.id)), "eager children");
        for k in kids {
            let want = values_where(&m.nodes, |x| x.parent_id == Some(k.id));
            same_rows(k.children.loaded().unwrap(), &want, "eager grandchildren");
        }
    }
}

/// Passes: explicit and assigned keys.
fn check_explicit_auto_keys<X: Tx>(tx: &X, m: &Model, db: &Model) {
    for c in 0..=CLUB_IDS {
        index_eq(tx, Pass::CLUB_ID.eq(c), &values_where(&m.passes, |x| x.club_id == c), "Pass.club_id");
    }
    for c in 0..CODES {
        index_eq(tx, Pass::CODE.eq(c), &values_where(&m.passes, |x| x.code == c), "Pass.code");
    }
    assert_eq!(
        tx.q::<Pass>().group_by(Pass::CLUB_ID).aggregate((count(),)).all().unwrap(),
        histogram(&m.passes, |x| x.club_id)
    );
    for c in db.clubs.values() {
        let want = values_where(&m.passes, |x| x.club_id == c.id);
        same_rows(c.passes(tx).unwrap(), &want, "passes");
        same_rows(&c.passes_query(tx).all().unwrap(), &want, "passes_query");
    }
    for x in db.passes.values() {
        assert_eq!(Some(x.club(tx).unwrap()), m.clubs.get(&x.club_id), "club of pass {}", x.id);
    }
}

// ---------------------------------------------------------------------------------
// Strategies.

fn mode_s() -> impl Strategy<Value = Mode> {
    prop_oneof![3 => Just(Mode::Insert), 1 => Just(Mode::Update), 1 => Just(Mode::Upsert)]
}

fn room_s() -> impl Strategy<Value = &'static str> {
    prop::sample::select(&ROOMS[..])
}

/// Which entities a run writes: the library schema, or one shape with its parents.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    Library,
    /// Coach and Player: a `belongs_to` key leading a unique index with an `Option`.
    OptionalInUniqueIndex,
    /// Ticket and Stub: an `auto_increment` key in a secondary index.
    AutoKeyInIndex,
    /// Node: self-references, cascade and set_null.
    Tree,
    /// Pass: explicit and assigned keys of one `auto_increment` sequence.
    ExplicitAutoKeys,
}

/// A starting population: rows whose foreign keys name existing parents, inserted
/// in one transaction, so that cascades run deep from the first step.
fn seed_s(shape: Shape) -> impl Strategy<Value = Step> {
    let put = (put_s(shape), any::<usize>()).prop_map(|(op, pick)| Item::Op(Gen(op, Some(pick))));
    prop::collection::vec(put, 1..40).prop_map(|items| Step::Batch(items, true))
}

fn gen_s(shape: Shape) -> impl Strategy<Value = Gen> {
    (op_s(shape), prop::option::weighted(0.75, any::<usize>())).prop_map(|(op, pick)| Gen(op, pick))
}

fn put_s(shape: Shape) -> BoxedStrategy<Op> {
    let rows = match shape {
        Shape::Library => library_rows_s().boxed(),
        Shape::OptionalInUniqueIndex => {
            let nick = prop::option::of(prop::sample::select(&NICKS[..]));
            prop_oneof![
                2 => club_s(),
                3 => (0..5u64, 0..=CLUB_IDS, nick.clone()).prop_map(|(id, c, n)| Row::Coach(coach(id, c, n))),
                3 => (0..5u64, 0..=CLUB_IDS, nick).prop_map(|(id, c, n)| Row::Player(player(id, c, n))),
            ]
            .boxed()
        }
        // Inserted with key 0: assigned.
        Shape::AutoKeyInIndex => prop_oneof![
            2 => club_s(),
            3 => (0..=CLUB_IDS, 0..SEATS).prop_map(|(c, s)| Row::Ticket(ticket(0, c, s))),
            3 => (0..=CLUB_IDS, 0..SEATS).prop_map(|(c, s)| Row::Stub(stub(0, c, s))),
        ]
        .boxed(),
        Shape::Tree => {
            let link = prop::option::of(0..=NODE_IDS);
            (0..NODE_IDS, prop::option::weighted(0.8, 0..=NODE_IDS), link, 0..TAGS)
                .prop_map(|(id, p, l, t)| Row::Node(node(id, p, l, t)))
                .boxed()
        }
        Shape::ExplicitAutoKeys => prop_oneof![
            1 => club_s(),
            4 => (pass_id_s(), 0..CODES, 0..=CLUB_IDS).prop_map(|(id, code, c)| Row::Pass(pass(id, code, c))),
        ]
        .boxed(),
    };
    (mode_s(), rows).prop_map(|(m, r)| Op::Put(m, r)).boxed()
}

fn club_s() -> impl Strategy<Value = Row> {
    (0..CLUB_IDS, 0..2u8).prop_map(|(id, tier)| Row::Club(club(id, tier)))
}

/// 0 (assigned by the sequence), a small key, or one at the top of the key space.
fn pass_id_s() -> impl Strategy<Value = u64> {
    prop_oneof![8 => Just(0), 4 => 1..=6u64, 1 => (u64::MAX - 2)..=u64::MAX]
}

fn library_rows_s() -> impl Strategy<Value = Row> {
    let author_id = 0..=AUTHOR_IDS;
    let book_id = 0..=BOOK_IDS;
    prop_oneof![
        3 => (0..AUTHOR_IDS, prop::sample::select(&NAMES[..]), prop::option::of(author_id.clone()))
            .prop_map(|(id, n, mentor)| Row::Author(author(id, n, mentor))),
        4 => (0..BOOK_IDS, author_id.clone(), 0..GENRES).prop_map(|(id, a, g)| Row::Book(book(id, a, g))),
        3 => (0..6u64, book_id.clone(), prop::option::of(author_id), 0..STARS)
            .prop_map(|(id, b, a, s)| Row::Review(review(id, b, a, s))),
        2 => (0..4u64, book_id.clone(), 0..TICKETS).prop_map(|(id, b, t)| Row::Loan(loan(id, b, t))),
        2 => (0..3u64, book_id, 0..COLORS).prop_map(|(id, b, c)| Row::Cover(cover(id, b, c))),
        3 => (room_s(), 0..SLOTS, prop::sample::select(&LABELS[..])).prop_map(|(r, s, l)| Row::Shelf(shelf(r, s, l))),
        3 => (0..5u64, room_s(), 0..=SLOTS, 0..QTYS).prop_map(|(id, r, s, q)| Row::Placement(placement(id, r, s, q))),
        2 => (room_s(), 0..=SLOTS, 0..2u8, prop::sample::select(&LABELS[..]))
            .prop_map(|(r, s, n, note)| Row::Bin(bin(r, s, n, note))),
    ]
}

fn op_s(shape: Shape) -> impl Strategy<Value = Op> {
    let club = (0..CLUB_IDS).prop_map(Key::Club);
    // A delete with `Some(pick)` is aimed at an existing row: the keys here matter
    // when it is not.
    let deletes = match shape {
        Shape::Library => prop_oneof![
            3 => (0..AUTHOR_IDS).prop_map(Key::Author),
            3 => (0..BOOK_IDS).prop_map(Key::Book),
            1 => (0..6u64).prop_map(Key::Review),
            1 => (0..4u64).prop_map(Key::Loan),
            1 => (0..3u64).prop_map(Key::Cover),
            3 => (room_s(), 0..SLOTS).prop_map(|(r, s)| Key::Shelf((r.to_string(), s))),
            1 => (0..5u64).prop_map(Key::Placement),
            1 => (room_s(), 0..SLOTS, 0..2u8).prop_map(|(r, s, n)| Key::Bin((r.to_string(), s, n))),
        ]
        .boxed(),
        Shape::OptionalInUniqueIndex => prop_oneof![
            3 => club,
            1 => (0..5u64).prop_map(Key::Coach),
            1 => (0..5u64).prop_map(Key::Player),
        ]
        .boxed(),
        Shape::AutoKeyInIndex => prop_oneof![
            2 => club,
            2 => (0..8u64).prop_map(Key::Ticket),
            3 => (0..8u64).prop_map(Key::Stub),
        ]
        .boxed(),
        Shape::Tree => (0..NODE_IDS).prop_map(Key::Node).boxed(),
        Shape::ExplicitAutoKeys => prop_oneof![1 => club, 3 => pass_id_s().prop_map(Key::Pass)].boxed(),
    };
    prop_oneof![
        3 => put_s(shape),
        1 => deletes.prop_map(Op::Delete),
    ]
}

#[derive(Debug, Clone)]
enum Item {
    Op(Gen),
    /// Operations in a savepoint, kept (`true`) or rolled back at its end.
    Savepoint(Vec<Gen>, bool),
}

#[derive(Debug, Clone)]
enum Step {
    /// One operation in its own write transaction.
    One(Gen),
    /// Several in one write transaction (failed statements in the middle go on),
    /// committed (`true`) or rolled back by returning an error.
    Batch(Vec<Item>, bool),
}

fn step_s(shape: Shape) -> impl Strategy<Value = Step> {
    let item = prop_oneof![
        4 => gen_s(shape).prop_map(Item::Op),
        1 => (prop::collection::vec(gen_s(shape), 1..4), any::<bool>())
            .prop_map(|(ops, keep)| Item::Savepoint(ops, keep)),
    ];
    prop_oneof![
        3 => gen_s(shape).prop_map(Step::One),
        1 => (prop::collection::vec(item, 2..6), prop::bool::weighted(0.75)).prop_map(|(i, c)| Step::Batch(i, c)),
    ]
}

fn rollback() -> drift::Error {
    drift::Error::NotFound { entity: "test", key: "rollback".into() }
}

fn run_steps(db: &Db, shape: Shape, steps: &[Step]) {
    let mut model = Model::default();
    for step in steps {
        match step {
            Step::One(op) => {
                let op = &op.resolve(&model);
                let got = db.write(|tx| run(tx, op));
                let want = model.apply(op);
                same_outcome(op, got, &want);
            }
            Step::Batch(items, commit) => {
                let mut scratch = model.clone();
                let r = db.write(|tx| {
                    for item in items {
                        match item {
                            Item::Op(op) => {
                                let op = &op.resolve(&scratch);
                                let got = run(tx, op);
                                let want = scratch.apply(op);
                                same_outcome(op, got, &want);
                            }
                            Item::Savepoint(ops, keep) => {
                                let mut inner = scratch.clone();
                                let r = tx.savepoint(|tx| {
                                    for op in ops {
                                        let op = &op.resolve(&inner);
                                        let got = run(tx, op);
                                        let want = inner.apply(op);
                                        same_outcome(op, got, &want);
                                        check_as(&*tx, &inner, Some(shape));
                                    }
                                    if *keep { Ok(()) } else { Err(rollback()) }
                                });
                                assert_eq!(r.is_ok(), *keep);
                                if *keep {
                                    scratch = inner;
                                }
                            }
                        }
                        // A failed statement left the transaction as if it never ran.
                        check_as(&*tx, &scratch, Some(shape));
                    }
                    if *commit { Ok(()) } else { Err(rollback()) }
                });
                assert_eq!(r.is_ok(), *commit, "{r:?}");
                if *commit {
                    model = scratch;
                }
            }
        }
        let tx = db.begin_read().unwrap();
        check_as(&tx, &model, Some(shape));
    }
}

/// Seed and steps of one shape, and whether the entity cache is on.
fn run_s(shape: Shape, steps: usize) -> impl Strategy<Value = (Vec<Step>, bool)> {
    let steps = (seed_s(shape), prop::collection::vec(step_s(shape), 1..steps));
    (steps, any::<bool>()).prop_map(|((seed, steps), cache)| ([vec![seed], steps].concat(), cache))
}

/// `cases` runs; a failure is not written to a regressions file beside the test (a
/// failure found here is pinned as a deterministic test below).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

fn run_case(shape: Shape, steps: &[Step], cache: bool) {
    let db = if cache { builder() } else { builder().cache_capacity(0) }.in_memory().unwrap();
    run_steps(&db, shape, steps);
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn relations_match_the_oracle_after_every_step((steps, cache) in run_s(Shape::Library, 40)) {
        run_case(Shape::Library, &steps, cache);
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn a_foreign_key_leading_a_unique_index_with_an_optional_field_matches_the_oracle(
        (steps, cache) in run_s(Shape::OptionalInUniqueIndex, 30),
    ) {
        run_case(Shape::OptionalInUniqueIndex, &steps, cache);
    }
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn an_auto_increment_key_in_an_index_matches_the_oracle((steps, cache) in run_s(Shape::AutoKeyInIndex, 30)) {
        run_case(Shape::AutoKeyInIndex, &steps, cache);
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn self_referencing_trees_match_the_oracle((steps, cache) in run_s(Shape::Tree, 30)) {
        run_case(Shape::Tree, &steps, cache);
    }

    #[test]
    fn explicit_and_assigned_auto_increment_keys_match_the_oracle(
        (steps, cache) in run_s(Shape::ExplicitAutoKeys, 30),
    ) {
        run_case(Shape::ExplicitAutoKeys, &steps, cache);
    }
}

// ---------------------------------------------------------------------------------
// Deterministic cases.

/// ann(1) wrote books 10 and 11, bob(2) book 20; cy(3) wrote none, mentors bob and
/// herself, and bob mentors ann. Book 20 is lent (restrict). Shelves `a`/0 and `ab`/0
/// (one a prefix of the other as strings) and `a`/1; a bin on `ab`/0 (restrict).
fn seeded() -> Db {
    let db = builder().in_memory().unwrap();
    db.write(|tx| {
        tx.insert(&author(3, "cy", Some(3)))?;
        tx.insert(&author(2, "bob", Some(3)))?;
        tx.insert(&author(1, "ann", Some(2)))?;
        tx.insert(&book(10, 1, 0))?;
        tx.insert(&book(11, 1, 1))?;
        tx.insert(&book(20, 2, 0))?;
        tx.insert(&review(100, 10, Some(2), 1))?;
        tx.insert(&review(101, 11, Some(3), 2))?;
        tx.insert(&review(102, 20, Some(3), 2))?;
        tx.insert(&review(103, 20, None, 0))?;
        tx.insert(&review(104, 10, None, 2))?;
        tx.insert(&cover(1, 10, 0))?;
        tx.insert(&loan(1, 20, 7))?;
        tx.insert(&shelf("a", 0, "x"))?;
        tx.insert(&shelf("ab", 0, "x"))?;
        tx.insert(&shelf("a", 1, "y"))?;
        tx.insert(&placement(1, "a", 0, 1))?;
        tx.insert(&placement(2, "a", 0, 2))?;
        tx.insert(&placement(3, "ab", 0, 1))?;
        tx.insert(&placement(4, "a", 1, 1))?;
        tx.insert(&bin("ab", 0, 0, "spare"))?;
        Ok(())
    })
    .unwrap();
    db
}

/// The oracle for [`seeded`], checked against the database.
fn seeded_model(db: &Db) -> Model {
    let tx = db.begin_read().unwrap();
    let m = Model::read(&tx);
    assert_eq!((m.authors.len(), m.books.len(), m.reviews.len(), m.placements.len()), (3, 3, 5, 4));
    check(&tx, &m);
    m
}

fn ids<T: Entity>(rows: &[T]) -> Vec<T::Key> {
    rows.iter().map(Entity::key).collect()
}

#[test]
fn the_model_counts_are_answered_from_the_indexes() {
    // The foreign keys are served by the expected access paths.
    let idx = |s: &drift::EntityDescriptor| s.indexes.iter().map(|i| i.fields.join(",")).collect::<Vec<_>>();
    assert_eq!(idx(Review::SCHEMA), ["author_id,stars", "book_id"], "author_id is served by the two-field index");
    assert_eq!(idx(Placement::SCHEMA), ["qty", "room,slot"], "a composite foreign key gets an index");
    assert!(idx(Bin::SCHEMA).is_empty(), "a foreign key that leads the primary key needs no index");
    assert_eq!(idx(Cover::SCHEMA), ["book_id"], "the unique index serves the has_one");

    let db = seeded();
    let tx = db.begin_read().unwrap();
    let before = tx.stats();
    assert_eq!(tx.query::<Review>().filter(Review::AUTHOR_ID.eq(Some(3))).count().unwrap(), 2);
    let p = tx.query::<Placement>().filter(Placement::ROOM.eq("a".to_string()) & Placement::SLOT.eq(0));
    assert_eq!(p.count().unwrap(), 2);
    let hist = tx.query::<Review>().group_by(Review::AUTHOR_ID).aggregate((count(),)).all().unwrap();
    assert_eq!(hist, [(None, (2,)), (Some(2), (1,)), (Some(3), (2,))]);
    let after = tx.stats();
    assert_eq!((after.table_scans, after.rows_decoded), (before.table_scans, before.rows_decoded), "{after:?}");
    assert!(after.index_scans >= before.index_scans + 3);
}

#[test]
fn cascade_runs_through_two_levels_and_nulls_the_optional_keys() {
    let db = seeded();
    let mut m = seeded_model(&db);
    let removed = db.write(|tx| tx.delete::<Author>(&1)).unwrap();
    assert_eq!(removed.map(|a| a.name), Some("ann".to_string()));
    assert_eq!(m.delete(&Key::Author(1)).map(|r| r.is_some()), Ok(true));
    let tx = db.begin_read().unwrap();
    check(&tx, &m);
    // Books 10 and 11 went, and with them their reviews (level two) and cover.
    assert_eq!(ids(&all::<Book, _>(&tx)), [20]);
    assert_eq!(ids(&all::<Review, _>(&tx)), [102, 103]);
    assert_eq!(all::<Cover, _>(&tx), []);
    assert_eq!(tx.query::<Review>().filter(Review::BOOK_ID.in_list(vec![10, 11])).count().unwrap(), 0);
    assert_eq!(tx.query::<Book>().filter(Book::AUTHOR_ID.eq(1)).count().unwrap(), 0);
    assert_eq!(tx.query::<Cover>().filter(Cover::BOOK_ID.eq(10)).first().unwrap(), None);
    // The rest is untouched: bob, his book, its loan, cy's reviews of it.
    let bob = tx.get::<Author>(&2).unwrap().unwrap();
    assert_eq!(ids(bob.books(&tx).unwrap()), [20]);
    assert_eq!(tx.get::<Review>(&102).unwrap(), Some(review(102, 20, Some(3), 2)));
}

#[test]
fn set_null_updates_the_children_and_their_index_entries() {
    let db = seeded();
    let mut m = seeded_model(&db);
    db.write(|tx| {
        // cy mentors bob and herself and wrote reviews 101 and 102.
        assert_eq!(tx.delete::<Author>(&3)?.map(|a| a.id), Some(3));
        // Inside the transaction the index already agrees with the rows.
        assert_eq!(tx.query::<Review>().filter(Review::AUTHOR_ID.eq(Some(3))).count()?, 0);
        assert_eq!(tx.query::<Review>().filter(Review::AUTHOR_ID.is_none()).count()?, 4);
        Ok(())
    })
    .unwrap();
    m.delete(&Key::Author(3)).unwrap();
    let tx = db.begin_read().unwrap();
    check(&tx, &m);
    assert_eq!(tx.get::<Review>(&101).unwrap(), Some(review(101, 11, None, 2)), "only the key changed");
    assert_eq!(tx.get::<Review>(&102).unwrap(), Some(review(102, 20, None, 2)));
    assert_eq!(tx.get::<Author>(&2).unwrap(), Some(author(2, "bob", None)), "the self-referencing key too");
    let stars2 = Review::AUTHOR_ID.is_none() & Review::STARS.eq(2);
    assert_eq!(ids(&tx.query::<Review>().filter(stars2).order_by(Review::ID.asc()).all().unwrap()), [101, 102, 104]);
    let hist = tx.query::<Review>().group_by(Review::AUTHOR_ID).aggregate((count(),)).all().unwrap();
    assert_eq!(hist, [(None, (4,)), (Some(2), (1,))]);
    assert_eq!(tx.query::<Author>().filter(Author::MENTOR_ID.eq(Some(3))).count().unwrap(), 0);
    let r = tx.get::<Review>(&101).unwrap().unwrap();
    assert_eq!(r.author(&tx).unwrap(), None);
    assert_eq!(r.book(&tx).unwrap().id, 11);
}

#[test]
fn restrict_anywhere_in_the_cascade_leaves_everything_unchanged() {
    let db = seeded();
    let m = seeded_model(&db);
    // Deleting bob nulls ann's mentor first, would cascade to book 20, which is lent,
    // and null review 100's author: the restrict two levels down undoes the whole delete.
    let err = db.write(|tx| tx.delete::<Author>(&2).map(drop)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Restrict);
    let msg = err.to_string();
    assert!(msg.contains("Book") && msg.contains("Loan") && msg.contains("book_id") && msg.contains("20"), "{msg}");
    check(&db.begin_read().unwrap(), &m);

    // Inside a transaction: the failed statement is undone and the transaction goes on.
    db.write(|tx| {
        assert_eq!(tx.delete::<Book>(&20).unwrap_err().kind(), ErrorKind::Restrict);
        assert_eq!(tx.delete::<Author>(&2).unwrap_err().kind(), ErrorKind::Restrict);
        check(&*tx, &m);
        assert_eq!(tx.query::<Review>().filter(Review::AUTHOR_ID.eq(Some(2))).count()?, 1, "not nulled");
        assert_eq!(tx.query::<Author>().filter(Author::MENTOR_ID.eq(Some(2))).count()?, 1, "not nulled");
        // Returning the book lifts the restrict.
        tx.delete::<Loan>(&1)?;
        tx.delete::<Author>(&2)?;
        Ok(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    assert_eq!(ids(&all::<Book, _>(&tx)), [10, 11]);
    assert_eq!(tx.get::<Review>(&100).unwrap().unwrap().author_id, None);
    assert_eq!(tx.get::<Author>(&1).unwrap().unwrap().mentor_id, None);

    // A composite restrict: the bin on shelf `ab`/0.
    let m = {
        let mut m = seeded_model(&seeded());
        m.delete(&Key::Loan(1)).unwrap();
        m.delete(&Key::Author(2)).unwrap();
        m
    };
    check(&tx, &m);
    let err = db.write(|tx| tx.delete::<Shelf>(&("ab".to_string(), 0)).map(drop)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Restrict);
    assert!(err.to_string().contains("Bin"), "{err}");
    check(&db.begin_read().unwrap(), &m);
}

#[test]
fn composite_foreign_keys_to_a_composite_primary_key() {
    let db = seeded();
    let mut m = seeded_model(&db);
    // A parent that exists.
    db.write(|tx| tx.insert(&placement(5, "ab", 0, 2)).map(drop)).unwrap();
    m.put(Mode::Insert, &Row::Placement(placement(5, "ab", 0, 2))).unwrap();
    // Missing parents: `a`/2 does not exist, nor `ab`/1 (though `ab`/0 and `a`/1 do).
    for (room, slot) in [("a", 2), ("ab", 1), ("b", 0)] {
        let err = db.write(|tx| tx.insert(&placement(6, room, slot, 0)).map(drop)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ForeignKey, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("Placement") && msg.contains("room, slot") && msg.contains("Shelf"), "{msg}");
        assert!(msg.contains(&format!("{slot}")), "{msg}");
        let err = db.write(|tx| tx.insert(&bin(room, slot, 0, "")).map(drop)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ForeignKey, "{err}");
    }
    // An update to a missing parent fails; to another parent it moves the index entry.
    let err = db.write(|tx| tx.update(&placement(1, "a", 2, 1))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ForeignKey);
    db.write(|tx| tx.update(&placement(1, "a", 1, 1))).unwrap();
    m.put(Mode::Update, &Row::Placement(placement(1, "a", 1, 1))).unwrap();
    check(&db.begin_read().unwrap(), &m);

    // Deleting `a`/0 cascades to its placement, not to those of `ab`/0 or `a`/1.
    let gone = db.write(|tx| tx.delete::<Shelf>(&("a".to_string(), 0))).unwrap();
    assert_eq!(gone.map(|s| s.label), Some("x".to_string()));
    m.delete(&Key::Shelf(("a".to_string(), 0))).unwrap();
    let tx = db.begin_read().unwrap();
    check(&tx, &m);
    assert_eq!(ids(&all::<Placement, _>(&tx)), [1, 3, 4, 5]);
    let on_a0 = Placement::ROOM.eq("a".to_string()) & Placement::SLOT.eq(0);
    assert_eq!(tx.query::<Placement>().filter(on_a0).count().unwrap(), 0);
    let hist =
        tx.query::<Placement>().group_by((Placement::ROOM, Placement::SLOT)).aggregate((count(),)).all().unwrap();
    assert_eq!(hist, [(("a".to_string(), 1), (2,)), (("ab".to_string(), 0), (2,))]);

    // Once its bin is gone, `ab`/0 cascades as well.
    db.write(|tx| {
        tx.delete::<Bin>(&("ab".to_string(), 0, 0))?;
        tx.delete::<Shelf>(&("ab".to_string(), 0)).map(drop)
    })
    .unwrap();
    m.delete(&Key::Bin(("ab".to_string(), 0, 0))).unwrap();
    m.delete(&Key::Shelf(("ab".to_string(), 0))).unwrap();
    let tx = db.begin_read().unwrap();
    check(&tx, &m);
    assert_eq!(ids(&all::<Placement, _>(&tx)), [1, 4]);
}

#[test]
fn has_many_on_a_parent_with_a_composite_key() {
    let db = seeded();
    let tx = db.begin_read().unwrap();
    let a0 = tx.get::<Shelf>(&("a".to_string(), 0)).unwrap().unwrap();
    let ab0 = tx.get::<Shelf>(&("ab".to_string(), 0)).unwrap().unwrap();
    let before = tx.stats();
    assert_eq!(ids(a0.placements(&tx).unwrap()), [1, 2], "not the placements of `ab`/0");
    let once = tx.stats();
    assert_eq!(once.lazy_loads, before.lazy_loads + 1);
    assert_eq!(ids(a0.placements(&tx).unwrap()), [1, 2]);
    assert_eq!(tx.stats(), once, "the second call reads nothing");
    assert_eq!(a0.bins(&tx).unwrap(), []);
    assert_eq!(ids(ab0.placements(&tx).unwrap()), [3]);
    assert_eq!(ab0.bins(&tx).unwrap(), [bin("ab", 0, 0, "spare")]);
    assert_eq!(a0.placements_query(&tx).filter(Placement::QTY.gte(2)).count().unwrap(), 1);
    assert_eq!(ab0.bins_query(&tx).count().unwrap(), 1);
    // The child's accessor goes back to the composite parent.
    let p3 = tx.get::<Placement>(&3).unwrap().unwrap();
    assert_eq!(p3.shelf(&tx).unwrap(), &ab0);
    // Eagerly, in one pass, the same.
    let shelves = tx.query::<Shelf>().with(Shelf::PLACEMENTS).with(Shelf::BINS).all().unwrap();
    let got: Vec<(ShelfKey, Vec<u64>, usize)> = shelves
        .iter()
        .map(|s| (s.key(), ids(s.placements.loaded().unwrap()), s.bins.loaded().unwrap().len()))
        .collect();
    let want = [
        (("a".to_string(), 0), vec![1, 2], 0),
        (("a".to_string(), 1), vec![4], 0),
        (("ab".to_string(), 0), vec![3], 1),
    ];
    assert_eq!(got, want);
}

#[test]
fn a_failed_statement_in_a_transaction_changes_nothing_and_the_rest_commits() {
    let db = seeded();
    let mut m = seeded_model(&db);
    let ops = [
        Op::Put(Mode::Insert, Row::Book(book(30, 3, 2))),
        Op::Put(Mode::Insert, Row::Review(review(105, 30, Some(9), 1))), // no author 9
        Op::Put(Mode::Upsert, Row::Review(review(100, 31, Some(1), 1))), // no book 31
        Op::Delete(Key::Book(20)),                                       // lent
        Op::Put(Mode::Insert, Row::Loan(loan(2, 30, 7))),                // ticket 7 is taken
        Op::Put(Mode::Update, Row::Review(review(100, 30, Some(1), 0))),
        Op::Delete(Key::Author(1)),
    ];
    db.write(|tx| {
        for op in &ops {
            let got = run(tx, op);
            let want = m.apply(op);
            same_outcome(op, got, &want);
            check(&*tx, &m);
        }
        Ok(())
    })
    .unwrap();
    let errors: Vec<ErrorKind> = {
        let mut fresh = seeded_model(&seeded());
        ops.iter().filter_map(|op| fresh.apply(op).err()).collect()
    };
    assert_eq!(errors, [ErrorKind::ForeignKey, ErrorKind::ForeignKey, ErrorKind::Restrict, ErrorKind::UniqueViolation]);
    check(&db.begin_read().unwrap(), &m);
    assert_eq!(ids(&all::<Review, _>(&db.begin_read().unwrap())), [100, 102, 103]);
}

// ---------------------------------------------------------------------------------
// Bugs the model found, pinned.

/// A title belongs to a member (cascade); a checkout belongs to the title (restrict)
/// and to the member (cascade). Deleting the member reaches the checkout twice.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_members")]
pub struct Member {
    #[drift(primary_key)]
    pub id: u64,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_titles")]
pub struct Title {
    #[drift(primary_key)]
    pub id: u64,
    pub member_id: u64,
    #[drift(belongs_to(Member, key = member_id, on_delete = cascade))]
    pub member: BelongsTo<Member>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_checkouts")]
pub struct Checkout {
    #[drift(primary_key)]
    pub id: u64,
    pub title_id: u64,
    pub member_id: u64,
    #[drift(belongs_to(Title, key = title_id, on_delete = restrict))]
    pub title: BelongsTo<Title>,
    #[drift(belongs_to(Member, key = member_id, on_delete = cascade))]
    pub member: BelongsTo<Member>,
}

#[test]
fn a_delete_does_not_depend_on_the_order_entities_were_registered() {
    let outcome = |db: Db| {
        db.write(|tx| {
            tx.insert(&Member { id: 1 })?;
            tx.insert(&Title { id: 1, member_id: 1, ..Default::default() })?;
            tx.insert(&Checkout { id: 1, title_id: 1, member_id: 1, ..Default::default() }).map(drop)
        })
        .unwrap();
        let r = db.write(|tx| tx.delete::<Member>(&1).map(drop)).map_err(|e| e.kind());
        let left = db.read(|tx| Ok((tx.query::<Member>().count()?, tx.query::<Checkout>().count()?))).unwrap();
        (r, left)
    };
    // Restrict is checked when the statement ends, after its cascades: in either order
    // the checkout goes with the member, the title's restrict finds no child left, and
    // the delete succeeds.
    let title_first =
        outcome(Db::builder().entity::<Member>().entity::<Title>().entity::<Checkout>().in_memory().unwrap());
    let checkout_first =
        outcome(Db::builder().entity::<Member>().entity::<Checkout>().entity::<Title>().in_memory().unwrap());
    assert_eq!(title_first, checkout_first, "the same delete on the same rows");
    assert_eq!(title_first, (Ok(()), (0, 0)));
}

/// A desk has one badge through a unique optional key, nulled when the desk goes.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_desks")]
pub struct Desk {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(has_one(Badge, foreign_key = desk_id))]
    pub badge: HasOne<Badge>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "rm_badges")]
pub struct Badge {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(unique)]
    pub desk_id: Option<u64>,
    #[drift(belongs_to(Desk, key = desk_id, on_delete = set_null))]
    pub desk: BelongsTo<Desk>,
}

#[test]
fn set_null_on_a_unique_optional_key_orphans_every_child() {
    let db = Db::builder().entity::<Desk>().entity::<Badge>().in_memory().unwrap();
    db.write(|tx| {
        for id in 1..=2 {
            tx.insert(&Desk { id, ..Default::default() })?;
            tx.insert(&Badge { id, desk_id: Some(id), ..Default::default() })?;
        }
        Ok(())
    })
    .unwrap();
    db.write(|tx| tx.delete::<Desk>(&1).map(drop)).unwrap();
    // The second orphan's `None` does not collide with the first one's: a unique index
    // holds no entry for `None`.
    db.write(|tx| tx.delete::<Desk>(&2).map(drop)).unwrap();
    let badges = db.read(|tx| tx.query::<Badge>().all()).unwrap();
    assert!(badges.len() == 2 && badges.iter().all(|b| b.desk_id.is_none()), "{badges:?}");
}

// ---------------------------------------------------------------------------------
// Deterministic cases of the shapes.

/// Runs each operation in a write transaction of its own and on the oracle, which
/// must agree; returns the outcomes.
fn play(db: &Db, m: &mut Model, ops: &[Op]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for op in ops {
        let got = db.write(|tx| run(tx, op));
        let want = m.apply(op);
        same_outcome(op, got, &want);
        outcomes.push(want);
    }
    outcomes
}

fn insert(row: Row) -> Op {
    Op::Put(Mode::Insert, row)
}

/// Club 1 has two coaches without a nick (restrict); club 2 three players, two
/// without a nick (cascade); club 3 a coach and a player with nick `x`.
fn clubs() -> (Db, Model) {
    let db = builder().in_memory().unwrap();
    let mut m = Model::default();
    let rows = [
        Row::Club(club(1, 0)),
        Row::Club(club(2, 0)),
        Row::Club(club(3, 0)),
        Row::Coach(coach(1, 1, None)),
        Row::Coach(coach(2, 1, None)),
        Row::Player(player(1, 2, None)),
        Row::Player(player(2, 2, Some("x"))),
        Row::Player(player(3, 2, None)),
        Row::Coach(coach(3, 3, Some("x"))),
        Row::Player(player(4, 3, Some("x"))),
    ];
    let outcomes = play(&db, &mut m, &rows.map(insert));
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    (db, m)
}

#[test]
fn none_values_do_not_collide_in_a_unique_index_led_by_a_foreign_key() {
    let (db, mut m) = clubs();
    let ops = [
        insert(Row::Coach(coach(4, 1, None))),
        insert(Row::Coach(coach(5, 3, Some("x")))),
        insert(Row::Coach(coach(5, 1, Some("x")))),
        Op::Put(Mode::Update, Row::Player(player(1, 2, Some("x")))),
        Op::Put(Mode::Update, Row::Player(player(1, 3, None))),
    ];
    let errors: Vec<_> = play(&db, &mut m, &ops).into_iter().map(Result::err).collect();
    assert_eq!(errors, [None, Some(ErrorKind::UniqueViolation), None, Some(ErrorKind::UniqueViolation), None]);
    check(&db.begin_read().unwrap(), &m);
}

#[test]
fn restrict_counts_children_whose_unique_index_field_is_none() {
    let (db, m) = clubs();
    // Both coaches of club 1 have no nick: no entry in the (club_id, nick) index.
    let err = db.write(|tx| tx.delete::<Club>(&1).map(drop)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Restrict, "{err}");
    assert!(err.to_string().contains("Coach"), "{err}");
    check(&db.begin_read().unwrap(), &m);
}

#[test]
fn cascade_deletes_children_whose_unique_index_field_is_none() {
    let (db, mut m) = clubs();
    assert_eq!(db.write(|tx| tx.delete::<Club>(&2)).unwrap(), Some(club(2, 0)));
    let tx = db.begin_read().unwrap();
    assert_eq!(ids(&all::<Player, _>(&tx)), [4], "players 1 and 3 have no nick");
    m.delete(&Key::Club(2)).unwrap();
    check(&tx, &m);
}

#[test]
fn loaders_return_children_whose_unique_index_field_is_none() {
    let (db, m) = clubs();
    let tx = db.begin_read().unwrap();
    let c1 = tx.get::<Club>(&1).unwrap().unwrap();
    let c2 = tx.get::<Club>(&2).unwrap().unwrap();
    let sorted = |mut keys: Vec<u64>| {
        keys.sort_unstable();
        keys
    };
    assert_eq!(sorted(ids(c1.coaches(&tx).unwrap())), [1, 2]);
    assert_eq!(sorted(ids(c2.players(&tx).unwrap())), [1, 2, 3]);
    assert_eq!(c2.players_query(&tx).count().unwrap(), 3);
    assert_eq!(c2.players_query(&tx).filter(Player::NICK.is_none()).count().unwrap(), 2);
    let eager = tx.query::<Club>().with(Club::COACHES).with(Club::PLAYERS).all().unwrap();
    let got: Vec<(u64, usize, usize)> =
        eager.iter().map(|c| (c.id, c.coaches.loaded().unwrap().len(), c.players.loaded().unwrap().len())).collect();
    assert_eq!(got, [(1, 2, 0), (2, 0, 3), (3, 1, 1)]);
    check(&tx, &m);
}

#[test]
fn an_auto_increment_key_in_an_index_is_the_assigned_key() {
    let db = builder().in_memory().unwrap();
    let mut m = Model::default();
    let ops = [
        insert(Row::Club(club(1, 0))),
        insert(Row::Club(club(2, 0))),
        insert(Row::Ticket(ticket(0, 1, 0))),
        insert(Row::Ticket(ticket(0, 2, 0))),
        insert(Row::Ticket(ticket(0, 1, 1))),
        insert(Row::Ticket(ticket(0, 1, 0))),
    ];
    let written = play(&db, &mut m, &ops);
    assert_eq!(written[5], Ok(Some(Row::Ticket(ticket(4, 1, 0)))));
    let tx = db.begin_read().unwrap();
    let after_1 = tx.query::<Ticket>().filter(Ticket::CLUB_ID.eq(1) & Ticket::ID.gt(1)).all().unwrap();
    assert_eq!(ids(&after_1), [3, 4]);
    let entries = tx.query::<Ticket>().group_by((Ticket::CLUB_ID, Ticket::ID)).aggregate((count(),)).all().unwrap();
    assert_eq!(entries, [((1, 1), (1,)), ((1, 3), (1,)), ((1, 4), (1,)), ((2, 2), (1,))]);
    check(&tx, &m);
}

#[test]
fn a_unique_index_holding_an_auto_increment_key_takes_every_assigned_key() {
    let db = builder().in_memory().unwrap();
    let mut m = Model::default();
    let ops = [
        insert(Row::Club(club(1, 0))),
        insert(Row::Stub(stub(0, 1, 0))),
        insert(Row::Stub(stub(0, 1, 1))),
        Op::Put(Mode::Upsert, Row::Stub(stub(0, 1, 0))),
    ];
    let written = play(&db, &mut m, &ops);
    assert_eq!(written[1..], [1, 2, 3].map(|id| Ok(Some(Row::Stub(stub(id, 1, (id == 2).into()))))));
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.query::<Stub>().filter(Stub::CLUB_ID.eq(1) & Stub::ID.gt(2)).count().unwrap(), 1);
    check(&tx, &m);
}

#[test]
fn deleting_a_row_removes_its_index_entry_with_the_assigned_key() {
    let db = builder().in_memory().unwrap();
    let mut m = Model::default();
    let ops = [
        insert(Row::Club(club(1, 0))),
        insert(Row::Ticket(ticket(0, 1, 0))),
        insert(Row::Ticket(ticket(0, 1, 0))),
        Op::Delete(Key::Ticket(1)),
        Op::Put(Mode::Update, Row::Ticket(ticket(2, 1, 1))),
    ];
    play(&db, &mut m, &ops);
    let tx = db.begin_read().unwrap();
    let entries = tx.query::<Ticket>().group_by((Ticket::CLUB_ID, Ticket::ID)).aggregate((count(),)).all().unwrap();
    assert_eq!(entries, [((1, 2), (1,))]);
    check(&tx, &m);
    drop(tx);
    // The club's delete cascades to ticket 2 through the index, and leaves it empty.
    play(&db, &mut m, &[Op::Delete(Key::Club(1))]);
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.query::<Ticket>().group_by(Ticket::CLUB_ID).aggregate((count(),)).all().unwrap(), []);
    check(&tx, &m);
}

#[test]
fn deleting_a_node_cascades_through_all_its_descendants() {
    let db = builder().in_memory().unwrap();
    let mut m = Model::default();
    // A chain 1 <- 2 <- 3 <- 4 <- 5 with a branch 3 <- 6 <- 7; node 8 is its own
    // parent, with a child 9; node 10 links to 4, node 5 to 9 and node 9 to 5.
    let nodes = [
        node(1, None, None, 0),
        node(2, Some(1), None, 0),
        node(3, Some(2), None, 0),
        node(4, Some(3), None, 0),
        node(5, Some(4), None, 0),
        node(6, Some(3), None, 0),
        node(7, Some(6), None, 0),
        node(8, Some(8), None, 0),
        node(9, Some(8), None, 0),
        node(10, None, Some(4), 0),
    ];
    let mut ops = nodes.map(|n| insert(Row::Node(n))).to_vec();
    ops.push(Op::Put(Mode::Update, Row::Node(node(5, Some(4), Some(9), 0))));
    ops.push(Op::Put(Mode::Update, Row::Node(node(9, Some(8), Some(5), 0))));
    assert!(play(&db, &mut m, &ops).iter().all(Result::is_ok));

    assert_eq!(play(&db, &mut m, &[Op::Delete(Key::Node(2))]), [Ok(Some(Row::Node(node(2, Some(1), None, 0))))]);
    let tx = db.begin_read().unwrap();
    assert_eq!(ids(&all::<Node, _>(&tx)), [1, 8, 9, 10]);
    assert_eq!(tx.get::<Node>(&10).unwrap(), Some(node(10, None, None, 0)), "its link is nulled");
    assert_eq!(tx.get::<Node>(&9).unwrap(), Some(node(9, Some(8), None, 0)), "its link is nulled");
    check(&tx, &m);
    drop(tx);

    // A node that is its own parent goes once, with its child.
    assert!(play(&db, &mut m, &[Op::Delete(Key::Node(8))])[0].is_ok());
    let tx = db.begin_read().unwrap();
    assert_eq!(ids(&all::<Node, _>(&tx)), [1, 10]);
    check(&tx, &m);
}

#[test]
fn a_cascade_down_a_long_chain_deletes_every_node() {
    const N: u64 = 2_000;
    let db = builder().in_memory().unwrap();
    db.write(|tx| {
        for id in 1..=N {
            tx.insert(&node(id, (id > 1).then(|| id - 1), (id > 1).then_some(id / 2), 0))?;
        }
        Ok(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let deepest = tx.get::<Node>(&N).unwrap().unwrap();
    assert_eq!(deepest.parent(&tx).unwrap().map(|p| p.id), Some(N - 1));
    drop(tx);
    assert_eq!(db.write(|tx| tx.delete::<Node>(&1)).unwrap().map(|n| n.id), Some(1));
    let tx = db.begin_read().unwrap();
    assert_eq!(tx.query::<Node>().count().unwrap(), 0);
    assert_eq!(tx.query::<Node>().group_by(Node::PARENT_ID).aggregate((count(),)).all().unwrap(), []);
    assert_eq!(tx.query::<Node>().group_by(Node::LINK_ID).aggregate((count(),)).all().unwrap(), []);
}

#[test]
fn a_failed_insert_with_an_explicit_key_does_not_advance_the_sequence() {
    let db = builder().in_memory().unwrap();
    let mut m = Model::default();
    let ops = [
        insert(Row::Club(club(1, 0))),
        insert(Row::Pass(pass(0, 1, 1))),
        insert(Row::Pass(pass(100, 1, 1))), // code 1 is taken
        insert(Row::Pass(pass(200, 2, 9))), // no club 9
        insert(Row::Pass(pass(1, 2, 1))),   // key 1 is taken
        Op::Put(Mode::Upsert, Row::Pass(pass(300, 1, 1))),
        insert(Row::Pass(pass(0, 2, 1))),
    ];
    let outcomes = play(&db, &mut m, &ops);
    let errors: Vec<_> = outcomes.iter().map(|o| o.as_ref().err().copied()).collect();
    use ErrorKind::{AlreadyExists, ForeignKey, UniqueViolation};
    assert_eq!(
        errors,
        [None, None, Some(UniqueViolation), Some(ForeignKey), Some(AlreadyExists), Some(UniqueViolation), None]
    );
    assert_eq!(outcomes[6], Ok(Some(Row::Pass(pass(2, 2, 1)))));
    check(&db.begin_read().unwrap(), &m);

    // In one transaction, the failed statement in the middle takes nothing either.
    let keys = db
        .write(|tx| {
            let a = tx.insert(&pass(0, 3, 1))?;
            assert_eq!(tx.insert(&pass(u64::MAX, 3, 1)).unwrap_err().kind(), UniqueViolation);
            Ok((a, tx.insert(&pass(0, 0, 1))?))
        })
        .unwrap();
    assert_eq!(keys, (3, 4));
}

#[test]
fn an_assigned_key_follows_the_highest_key_ever_inserted() {
    let db = builder().in_memory().unwrap();
    let mut m = Model::default();
    let ops = [
        insert(Row::Club(club(1, 0))),
        insert(Row::Pass(pass(10, 0, 1))),
        insert(Row::Pass(pass(0, 1, 1))),
        Op::Delete(Key::Pass(11)),
        insert(Row::Pass(pass(5, 2, 1))),
        Op::Put(Mode::Upsert, Row::Pass(pass(0, 3, 1))),
    ];
    let outcomes = play(&db, &mut m, &ops);
    assert_eq!(outcomes[2], Ok(Some(Row::Pass(pass(11, 1, 1)))));
    assert_eq!(outcomes[5], Ok(Some(Row::Pass(pass(12, 3, 1)))), "neither a deleted key nor one below");
    check(&db.begin_read().unwrap(), &m);
}

#[test]
fn an_assigned_key_after_u64_max_fails_and_changes_nothing() {
    let db = builder().in_memory().unwrap();
    let mut m = Model::default();
    let ops = [
        insert(Row::Club(club(1, 0))),
        insert(Row::Pass(pass(u64::MAX - 1, 0, 1))),
        insert(Row::Pass(pass(0, 1, 1))),
        insert(Row::Pass(pass(0, 2, 1))),
        insert(Row::Pass(pass(3, 2, 1))),
        insert(Row::Pass(pass(0, 3, 1))),
    ];
    let outcomes = play(&db, &mut m, &ops);
    assert_eq!(outcomes[2], Ok(Some(Row::Pass(pass(u64::MAX, 1, 1)))));
    assert_eq!(outcomes[3], Err(ErrorKind::Key));
    assert_eq!(outcomes[4], Ok(Some(Row::Pass(pass(3, 2, 1)))), "explicit keys still go in");
    assert_eq!(outcomes[5], Err(ErrorKind::Key));
    check(&db.begin_read().unwrap(), &m);
}

#[test]
fn a_rolled_back_savepoint_or_transaction_does_not_advance_the_sequence() {
    let db = builder().in_memory().unwrap();
    db.write(|tx| tx.insert(&club(1, 0)).map(drop)).unwrap();
    let r = db.write(|tx| {
        tx.insert(&pass(0, 0, 1))?;
        tx.insert(&pass(7, 1, 1))?;
        Err::<(), _>(rollback())
    });
    assert!(r.is_err());
    let keys = db
        .write(|tx| {
            let r = tx.savepoint(|tx| {
                assert_eq!(tx.insert(&pass(0, 0, 1))?, 1);
                assert_eq!(tx.insert(&pass(7, 1, 1))?, 7);
                Err::<(), _>(rollback())
            });
            assert!(r.is_err());
            Ok((tx.insert(&pass(0, 0, 1))?, tx.insert(&pass(0, 1, 1))?))
        })
        .unwrap();
    assert_eq!(keys, (1, 2));
}

#[test]
#[should_panic(expected = "rows of twice")]
fn same_rows_compares_each_row_s_count() {
    same_rows(&["a", "a"], &["a", "b"], "twice");
}

#[test]
fn a_key_deleted_earlier_in_the_transaction_is_not_assigned_again() {
    let db = builder().in_memory().unwrap();
    db.write(|tx| {
        tx.insert(&club(1, 0))?;
        tx.insert(&pass(1, 0, 1))?;
        tx.insert(&ticket(0, 1, 0)).map(drop)
    })
    .unwrap();
    // The explicit key 1 and the assigned key 1 were committed; deleting them first
    // does not make them the next key.
    let keys = db
        .write(|tx| {
            tx.delete::<Pass>(&1)?;
            tx.delete::<Ticket>(&1)?;
            Ok((tx.insert(&pass(0, 0, 1))?, tx.insert(&ticket(0, 1, 0))?))
        })
        .unwrap();
    assert_eq!(keys, (2, 2));
}
