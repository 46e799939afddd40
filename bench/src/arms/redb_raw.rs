//! Raw redb 4, written by hand: the floor. Rows are postcard bytes under a native `u64` key;
//! the indexes are separate tables kept right by hand on every write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::{Arm, size_of, two_threads};
use crate::workloads::{BoxResult, Loaded, OrderData, Tally, UserData, len_of};

const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
const USERS_EMAIL: TableDefinition<&str, u64> = TableDefinition::new("users_email");
const USERS_AGE: TableDefinition<(u32, u64), ()> = TableDefinition::new("users_age");
const USERS_CITY: TableDefinition<(&str, u64), ()> = TableDefinition::new("users_city");
const ORDERS: TableDefinition<u64, &[u8]> = TableDefinition::new("orders");
const ORDERS_USER: TableDefinition<(u64, u64), ()> = TableDefinition::new("orders_user");

/// The stored user row (the key lives only in the key), borrowed for encoding. The
/// `lmdb` arm stores the same bytes.
#[derive(Serialize)]
struct RowRef<'a> {
    email: &'a str,
    age: u32,
    city: &'a str,
    name: &'a str,
    bio: &'a str,
}

/// The same row, decoded into owned values as an application would.
#[derive(Serialize, Deserialize)]
pub(super) struct Row {
    pub(super) email: String,
    pub(super) age: u32,
    pub(super) city: String,
    pub(super) name: String,
    pub(super) bio: String,
}

impl Row {
    pub(super) fn text_len(&self) -> u64 {
        len_of(&self.email, &self.city, &self.name, &self.bio)
    }
}

pub(super) fn clone_row(r: &Row) -> Row {
    Row { email: r.email.clone(), age: r.age, city: r.city.clone(), name: r.name.clone(), bio: r.bio.clone() }
}

#[derive(Serialize, Deserialize)]
pub(super) struct OrderRow {
    pub(super) user_id: u64,
    pub(super) amount: u64,
}

pub(super) fn encode(u: &UserData) -> BoxResult<Vec<u8>> {
    Ok(postcard::to_allocvec(&RowRef { email: &u.email, age: u.age, city: &u.city, name: &u.name, bio: &u.bio })?)
}

pub(super) fn decode(bytes: &[u8]) -> BoxResult<Row> {
    Ok(postcard::from_bytes(bytes)?)
}

pub struct RedbArm {
    db: Database,
    path: PathBuf,
}

impl RedbArm {
    pub fn open(path: &Path) -> BoxResult<RedbArm> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        tx.open_table(USERS)?;
        tx.open_table(USERS_EMAIL)?;
        tx.open_table(USERS_AGE)?;
        tx.open_table(USERS_CITY)?;
        tx.open_table(ORDERS)?;
        tx.open_table(ORDERS_USER)?;
        tx.commit()?;
        Ok(RedbArm { db, path: path.to_path_buf() })
    }

    /// Inserts one user and its index entries; a duplicate key or email is an error.
    fn insert_user(tx: &redb::WriteTransaction, u: &UserData) -> BoxResult<()> {
        let mut users = tx.open_table(USERS)?;
        let mut email = tx.open_table(USERS_EMAIL)?;
        let mut age = tx.open_table(USERS_AGE)?;
        let mut city = tx.open_table(USERS_CITY)?;
        insert_into(&mut users, &mut email, &mut age, &mut city, u)
    }
}

fn insert_into(
    users: &mut redb::Table<u64, &[u8]>,
    email: &mut redb::Table<&str, u64>,
    age: &mut redb::Table<(u32, u64), ()>,
    city: &mut redb::Table<(&str, u64), ()>,
    u: &UserData,
) -> BoxResult<()> {
    if users.insert(u.id, encode(u)?.as_slice())?.is_some() {
        return Err(format!("duplicate key {}", u.id).into());
    }
    if email.insert(u.email.as_str(), u.id)?.is_some() {
        return Err(format!("duplicate email {}", u.email).into());
    }
    age.insert((u.age, u.id), ())?;
    city.insert((u.city.as_str(), u.id), ())?;
    Ok(())
}

/// Gets by primary key in one read transaction.
fn gets(db: &Database, ids: &[u64]) -> BoxResult<Tally> {
    let tx = db.begin_read()?;
    let users = tx.open_table(USERS)?;
    let mut t = Tally::default();
    for &id in ids {
        if let Some(g) = users.get(id)? {
            let row = decode(g.value())?;
            t.add(row.age, row.text_len());
        }
    }
    Ok(t)
}

impl Arm for RedbArm {
    fn insert_bulk(&mut self, rows: &[UserData]) -> BoxResult<()> {
        let tx = self.db.begin_write()?;
        {
            let mut users = tx.open_table(USERS)?;
            let mut email = tx.open_table(USERS_EMAIL)?;
            let mut age = tx.open_table(USERS_AGE)?;
            let mut city = tx.open_table(USERS_CITY)?;
            for u in rows {
                insert_into(&mut users, &mut email, &mut age, &mut city, u)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_single_commits(&mut self, rows: &[UserData], durable: bool) -> BoxResult<()> {
        for u in rows {
            let mut tx = self.db.begin_write()?;
            tx.set_durability(if durable { Durability::Immediate } else { Durability::None })?;
            RedbArm::insert_user(&tx, u)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn get_by_id(&mut self, ids: &[u64]) -> BoxResult<Tally> {
        gets(&self.db, ids)
    }

    fn get_by_id_2threads(&mut self, halves: [&[u64]; 2]) -> BoxResult<Option<Tally>> {
        // One `Database` shared by reference; each thread begins its own read transaction.
        let db = &self.db;
        Ok(Some(two_threads(halves, |ids| gets(db, ids), |ids| gets(db, ids))?))
    }

    fn get_by_email(&mut self, emails: &[String]) -> BoxResult<Tally> {
        let tx = self.db.begin_read()?;
        let users = tx.open_table(USERS)?;
        let by_email = tx.open_table(USERS_EMAIL)?;
        let mut t = Tally::default();
        for e in emails {
            if let Some(id) = by_email.get(e.as_str())? {
                let g = users.get(id.value())?.ok_or("email index points to a missing row")?;
                let row = decode(g.value())?;
                t.add(row.age, row.text_len());
            }
        }
        Ok(t)
    }

    fn age_range(&mut self, starts: &[u32], width: u32, limit: usize) -> BoxResult<Tally> {
        let tx = self.db.begin_read()?;
        let users = tx.open_table(USERS)?;
        let by_age = tx.open_table(USERS_AGE)?;
        let mut t = Tally::default();
        for &a in starts {
            for entry in by_age.range((a, 0)..=(a + width, u64::MAX))?.take(limit) {
                let (k, _) = entry?;
                let (_, id) = k.value();
                let g = users.get(id)?.ok_or("age index points to a missing row")?;
                let row = decode(g.value())?;
                t.add(row.age, row.text_len());
            }
        }
        Ok(t)
    }

    fn scan_all(&mut self) -> BoxResult<Tally> {
        let tx = self.db.begin_read()?;
        let users = tx.open_table(USERS)?;
        let mut t = Tally::default();
        for entry in users.iter()? {
            let (_, v) = entry?;
            let row = decode(v.value())?;
            t.add(row.age, row.text_len());
        }
        Ok(t)
    }

    fn count_by_city(&mut self) -> BoxResult<Vec<(String, u64)>> {
        // Walk the city index (sorted by city) and count runs; no row is read.
        let tx = self.db.begin_read()?;
        let by_city = tx.open_table(USERS_CITY)?;
        let mut out: Vec<(String, u64)> = Vec::new();
        for entry in by_city.iter()? {
            let (k, _) = entry?;
            let (city, _) = k.value();
            match out.last_mut() {
                Some((c, n)) if c == city => *n += 1,
                _ => out.push((city.to_string(), 1)),
            }
        }
        Ok(out)
    }

    fn count_name_prefix(&mut self, prefix: &str) -> BoxResult<u64> {
        let tx = self.db.begin_read()?;
        let users = tx.open_table(USERS)?;
        let mut n = 0;
        for entry in users.iter()? {
            let (_, v) = entry?;
            if decode(v.value())?.name.starts_with(prefix) {
                n += 1;
            }
        }
        Ok(n)
    }

    fn update_ages(&mut self, updates: &[(u64, u32)]) -> BoxResult<u64> {
        let tx = self.db.begin_write()?;
        let mut found = 0;
        {
            let mut users = tx.open_table(USERS)?;
            let mut email = tx.open_table(USERS_EMAIL)?;
            let mut by_age = tx.open_table(USERS_AGE)?;
            let mut by_city = tx.open_table(USERS_CITY)?;
            for &(id, age) in updates {
                let old = match users.get(id)? {
                    Some(g) => decode(g.value())?,
                    None => continue,
                };
                found += 1;
                let new = Row { age, ..clone_row(&old) };
                // A hand-written generic update: every indexed field is compared, and only
                // the changed ones touch their index.
                if old.email != new.email {
                    email.remove(old.email.as_str())?;
                    if email.insert(new.email.as_str(), id)?.is_some() {
                        return Err(format!("duplicate email {}", new.email).into());
                    }
                }
                if old.age != new.age {
                    by_age.remove((old.age, id))?;
                    by_age.insert((new.age, id), ())?;
                }
                if old.city != new.city {
                    by_city.remove((old.city.as_str(), id))?;
                    by_city.insert((new.city.as_str(), id), ())?;
                }
                users.insert(id, postcard::to_allocvec(&new)?.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(found)
    }

    fn delete_users(&mut self, ids: &[u64]) -> BoxResult<u64> {
        let tx = self.db.begin_write()?;
        let mut removed = 0;
        {
            let mut users = tx.open_table(USERS)?;
            let mut email = tx.open_table(USERS_EMAIL)?;
            let mut by_age = tx.open_table(USERS_AGE)?;
            let mut by_city = tx.open_table(USERS_CITY)?;
            for &id in ids {
                let old = match users.remove(id)? {
                    Some(g) => decode(g.value())?,
                    None => continue,
                };
                removed += 1;
                email.remove(old.email.as_str())?;
                by_age.remove((old.age, id))?;
                by_city.remove((old.city.as_str(), id))?;
            }
        }
        tx.commit()?;
        Ok(removed)
    }

    fn insert_orders(&mut self, orders: &[OrderData]) -> BoxResult<()> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(ORDERS)?;
            let mut by_user = tx.open_table(ORDERS_USER)?;
            for o in orders {
                let bytes = postcard::to_allocvec(&OrderRow { user_id: o.user_id, amount: o.amount })?;
                if table.insert(o.id, bytes.as_slice())?.is_some() {
                    return Err(format!("duplicate order {}", o.id).into());
                }
                by_user.insert((o.user_id, o.id), ())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn sum_orders_by_user(&mut self) -> BoxResult<Vec<(u64, u64)>> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(ORDERS)?;
        let mut sums: HashMap<u64, u64> = HashMap::new();
        for entry in table.iter()? {
            let (_, v) = entry?;
            let o: OrderRow = postcard::from_bytes(v.value())?;
            *sums.entry(o.user_id).or_default() += o.amount;
        }
        Ok(sums.into_iter().collect())
    }

    fn users_with_orders(&mut self, ids: &[u64]) -> BoxResult<Loaded> {
        let tx = self.db.begin_read()?;
        let users = tx.open_table(USERS)?;
        let orders = tx.open_table(ORDERS)?;
        let by_user = tx.open_table(ORDERS_USER)?;
        let mut l = Loaded::default();
        for &id in ids {
            let Some(g) = users.get(id)? else { continue };
            let row = decode(g.value())?;
            l.users.add(row.age, row.text_len());
            for entry in by_user.range((id, 0)..=(id, u64::MAX))? {
                let (k, _) = entry?;
                let (_, order_id) = k.value();
                let o = orders.get(order_id)?.ok_or("user index points to a missing order")?;
                let o: OrderRow = postcard::from_bytes(o.value())?;
                l.add_order(o.amount);
            }
        }
        Ok(l)
    }

    fn count_users(&mut self) -> BoxResult<u64> {
        let tx = self.db.begin_read()?;
        Ok(redb::ReadableTableMetadata::len(&tx.open_table(USERS)?)?)
    }

    fn count_age_between(&mut self, lo: u32, hi: u32) -> BoxResult<u64> {
        let tx = self.db.begin_read()?;
        let by_age = tx.open_table(USERS_AGE)?;
        let mut n = 0;
        for entry in by_age.range((lo, 0)..=(hi, u64::MAX))? {
            entry?;
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
