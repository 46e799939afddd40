//! native_db 0.8 (on its own redb 2), through its documented API.
//!
//! native_db has no durability setting: every commit is redb's default, `Immediate`. The
//! non-durable single-commit workload therefore runs with fsync on this arm.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use native_db::{Builder, Database, Models, ToKey, native_db};
use native_model::{Model, native_model};
use serde::{Deserialize, Serialize};

use super::{Arm, size_of, two_threads};
use crate::workloads::{BoxResult, Dataset, Loaded, OrderData, Tally, UserData, Workload, len_of};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[native_model(id = 1, version = 1)]
#[native_db]
pub struct NUser {
    #[primary_key]
    pub id: u64,
    #[secondary_key(unique)]
    pub email: String,
    #[secondary_key]
    pub age: u32,
    #[secondary_key]
    pub city: String,
    pub name: String,
    pub bio: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[native_model(id = 2, version = 1)]
#[native_db]
pub struct NOrder {
    #[primary_key]
    pub id: u64,
    #[secondary_key]
    pub user_id: u64,
    pub amount: u64,
}

static MODELS: LazyLock<Models> = LazyLock::new(|| {
    let mut models = Models::new();
    models.define::<NUser>().expect("NUser model");
    models.define::<NOrder>().expect("NOrder model");
    models
});

fn to_model(u: &UserData) -> NUser {
    NUser {
        id: u.id,
        email: u.email.clone(),
        age: u.age,
        city: u.city.clone(),
        name: u.name.clone(),
        bio: u.bio.clone(),
    }
}

fn text_len(u: &NUser) -> u64 {
    len_of(&u.email, &u.city, &u.name, &u.bio)
}

pub struct NativeArm {
    db: Database<'static>,
    path: PathBuf,
    staged_users: Vec<NUser>,
    staged_orders: Vec<NOrder>,
}

impl NativeArm {
    pub fn open(path: &Path) -> BoxResult<NativeArm> {
        let db = Builder::new().create(&MODELS, path)?;
        Ok(NativeArm { db, path: path.to_path_buf(), staged_users: Vec::new(), staged_orders: Vec::new() })
    }
}

/// Gets by primary key in one read transaction.
fn gets(db: &Database<'static>, ids: &[u64]) -> BoxResult<Tally> {
    let r = db.r_transaction()?;
    let mut t = Tally::default();
    for &id in ids {
        if let Some(u) = r.get().primary::<NUser>(id)? {
            t.add(u.age, text_len(&u));
        }
    }
    Ok(t)
}

impl Arm for NativeArm {
    fn prepare(&mut self, workload: Workload, data: &Dataset) -> BoxResult<()> {
        self.staged_users = match workload {
            Workload::InsertBulk => data.users.iter().map(to_model).collect(),
            Workload::CommitDurable => data.single_durable.iter().map(to_model).collect(),
            Workload::CommitNonDurable => data.single_nondurable.iter().map(to_model).collect(),
            _ => Vec::new(),
        };
        self.staged_orders = match workload {
            Workload::InsertOrders => {
                data.orders.iter().map(|o| NOrder { id: o.id, user_id: o.user_id, amount: o.amount }).collect()
            }
            _ => Vec::new(),
        };
        Ok(())
    }

    fn insert_bulk(&mut self, users: &[UserData]) -> BoxResult<()> {
        assert_eq!(users.len(), self.staged_users.len());
        let rw = self.db.rw_transaction()?;
        for u in self.staged_users.drain(..) {
            rw.insert(u)?;
        }
        rw.commit()?;
        Ok(())
    }

    fn insert_single_commits(&mut self, users: &[UserData], _durable: bool) -> BoxResult<()> {
        assert_eq!(users.len(), self.staged_users.len());
        for u in self.staged_users.drain(..) {
            let rw = self.db.rw_transaction()?;
            rw.insert(u)?;
            rw.commit()?;
        }
        Ok(())
    }

    fn get_by_id(&mut self, ids: &[u64]) -> BoxResult<Tally> {
        gets(&self.db, ids)
    }

    fn get_by_id_2threads(&mut self, halves: [&[u64]; 2]) -> BoxResult<Option<Tally>> {
        // One `Database` shared by reference; each thread opens its own read transaction.
        let db = &self.db;
        Ok(Some(two_threads(halves, |ids| gets(db, ids), |ids| gets(db, ids))?))
    }

    fn get_by_email(&mut self, emails: &[String]) -> BoxResult<Tally> {
        let r = self.db.r_transaction()?;
        let mut t = Tally::default();
        for e in emails {
            if let Some(u) = r.get().secondary::<NUser>(NUserKey::email, e.as_str())? {
                t.add(u.age, text_len(&u));
            }
        }
        Ok(t)
    }

    fn age_range(&mut self, starts: &[u32], width: u32, limit: usize) -> BoxResult<Tally> {
        let r = self.db.r_transaction()?;
        let mut t = Tally::default();
        for &a in starts {
            let scan = r.scan().secondary::<NUser>(NUserKey::age)?;
            for u in scan.range(a..=a + width)?.take(limit) {
                let u = u?;
                t.add(u.age, text_len(&u));
            }
        }
        Ok(t)
    }

    fn scan_all(&mut self) -> BoxResult<Tally> {
        let r = self.db.r_transaction()?;
        let mut t = Tally::default();
        for u in r.scan().primary::<NUser>()?.all()? {
            let u = u?;
            t.add(u.age, text_len(&u));
        }
        Ok(t)
    }

    fn count_by_city(&mut self) -> BoxResult<Vec<(String, u64)>> {
        // No group-by in native_db: scan and count.
        let r = self.db.r_transaction()?;
        let mut counts: HashMap<String, u64> = HashMap::new();
        for u in r.scan().primary::<NUser>()?.all()? {
            *counts.entry(u?.city).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }

    fn count_name_prefix(&mut self, prefix: &str) -> BoxResult<u64> {
        let r = self.db.r_transaction()?;
        let mut n = 0;
        for u in r.scan().primary::<NUser>()?.all()? {
            if u?.name.starts_with(prefix) {
                n += 1;
            }
        }
        Ok(n)
    }

    fn update_ages(&mut self, updates: &[(u64, u32)]) -> BoxResult<u64> {
        let rw = self.db.rw_transaction()?;
        let mut found = 0;
        for &(id, age) in updates {
            if let Some(old) = rw.get().primary::<NUser>(id)? {
                let new = NUser { age, ..old.clone() };
                rw.update(old, new)?;
                found += 1;
            }
        }
        rw.commit()?;
        Ok(found)
    }

    fn delete_users(&mut self, ids: &[u64]) -> BoxResult<u64> {
        let rw = self.db.rw_transaction()?;
        let mut removed = 0;
        for &id in ids {
            if let Some(old) = rw.get().primary::<NUser>(id)? {
                rw.remove(old)?;
                removed += 1;
            }
        }
        rw.commit()?;
        Ok(removed)
    }

    fn insert_orders(&mut self, orders: &[OrderData]) -> BoxResult<()> {
        assert_eq!(orders.len(), self.staged_orders.len());
        let rw = self.db.rw_transaction()?;
        for o in self.staged_orders.drain(..) {
            rw.insert(o)?;
        }
        rw.commit()?;
        Ok(())
    }

    fn sum_orders_by_user(&mut self) -> BoxResult<Vec<(u64, u64)>> {
        let r = self.db.r_transaction()?;
        let mut sums: HashMap<u64, u64> = HashMap::new();
        for o in r.scan().primary::<NOrder>()?.all()? {
            let o = o?;
            *sums.entry(o.user_id).or_default() += o.amount;
        }
        Ok(sums.into_iter().collect())
    }

    fn users_with_orders(&mut self, ids: &[u64]) -> BoxResult<Loaded> {
        let r = self.db.r_transaction()?;
        let mut l = Loaded::default();
        for &id in ids {
            let Some(u) = r.get().primary::<NUser>(id)? else { continue };
            l.users.add(u.age, text_len(&u));
            for o in r.scan().secondary::<NOrder>(NOrderKey::user_id)?.range(id..=id)? {
                l.add_order(o?.amount);
            }
        }
        Ok(l)
    }

    fn count_users(&mut self) -> BoxResult<u64> {
        let r = self.db.r_transaction()?;
        Ok(r.len().primary::<NUser>()?)
    }

    fn count_age_between(&mut self, lo: u32, hi: u32) -> BoxResult<u64> {
        let r = self.db.r_transaction()?;
        let mut n = 0;
        for u in r.scan().secondary::<NUser>(NUserKey::age)?.range(lo..=hi)? {
            u?;
            n += 1;
        }
        Ok(n)
    }

    fn file_bytes(&self) -> BoxResult<u64> {
        size_of(&self.path)
    }

    fn compact(&mut self) -> BoxResult<bool> {
        Ok(self.db.compact()?)
    }
}
