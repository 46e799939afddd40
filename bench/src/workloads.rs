//! The data set, the workloads and the results every arm must reproduce.
//!
//! Everything here is generated from one fixed seed, so every arm (and every run) sees the
//! same rows and the same operations. The expected result of each workload is computed on a
//! plain in-memory model before any arm runs.

use std::collections::{BTreeMap, HashSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

/// The seed of every random choice in the benchmark.
pub const SEED: u64 = 0x5EED_D81F_7B3C_2024;

/// Result type of the arms: any error ends the run with a non-zero exit.
pub type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

pub const CITIES: [&str; 20] = [
    "Amsterdam",
    "Berlin",
    "Cairo",
    "Dublin",
    "Edinburgh",
    "Florence",
    "Geneva",
    "Helsinki",
    "Istanbul",
    "Jakarta",
    "Kyoto",
    "Lisbon",
    "Madrid",
    "Nairobi",
    "Oslo",
    "Prague",
    "Quito",
    "Riga",
    "Seoul",
    "Toronto",
];

const FIRST_NAMES: [&str; 20] = [
    "Ann", "Alan", "Bob", "Cara", "Dan", "Eve", "Finn", "Gia", "Hal", "Ivy", "Jon", "Kai", "Lea", "Max", "Nia", "Otto",
    "Pia", "Quin", "Rex", "Sue",
];

const LAST_NAMES: [&str; 10] =
    ["Smith", "Jones", "Garcia", "Muller", "Rossi", "Tanaka", "Novak", "Silva", "Kowalski", "Dubois"];

/// The prefix of the filtered scan on the unindexed `name` field (matches "Alan ...": ~5%).
pub const NAME_PREFIX: &str = "Al";
pub const MIN_AGE: u32 = 18;
pub const MAX_AGE: u32 = 80;
/// `age between a and a + AGE_WIDTH`, inclusive.
pub const AGE_WIDTH: u32 = 5;
pub const RANGE_LIMIT: usize = 100;
/// Untimed check after updates and deletes: rows with age in this range, through each arm's index.
pub const VERIFY_AGES: (u32, u32) = (30, 35);

/// One user row, independent of any arm.
#[derive(Debug, Clone, PartialEq)]
pub struct UserData {
    pub id: u64,
    pub email: String,
    pub age: u32,
    pub city: String,
    pub name: String,
    pub bio: String,
}

impl UserData {
    /// The byte length of the string fields: summed by every read workload so that no arm
    /// can skip decoding them.
    pub fn text_len(&self) -> u64 {
        len_of(&self.email, &self.city, &self.name, &self.bio)
    }
}

pub fn len_of(email: &str, city: &str, name: &str, bio: &str) -> u64 {
    (email.len() + city.len() + name.len() + bio.len()) as u64
}

/// One order row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderData {
    pub id: u64,
    pub user_id: u64,
    pub amount: u64,
}

/// What a read workload returns: rows seen, the sum of their ages and of their text lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub rows: u64,
    pub sum_age: u64,
    pub text_len: u64,
}

impl Tally {
    pub fn add(&mut self, age: u32, text_len: u64) {
        self.rows += 1;
        self.sum_age += u64::from(age);
        self.text_len += text_len;
    }
}

/// What the eager-loading workload returns: the users found (as a read workload's
/// tally), and the number and the summed `amount` of their orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loaded {
    pub users: Tally,
    pub orders: u64,
    pub amount: u64,
}

impl Loaded {
    /// Rows returned: the users and their orders.
    pub fn rows(&self) -> u64 {
        self.users.rows + self.orders
    }

    pub fn add_order(&mut self, amount: u64) {
        self.orders += 1;
        self.amount += amount;
    }
}

/// The workloads, in the order they run on each arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    InsertBulk,
    CommitDurable,
    CommitNonDurable,
    GetUniform,
    GetUniform2Threads,
    GetZipf,
    GetEmail,
    AgeRange,
    ScanSumAge,
    GroupByCity,
    NamePrefixScan,
    UpdateAge,
    Delete,
    InsertOrders,
    GroupOrdersByUser,
    EagerUsersWithOrders,
}

impl Workload {
    pub const ALL: [Workload; 16] = [
        Workload::InsertBulk,
        Workload::CommitDurable,
        Workload::CommitNonDurable,
        Workload::GetUniform,
        Workload::GetUniform2Threads,
        Workload::GetZipf,
        Workload::GetEmail,
        Workload::AgeRange,
        Workload::ScanSumAge,
        Workload::GroupByCity,
        Workload::NamePrefixScan,
        Workload::UpdateAge,
        Workload::Delete,
        Workload::InsertOrders,
        Workload::GroupOrdersByUser,
        Workload::EagerUsersWithOrders,
    ];

    /// The workload whose id is `id`.
    pub fn from_id(id: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.id() == id)
    }

    /// Workloads that must run before this one for it to have its data.
    pub fn needs(self) -> &'static [Workload] {
        match self {
            Workload::GroupOrdersByUser | Workload::EagerUsersWithOrders => {
                &[Workload::InsertBulk, Workload::InsertOrders]
            }
            // The scaling is against get_pk_uniform, which it follows as in a full run.
            Workload::GetUniform2Threads => &[Workload::InsertBulk, Workload::GetUniform],
            Workload::InsertBulk => &[],
            _ => &[Workload::InsertBulk],
        }
    }

    /// The id used in the JSON output.
    pub fn id(self) -> &'static str {
        match self {
            Workload::InsertBulk => "insert_bulk",
            Workload::CommitDurable => "commit_single_durable",
            Workload::CommitNonDurable => "commit_single_nondurable",
            Workload::GetUniform => "get_pk_uniform",
            Workload::GetUniform2Threads => "get_pk_uniform_2threads",
            Workload::GetZipf => "get_pk_zipf",
            Workload::GetEmail => "get_unique_email",
            Workload::AgeRange => "index_range_age_limit",
            Workload::ScanSumAge => "full_scan_sum_age",
            Workload::GroupByCity => "group_count_city",
            Workload::NamePrefixScan => "filtered_scan_name_prefix",
            Workload::UpdateAge => "update_indexed_age",
            Workload::Delete => "delete",
            Workload::InsertOrders => "insert_orders_bulk",
            Workload::GroupOrdersByUser => "group_sum_orders_by_user",
            Workload::EagerUsersWithOrders => "eager_users_with_orders",
        }
    }

    /// What one "op" of the workload is, for the table.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::InsertBulk | Workload::InsertOrders => "row",
            Workload::EagerUsersWithOrders => "row returned",
            Workload::CommitDurable | Workload::CommitNonDurable => "commit",
            Workload::GetUniform | Workload::GetUniform2Threads | Workload::GetZipf | Workload::GetEmail => "get",
            Workload::AgeRange => "query",
            Workload::ScanSumAge | Workload::GroupByCity | Workload::NamePrefixScan | Workload::GroupOrdersByUser => {
                "row scanned"
            }
            Workload::UpdateAge => "update",
            Workload::Delete => "delete",
        }
    }
}

/// Sizes of the workloads.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub n: usize,
    pub commits: usize,
    pub gets: usize,
    pub range_queries: usize,
    pub scan_passes: usize,
    pub updates: usize,
    pub deletes: usize,
    /// Users loaded with their orders.
    pub eager: usize,
}

impl Sizes {
    pub fn full(n: usize) -> Sizes {
        Sizes {
            n,
            commits: 1_000,
            gets: 100_000,
            range_queries: 1_000,
            scan_passes: 3,
            updates: 10_000.min(n / 4),
            deletes: 10_000.min(n / 4),
            eager: 1_000.min(n / 4),
        }
    }

    pub fn quick() -> Sizes {
        Sizes {
            n: 2_000,
            commits: 50,
            gets: 5_000,
            range_queries: 200,
            scan_passes: 2,
            updates: 500,
            deletes: 500,
            eager: 200,
        }
    }
}

/// The inputs of every workload.
pub struct Dataset {
    pub sizes: Sizes,
    /// Bulk insert, in random key order; ids are `1..=n`.
    pub users: Vec<UserData>,
    /// One commit each, durable; ids `n+1..=n+commits`.
    pub single_durable: Vec<UserData>,
    /// One commit each, non-durable; the next `commits` ids.
    pub single_nondurable: Vec<UserData>,
    /// Uniform over an id range ~10% larger than the table: about 1 in 11 misses. Also
    /// the gets of the two-reader workload, split in two halves (`Dataset::halves`).
    pub get_uniform: Vec<u64>,
    /// Zipf (s = 1.1) over the existing ids, hot keys scattered over the key space.
    pub get_zipf: Vec<u64>,
    /// Emails of uniformly chosen ids over the same larger range: some miss.
    pub get_email: Vec<String>,
    /// Lower bounds `a` of `age between a and a + AGE_WIDTH`.
    pub age_starts: Vec<u32>,
    /// `(id, new_age)`, distinct existing ids.
    pub updates: Vec<(u64, u32)>,
    /// Distinct existing ids.
    pub deletes: Vec<u64>,
    /// 1 to 5 orders per bulk-inserted user (3 on average), in id order.
    pub orders: Vec<OrderData>,
    /// Distinct bulk-inserted users that are not deleted, in random order: loaded with
    /// their orders.
    pub eager_users: Vec<u64>,
}

impl Dataset {
    /// The uniform gets split in two, one half per reader thread.
    pub fn halves(&self) -> [&[u64]; 2] {
        let (a, b) = self.get_uniform.split_at(self.get_uniform.len() / 2);
        [a, b]
    }
}

/// splitmix64: a bijection on u64, so emails derived from ids are unique.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub fn email_of(id: u64) -> String {
    format!("{:016x}@example.com", mix(id))
}

fn make_user(rng: &mut StdRng, id: u64) -> UserData {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz     ";
    let bio: String = (0..100).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
    UserData {
        id,
        email: email_of(id),
        age: rng.random_range(MIN_AGE..=MAX_AGE),
        city: CITIES[rng.random_range(0..CITIES.len())].to_string(),
        name: format!(
            "{} {}",
            FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
            LAST_NAMES[rng.random_range(0..LAST_NAMES.len())]
        ),
        bio,
    }
}

fn distinct_ids(rng: &mut StdRng, max_id: u64, count: usize) -> Vec<u64> {
    let mut seen = HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let id = rng.random_range(1..=max_id);
        if seen.insert(id) {
            out.push(id);
        }
    }
    out
}

impl Dataset {
    pub fn generate(sizes: Sizes) -> Dataset {
        let mut rng = StdRng::seed_from_u64(SEED);
        let n = sizes.n as u64;
        let c = sizes.commits as u64;
        let mut users: Vec<UserData> = (1..=n).map(|id| make_user(&mut rng, id)).collect();
        users.shuffle(&mut rng);
        let single_durable = (n + 1..=n + c).map(|id| make_user(&mut rng, id)).collect();
        let single_nondurable = (n + c + 1..=n + 2 * c).map(|id| make_user(&mut rng, id)).collect();
        let total = n + 2 * c;
        let wide = total + total / 10;
        let get_uniform = (0..sizes.gets).map(|_| rng.random_range(1..=wide)).collect();
        let mut perm: Vec<u64> = (1..=total).collect();
        perm.shuffle(&mut rng);
        let zipf = Zipf::new(total as f64, 1.1).expect("valid zipf parameters");
        let get_zipf = (0..sizes.gets)
            .map(|_| {
                let rank = zipf.sample(&mut rng) as usize;
                perm[rank.clamp(1, perm.len()) - 1]
            })
            .collect();
        let get_email = (0..sizes.gets).map(|_| email_of(rng.random_range(1..=wide))).collect();
        let age_starts = (0..sizes.range_queries).map(|_| rng.random_range(MIN_AGE..=MAX_AGE)).collect();
        let updates = distinct_ids(&mut rng, total, sizes.updates)
            .into_iter()
            .map(|id| (id, rng.random_range(MIN_AGE..=MAX_AGE)))
            .collect();
        let deletes = distinct_ids(&mut rng, total, sizes.deletes);
        let mut orders = Vec::new();
        for user_id in 1..=n {
            for _ in 0..rng.random_range(1..=5) {
                let id = orders.len() as u64 + 1;
                orders.push(OrderData { id, user_id, amount: rng.random_range(1..=10_000) });
            }
        }
        // Drawn last, so that the data of the other workloads stays what it was.
        let deleted: HashSet<u64> = deletes.iter().copied().collect();
        let survivors = n - (1..=n).filter(|id| deleted.contains(id)).count() as u64;
        let eager_count = sizes.eager.min(survivors as usize);
        let mut seen = HashSet::with_capacity(eager_count);
        let mut eager_users = Vec::with_capacity(eager_count);
        while eager_users.len() < eager_count {
            let id = rng.random_range(1..=n);
            if !deleted.contains(&id) && seen.insert(id) {
                eager_users.push(id);
            }
        }
        Dataset {
            sizes,
            users,
            single_durable,
            single_nondurable,
            get_uniform,
            get_zipf,
            get_email,
            age_starts,
            updates,
            deletes,
            orders,
            eager_users,
        }
    }
}

/// What a workload must return on every arm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// A write workload: the number of rows it found and changed.
    Changed(u64),
    Tally(Tally),
    Loaded(Loaded),
    Count(u64),
    /// Sorted `(group, value)` pairs, the result of each pass.
    Groups(Vec<(String, u64)>),
}

/// Untimed checks after the update and delete workloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    pub rows: u64,
    pub ages_in_range: u64,
    /// Lookups by email of deleted users that still find a row: must be 0.
    pub deleted_emails_found: u64,
}

pub struct Expected {
    pub per_workload: BTreeMap<Workload, Expect>,
    pub verify: Verify,
    /// Users in the table during the read workloads (before updates and deletes).
    pub users_read: u64,
}

/// Runs the `selected` workloads on a plain in-memory model.
pub fn expected(data: &Dataset, selected: &[Workload]) -> Expected {
    let on = |w| selected.contains(&w);
    let mut model: BTreeMap<u64, UserData> = BTreeMap::new();
    let mut out = BTreeMap::new();
    let durable: &[UserData] = if on(Workload::CommitDurable) { &data.single_durable } else { &[] };
    let nondurable: &[UserData] = if on(Workload::CommitNonDurable) { &data.single_nondurable } else { &[] };
    for u in data.users.iter().chain(durable).chain(nondurable) {
        model.insert(u.id, u.clone());
    }
    let users_read = model.len() as u64;
    out.insert(Workload::InsertBulk, Expect::Changed(data.users.len() as u64));
    out.insert(Workload::CommitDurable, Expect::Changed(data.single_durable.len() as u64));
    out.insert(Workload::CommitNonDurable, Expect::Changed(data.single_nondurable.len() as u64));
    let gets = |ids: &[u64]| {
        let mut t = Tally::default();
        for id in ids {
            if let Some(u) = model.get(id) {
                t.add(u.age, u.text_len());
            }
        }
        Expect::Tally(t)
    };
    out.insert(Workload::GetUniform, gets(&data.get_uniform));
    out.insert(Workload::GetUniform2Threads, gets(&data.get_uniform));
    out.insert(Workload::GetZipf, gets(&data.get_zipf));
    let by_email: std::collections::HashMap<&str, &UserData> = model.values().map(|u| (u.email.as_str(), u)).collect();
    let mut t = Tally::default();
    for e in &data.get_email {
        if let Some(u) = by_email.get(e.as_str()) {
            t.add(u.age, u.text_len());
        }
    }
    out.insert(Workload::GetEmail, Expect::Tally(t));

    // Index range with limit: the first RANGE_LIMIT rows in (age, id) order.
    let mut by_age: Vec<&UserData> = model.values().collect();
    by_age.sort_by_key(|u| (u.age, u.id));
    let mut t = Tally::default();
    for &a in &data.age_starts {
        let start = by_age.partition_point(|u| u.age < a);
        for u in by_age[start..].iter().take_while(|u| u.age <= a + AGE_WIDTH).take(RANGE_LIMIT) {
            t.add(u.age, u.text_len());
        }
    }
    out.insert(Workload::AgeRange, Expect::Tally(t));

    let passes = data.sizes.scan_passes as u64;
    let mut t = Tally::default();
    for u in model.values() {
        t.add(u.age, u.text_len());
    }
    t.rows *= passes;
    t.sum_age *= passes;
    t.text_len *= passes;
    out.insert(Workload::ScanSumAge, Expect::Tally(t));
    let mut cities: BTreeMap<String, u64> = BTreeMap::new();
    for u in model.values() {
        *cities.entry(u.city.clone()).or_default() += 1;
    }
    out.insert(Workload::GroupByCity, Expect::Groups(cities.into_iter().collect()));
    let prefixed = model.values().filter(|u| u.name.starts_with(NAME_PREFIX)).count() as u64;
    out.insert(Workload::NamePrefixScan, Expect::Count(prefixed * passes));

    // Updates and deletes hit existing ids when every workload runs; without the commit
    // workloads, some miss.
    let mut found = 0;
    if on(Workload::UpdateAge) {
        for &(id, age) in &data.updates {
            if let Some(u) = model.get_mut(&id) {
                u.age = age;
                found += 1;
            }
        }
    }
    out.insert(Workload::UpdateAge, Expect::Changed(found));
    let mut removed = 0;
    if on(Workload::Delete) {
        for id in &data.deletes {
            removed += u64::from(model.remove(id).is_some());
        }
    }
    out.insert(Workload::Delete, Expect::Changed(removed));
    let verify = Verify {
        rows: model.len() as u64,
        ages_in_range: model.values().filter(|u| (VERIFY_AGES.0..=VERIFY_AGES.1).contains(&u.age)).count() as u64,
        deleted_emails_found: 0,
    };

    out.insert(Workload::InsertOrders, Expect::Changed(data.orders.len() as u64));
    let mut sums: BTreeMap<u64, u64> = BTreeMap::new();
    for o in &data.orders {
        *sums.entry(o.user_id).or_default() += o.amount;
    }
    out.insert(Workload::GroupOrdersByUser, Expect::Groups(order_groups(sums.into_iter().collect())));
    let mut orders_of: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for o in &data.orders {
        orders_of.entry(o.user_id).or_default().push(o.amount);
    }
    let mut loaded = Loaded::default();
    for id in &data.eager_users {
        if let Some(u) = model.get(id) {
            loaded.users.add(u.age, u.text_len());
            for &amount in orders_of.get(id).map_or(&[][..], Vec::as_slice) {
                loaded.add_order(amount);
            }
        }
    }
    out.insert(Workload::EagerUsersWithOrders, Expect::Loaded(loaded));
    Expected { per_workload: out, verify, users_read }
}

/// Normalizes per-user order sums for comparison: sorted by user id, keys as strings.
pub fn order_groups(mut sums: Vec<(u64, u64)>) -> Vec<(String, u64)> {
    sums.sort_unstable();
    sums.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
