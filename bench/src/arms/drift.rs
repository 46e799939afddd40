//! Drift through its public API only (`use drift::prelude::*`).

use std::path::{Path, PathBuf};

use drift::prelude::*;
use drift::{count, sum};

use super::{Arm, size_of, two_threads};
use crate::workloads::{
    AGE_WIDTH, BoxResult, Dataset, Loaded, NAME_PREFIX, OrderData, RANGE_LIMIT, Tally, UserData, Workload, len_of,
};

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "users")]
pub struct User {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub age: u32,
    #[drift(index)]
    pub city: String,
    pub name: String,
    pub bio: String,
    /// Declared on the parent only: a `belongs_to` on `Order` would refuse the orders of
    /// deleted users, which `insert_orders_bulk` inserts like every other arm.
    #[drift(has_many(Order, foreign_key = user_id))]
    pub orders: HasMany<Order>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "orders")]
pub struct Order {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(index)]
    pub user_id: u64,
    pub amount: u64,
}

fn to_entity(u: &UserData) -> User {
    User {
        id: u.id,
        email: u.email.clone(),
        age: u.age,
        city: u.city.clone(),
        name: u.name.clone(),
        bio: u.bio.clone(),
        orders: HasMany::default(),
    }
}

/// The planner serves `in_list` on the primary key with point reads up to this many
/// values (beyond that it scans), so the eager workload queries in batches of this size.
const IN_LIST_BATCH: usize = 256;

fn text_len(u: &User) -> u64 {
    len_of(&u.email, &u.city, &u.name, &u.bio)
}

/// Gets by primary key in one read transaction.
fn gets(db: &Db, ids: &[u64]) -> BoxResult<Tally> {
    Ok(db.read(|tx| {
        let mut t = Tally::default();
        for id in ids {
            if let Some(u) = tx.get::<User>(id)? {
                t.add(u.age, text_len(&u));
            }
        }
        Ok(t)
    })?)
}

/// The cache size of the `drift` arm: the whole user table at the default `--n`.
pub const CACHE_CAPACITY: usize = 100_000;

pub struct DriftArm {
    db: Db,
    path: PathBuf,
    staged_users: Vec<User>,
    staged_orders: Vec<Order>,
}

impl DriftArm {
    /// `cache`: the decoded-entity cache on (`CACHE_CAPACITY` entities) or off (capacity 0).
    pub fn open(path: &Path, cache: bool) -> BoxResult<DriftArm> {
        let capacity = if cache { CACHE_CAPACITY } else { 0 };
        let db = Db::builder().entity::<User>().entity::<Order>().cache_capacity(capacity).open(path)?;
        Ok(DriftArm { db, path: path.to_path_buf(), staged_users: Vec::new(), staged_orders: Vec::new() })
    }
}

impl Arm for DriftArm {
    fn prepare(&mut self, workload: Workload, data: &Dataset) -> BoxResult<()> {
        self.staged_users = match workload {
            Workload::InsertBulk => data.users.iter().map(to_entity).collect(),
            Workload::CommitDurable => data.single_durable.iter().map(to_entity).collect(),
            Workload::CommitNonDurable => data.single_nondurable.iter().map(to_entity).collect(),
            _ => Vec::new(),
        };
        self.staged_orders = match workload {
            Workload::InsertOrders => {
                data.orders.iter().map(|o| Order { id: o.id, user_id: o.user_id, amount: o.amount }).collect()
            }
            _ => Vec::new(),
        };
        Ok(())
    }

    fn insert_bulk(&mut self, users: &[UserData]) -> BoxResult<()> {
        assert_eq!(users.len(), self.staged_users.len());
        let staged = &self.staged_users;
        self.db.write(|tx| {
            for u in staged {
                tx.insert(u)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn insert_single_commits(&mut self, users: &[UserData], durable: bool) -> BoxResult<()> {
        assert_eq!(users.len(), self.staged_users.len());
        let durability = if durable { Durability::Immediate } else { Durability::None };
        for u in &self.staged_users {
            self.db.write(|tx| {
                tx.set_durability(durability);
                tx.insert(u)
            })?;
        }
        Ok(())
    }

    fn get_by_id(&mut self, ids: &[u64]) -> BoxResult<Tally> {
        gets(&self.db, ids)
    }

    fn get_by_id_2threads(&mut self, halves: [&[u64]; 2]) -> BoxResult<Option<Tally>> {
        // One `Db` shared by reference (it is `Sync`); each thread opens its own read transaction.
        let db = &self.db;
        Ok(Some(two_threads(halves, |ids| gets(db, ids), |ids| gets(db, ids))?))
    }

    fn get_by_email(&mut self, emails: &[String]) -> BoxResult<Tally> {
        Ok(self.db.read(|tx| {
            let mut t = Tally::default();
            for e in emails {
                if let Some(u) = tx.get_by::<User, _>(User::EMAIL, e.as_str())? {
                    t.add(u.age, text_len(&u));
                }
            }
            Ok(t)
        })?)
    }

    fn age_range(&mut self, starts: &[u32], width: u32, limit: usize) -> BoxResult<Tally> {
        Ok(self.db.read(|tx| {
            let mut t = Tally::default();
            for &a in starts {
                let q =
                    tx.query::<User>().filter(User::AGE.between(a, a + width)).order_by(User::AGE.asc()).limit(limit);
                for u in q.iter()? {
                    let u = u?;
                    t.add(u.age, text_len(&u));
                }
            }
            Ok(t)
        })?)
    }

    fn scan_all(&mut self) -> BoxResult<Tally> {
        Ok(self.db.read(|tx| {
            let mut t = Tally::default();
            for u in tx.query::<User>().iter()? {
                let u = u?;
                t.add(u.age, text_len(&u));
            }
            Ok(t)
        })?)
    }

    fn count_by_city(&mut self) -> BoxResult<Vec<(String, u64)>> {
        Ok(self.db.read(|tx| {
            let groups = tx.query::<User>().group_by(User::CITY).aggregate((count(),)).all()?;
            Ok(groups.into_iter().map(|(city, (n,))| (city, n)).collect())
        })?)
    }

    fn count_name_prefix(&mut self, prefix: &str) -> BoxResult<u64> {
        Ok(self.db.read(|tx| tx.query::<User>().filter(User::NAME.starts_with(prefix)).count())?)
    }

    fn update_ages(&mut self, updates: &[(u64, u32)]) -> BoxResult<u64> {
        Ok(self.db.write(|tx| {
            let mut found = 0;
            for &(id, age) in updates {
                if let Some(mut u) = tx.get::<User>(&id)? {
                    u.age = age;
                    tx.update(&u)?;
                    found += 1;
                }
            }
            Ok(found)
        })?)
    }

    fn delete_users(&mut self, ids: &[u64]) -> BoxResult<u64> {
        Ok(self.db.write(|tx| {
            let mut removed = 0;
            for id in ids {
                if tx.delete::<User>(id)?.is_some() {
                    removed += 1;
                }
            }
            Ok(removed)
        })?)
    }

    fn insert_orders(&mut self, orders: &[OrderData]) -> BoxResult<()> {
        assert_eq!(orders.len(), self.staged_orders.len());
        let staged = &self.staged_orders;
        self.db.write(|tx| {
            for o in staged {
                tx.insert(o)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn sum_orders_by_user(&mut self) -> BoxResult<Vec<(u64, u64)>> {
        Ok(self.db.read(|tx| {
            let groups = tx.query::<Order>().group_by(Order::USER_ID).aggregate((sum(Order::AMOUNT),)).all()?;
            Ok(groups.into_iter().map(|(user, (total,))| (user, total)).collect())
        })?)
    }

    fn users_with_orders(&mut self, ids: &[u64]) -> BoxResult<Loaded> {
        Ok(self.db.read(|tx| {
            let mut l = Loaded::default();
            for batch in ids.chunks(IN_LIST_BATCH) {
                let users = tx.query::<User>().filter(User::ID.in_list(batch.to_vec())).with(User::ORDERS).all()?;
                for u in &users {
                    l.users.add(u.age, text_len(u));
                    // Loaded by `.with`; were it not, the count would not match the model.
                    for o in u.orders.loaded().unwrap_or_default() {
                        l.add_order(o.amount);
                    }
                }
            }
            Ok(l)
        })?)
    }

    fn count_users(&mut self) -> BoxResult<u64> {
        Ok(self.db.read(|tx| tx.query::<User>().count())?)
    }

    fn count_age_between(&mut self, lo: u32, hi: u32) -> BoxResult<u64> {
        Ok(self.db.read(|tx| tx.query::<User>().filter(User::AGE.between(lo, hi)).count())?)
    }

    fn file_bytes(&self) -> BoxResult<u64> {
        size_of(&self.path)
    }

    fn explain(&mut self) -> BoxResult<Option<String>> {
        Ok(Some(self.db.read(|tx| {
            let range = tx
                .query::<User>()
                .filter(User::AGE.between(40, 40 + AGE_WIDTH))
                .order_by(User::AGE.asc())
                .limit(RANGE_LIMIT);
            let plans = [
                ("index_range_age_limit", range.explain()?),
                ("full_scan_sum_age", tx.query::<User>().explain()?),
                ("group_count_city", tx.query::<User>().group_by(User::CITY).aggregate((count(),)).explain()?),
                (
                    "filtered_scan_name_prefix",
                    tx.query::<User>().filter(User::NAME.starts_with(NAME_PREFIX)).explain()?,
                ),
                (
                    "group_sum_orders_by_user",
                    tx.query::<Order>().group_by(Order::USER_ID).aggregate((sum(Order::AMOUNT),)).explain()?,
                ),
                (
                    "eager_users_with_orders (a batch of 3)",
                    tx.query::<User>().filter(User::ID.in_list(vec![1_u64, 2, 3])).with(User::ORDERS).explain()?,
                ),
            ];
            Ok(plans.iter().map(|(w, p)| format!("{w}:\n{p}\n")).collect())
        })?))
    }

    fn compact(&mut self) -> BoxResult<bool> {
        Ok(self.db.compact()?)
    }
}
