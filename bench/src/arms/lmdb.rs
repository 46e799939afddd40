//! LMDB through heed, written by hand like the `redb` arm: the same tables, the same
//! postcard row bytes, the same index upkeep. Keys are big-endian bytes so that LMDB's
//! byte order is the order of the fields: `users` (id), `users_email` (email -> id),
//! `users_age` (age ++ id), `users_city` (city ++ 0 ++ id), `orders` (id),
//! `orders_user` (user_id ++ order id). The floor for reads: B+tree pages read straight
//! from the memory map, no page cache of its own.
//!
//! Durable commits are LMDB's default (fsync at commit). The non-durable workload turns on
//! `EnvFlags::NO_SYNC` for its commits and off again after (LMDB has no per-transaction
//! setting); the next durable commit flushes everything.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use heed::types::{Bytes, Unit};
use heed::{
    CommitOrAbort, CompactionOption, Database, Env, EnvFlags, EnvOpenOptions, FlagSetMode, MdbError, PutFlags, RwTxn,
};

use super::redb_raw::{OrderRow, Row, clone_row, decode, encode};
use super::{Arm, size_of, two_threads};
use crate::workloads::{BoxResult, Loaded, OrderData, Tally, UserData};

/// The map: address space only (the file grows as pages are written), room for
/// 1,000,000 users and their orders many times over.
const MAP_SIZE: usize = 16 << 30;

/// Opens (creating) the environment in directory `dir`.
///
/// heed has no safe way to open an environment: `EnvOpenOptions::open` is `unsafe` because
/// LMDB memory-maps the file, and modifying the file behind the map (from this process
/// outside LMDB, or from another process without LMDB's lock) is undefined behaviour.
/// This is the reason the crate is `deny(unsafe_code)` and not `forbid`: this function and
/// [`set_no_sync`] are the only places that allow it.
#[allow(unsafe_code)]
fn open_env(dir: &Path) -> BoxResult<Env> {
    std::fs::create_dir_all(dir)?;
    let mut options = EnvOpenOptions::new();
    options.map_size(MAP_SIZE).max_dbs(8);
    // SAFETY: `dir` is a fresh directory under the bench's own temp dir; nothing but this
    // environment opens or writes its files while it is open, and the environment is
    // opened once.
    let env = unsafe { options.open(dir) }?;
    Ok(env)
}

/// Turns LMDB's `NO_SYNC` (commits without fsync) on or off. See [`open_env`] for why
/// this needs `unsafe`.
#[allow(unsafe_code)]
fn set_no_sync(env: &Env, on: bool) -> BoxResult<()> {
    let mode = if on { FlagSetMode::Enable } else { FlagSetMode::Disable };
    // SAFETY: NO_SYNC only gives up the durability of the commits made while it is on,
    // which is what the non-durable workload asks for. LMDB wants one thread at a time in
    // `mdb_env_set_flags`: the arm calls it from the thread that owns it, with no
    // transaction open.
    unsafe { env.set_flags(EnvFlags::NO_SYNC, mode) }?;
    Ok(())
}

type Table<V> = Database<'static, Bytes, V>;

struct Tables {
    users: Table<Bytes>,
    email: Table<Bytes>,
    age: Table<Unit>,
    city: Table<Unit>,
    orders: Table<Bytes>,
    orders_user: Table<Unit>,
}

impl Tables {
    fn create(env: &Env) -> BoxResult<Tables> {
        let (users, email, age, city, orders, orders_user) = env
            .create_databases_and_commit(env.write_txn()?, |o, tx| -> BoxResult<_> {
                Ok(CommitOrAbort::<_, ()>::Commit((
                    o.create_database::<Bytes, Bytes>(tx, Some("users"))?,
                    o.create_database::<Bytes, Bytes>(tx, Some("users_email"))?,
                    o.create_database::<Bytes, Unit>(tx, Some("users_age"))?,
                    o.create_database::<Bytes, Unit>(tx, Some("users_city"))?,
                    o.create_database::<Bytes, Bytes>(tx, Some("orders"))?,
                    o.create_database::<Bytes, Unit>(tx, Some("orders_user"))?,
                )))
            })?
            .unwrap_commit();
        Ok(Tables { users, email, age, city, orders, orders_user })
    }

    /// Puts `key` unless it is there; false when it was.
    fn put_new(db: &Table<Bytes>, tx: &mut RwTxn, key: &[u8], value: &[u8]) -> BoxResult<bool> {
        match db.put_with_flags(tx, PutFlags::NO_OVERWRITE, key, value) {
            Ok(()) => Ok(true),
            Err(heed::Error::Mdb(MdbError::KeyExist)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Inserts one user and its index entries; a duplicate key or email is an error.
    fn insert_user(&self, tx: &mut RwTxn, u: &UserData) -> BoxResult<()> {
        let id = u.id.to_be_bytes();
        if !Tables::put_new(&self.users, tx, &id, &encode(u)?)? {
            return Err(format!("duplicate key {}", u.id).into());
        }
        if !Tables::put_new(&self.email, tx, u.email.as_bytes(), &id)? {
            return Err(format!("duplicate email {}", u.email).into());
        }
        self.age.put(tx, &age_key(u.age, u.id), &())?;
        self.city.put(tx, &city_key(&u.city, u.id), &())?;
        Ok(())
    }

    /// Gets by primary key in one read transaction.
    fn gets(&self, env: &Env, ids: &[u64]) -> BoxResult<Tally> {
        let tx = env.read_txn()?;
        let mut t = Tally::default();
        for &id in ids {
            if let Some(row) = self.get_user(&tx, id)? {
                t.add(row.age, row.text_len());
            }
        }
        Ok(t)
    }

    fn get_user(&self, tx: &heed::RoTxn, id: u64) -> BoxResult<Option<Row>> {
        match self.users.get(tx, &id.to_be_bytes())? {
            Some(bytes) => Ok(Some(decode(bytes)?)),
            None => Ok(None),
        }
    }
}

fn age_key(age: u32, id: u64) -> [u8; 12] {
    let mut k = [0; 12];
    k[..4].copy_from_slice(&age.to_be_bytes());
    k[4..].copy_from_slice(&id.to_be_bytes());
    k
}

/// City, a 0 byte (no city holds one, and it sorts before any other byte), then the id.
fn city_key(city: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(city.len() + 9);
    k.extend_from_slice(city.as_bytes());
    k.push(0);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn pair_key(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&b.to_be_bytes());
    k
}

fn id_at(bytes: &[u8], at: usize) -> BoxResult<u64> {
    let b: [u8; 8] = bytes.get(at..at + 8).and_then(|s| s.try_into().ok()).ok_or("short key")?;
    Ok(u64::from_be_bytes(b))
}

pub struct LmdbArm {
    env: Env,
    tables: Tables,
    /// The environment's directory; compaction moves it to a sibling.
    dir: PathBuf,
    generation: u32,
}

impl LmdbArm {
    /// `dir`: a directory for the environment (created).
    pub fn open(dir: &Path) -> BoxResult<LmdbArm> {
        let env = open_env(dir)?;
        let tables = Tables::create(&env)?;
        Ok(LmdbArm { env, tables, dir: dir.to_path_buf(), generation: 0 })
    }
}

impl Arm for LmdbArm {
    fn insert_bulk(&mut self, rows: &[UserData]) -> BoxResult<()> {
        let mut tx = self.env.write_txn()?;
        for u in rows {
            self.tables.insert_user(&mut tx, u)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_single_commits(&mut self, rows: &[UserData], durable: bool) -> BoxResult<()> {
        if !durable {
            set_no_sync(&self.env, true)?;
        }
        let result = rows.iter().try_for_each(|u| -> BoxResult<()> {
            let mut tx = self.env.write_txn()?;
            self.tables.insert_user(&mut tx, u)?;
            tx.commit()?;
            Ok(())
        });
        if !durable {
            set_no_sync(&self.env, false)?;
        }
        result
    }

    fn get_by_id(&mut self, ids: &[u64]) -> BoxResult<Tally> {
        self.tables.gets(&self.env, ids)
    }

    fn get_by_id_2threads(&mut self, halves: [&[u64]; 2]) -> BoxResult<Option<Tally>> {
        // One `Env` shared by reference; each thread opens its own read transaction.
        let (env, tables) = (&self.env, &self.tables);
        Ok(Some(two_threads(halves, |ids| tables.gets(env, ids), |ids| tables.gets(env, ids))?))
    }

    fn get_by_email(&mut self, emails: &[String]) -> BoxResult<Tally> {
        let tx = self.env.read_txn()?;
        let mut t = Tally::default();
        for e in emails {
            if let Some(id) = self.tables.email.get(&tx, e.as_bytes())? {
                let row = self.tables.get_user(&tx, id_at(id, 0)?)?.ok_or("email index points to a missing row")?;
                t.add(row.age, row.text_len());
            }
        }
        Ok(t)
    }

    fn age_range(&mut self, starts: &[u32], width: u32, limit: usize) -> BoxResult<Tally> {
        let tx = self.env.read_txn()?;
        let mut t = Tally::default();
        for &a in starts {
            let (lo, hi) = (age_key(a, 0), age_key(a + width, u64::MAX));
            let range = (std::ops::Bound::Included(&lo[..]), std::ops::Bound::Included(&hi[..]));
            for entry in self.tables.age.range(&tx, &range)?.take(limit) {
                let (k, ()) = entry?;
                let row = self.tables.get_user(&tx, id_at(k, 4)?)?.ok_or("age index points to a missing row")?;
                t.add(row.age, row.text_len());
            }
        }
        Ok(t)
    }

    fn scan_all(&mut self) -> BoxResult<Tally> {
        let tx = self.env.read_txn()?;
        let mut t = Tally::default();
        for entry in self.tables.users.iter(&tx)? {
            let (_, v) = entry?;
            let row = decode(v)?;
            t.add(row.age, row.text_len());
        }
        Ok(t)
    }

    fn count_by_city(&mut self) -> BoxResult<Vec<(String, u64)>> {
        // Walk the city index (sorted by city) and count runs; no row is read.
        let tx = self.env.read_txn()?;
        let mut out: Vec<(String, u64)> = Vec::new();
        for entry in self.tables.city.iter(&tx)? {
            let (k, ()) = entry?;
            let city = std::str::from_utf8(k.get(..k.len().saturating_sub(9)).ok_or("short key")?)?;
            match out.last_mut() {
                Some((c, n)) if c == city => *n += 1,
                _ => out.push((city.to_string(), 1)),
            }
        }
        Ok(out)
    }

    fn count_name_prefix(&mut self, prefix: &str) -> BoxResult<u64> {
        let tx = self.env.read_txn()?;
        let mut n = 0;
        for entry in self.tables.users.iter(&tx)? {
            let (_, v) = entry?;
            if decode(v)?.name.starts_with(prefix) {
                n += 1;
            }
        }
        Ok(n)
    }

    fn update_ages(&mut self, updates: &[(u64, u32)]) -> BoxResult<u64> {
        let mut tx = self.env.write_txn()?;
        let t = &self.tables;
        let mut found = 0;
        for &(id, age) in updates {
            let key = id.to_be_bytes();
            let old = match t.users.get(&tx, &key)? {
                Some(bytes) => decode(bytes)?,
                None => continue,
            };
            found += 1;
            let new = Row { age, ..clone_row(&old) };
            // As in the redb arm: every indexed field is compared, and only the changed
            // ones touch their index.
            if old.email != new.email {
                t.email.delete(&mut tx, old.email.as_bytes())?;
                if !Tables::put_new(&t.email, &mut tx, new.email.as_bytes(), &key)? {
                    return Err(format!("duplicate email {}", new.email).into());
                }
            }
            if old.age != new.age {
                t.age.delete(&mut tx, &age_key(old.age, id))?;
                t.age.put(&mut tx, &age_key(new.age, id), &())?;
            }
            if old.city != new.city {
                t.city.delete(&mut tx, &city_key(&old.city, id))?;
                t.city.put(&mut tx, &city_key(&new.city, id), &())?;
            }
            t.users.put(&mut tx, &key, &postcard::to_allocvec(&new)?)?;
        }
        tx.commit()?;
        Ok(found)
    }

    fn delete_users(&mut self, ids: &[u64]) -> BoxResult<u64> {
        let mut tx = self.env.write_txn()?;
        let t = &self.tables;
        let mut removed = 0;
        for &id in ids {
            let key = id.to_be_bytes();
            let old = match t.users.get(&tx, &key)? {
                Some(bytes) => decode(bytes)?,
                None => continue,
            };
            t.users.delete(&mut tx, &key)?;
            removed += 1;
            t.email.delete(&mut tx, old.email.as_bytes())?;
            t.age.delete(&mut tx, &age_key(old.age, id))?;
            t.city.delete(&mut tx, &city_key(&old.city, id))?;
        }
        tx.commit()?;
        Ok(removed)
    }

    fn insert_orders(&mut self, orders: &[OrderData]) -> BoxResult<()> {
        let mut tx = self.env.write_txn()?;
        for o in orders {
            let bytes = postcard::to_allocvec(&OrderRow { user_id: o.user_id, amount: o.amount })?;
            if !Tables::put_new(&self.tables.orders, &mut tx, &o.id.to_be_bytes(), &bytes)? {
                return Err(format!("duplicate order {}", o.id).into());
            }
            self.tables.orders_user.put(&mut tx, &pair_key(o.user_id, o.id), &())?;
        }
        tx.commit()?;
        Ok(())
    }

    fn sum_orders_by_user(&mut self) -> BoxResult<Vec<(u64, u64)>> {
        let tx = self.env.read_txn()?;
        let mut sums: HashMap<u64, u64> = HashMap::new();
        for entry in self.tables.orders.iter(&tx)? {
            let (_, v) = entry?;
            let o: OrderRow = postcard::from_bytes(v)?;
            *sums.entry(o.user_id).or_default() += o.amount;
        }
        Ok(sums.into_iter().collect())
    }

    fn users_with_orders(&mut self, ids: &[u64]) -> BoxResult<Loaded> {
        let tx = self.env.read_txn()?;
        let t = &self.tables;
        let mut l = Loaded::default();
        for &id in ids {
            let Some(row) = t.get_user(&tx, id)? else { continue };
            l.users.add(row.age, row.text_len());
            for entry in t.orders_user.prefix_iter(&tx, &id.to_be_bytes())? {
                let (k, ()) = entry?;
                let o = t.orders.get(&tx, &k[8..])?.ok_or("user index points to a missing order")?;
                let o: OrderRow = postcard::from_bytes(o)?;
                l.add_order(o.amount);
            }
        }
        Ok(l)
    }

    fn count_users(&mut self) -> BoxResult<u64> {
        let tx = self.env.read_txn()?;
        Ok(self.tables.users.len(&tx)?)
    }

    fn count_age_between(&mut self, lo: u32, hi: u32) -> BoxResult<u64> {
        let tx = self.env.read_txn()?;
        let (lo, hi) = (age_key(lo, 0), age_key(hi, u64::MAX));
        let range = (std::ops::Bound::Included(&lo[..]), std::ops::Bound::Included(&hi[..]));
        let mut n = 0;
        for entry in self.tables.age.range(&tx, &range)? {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    fn file_bytes(&self) -> BoxResult<u64> {
        size_of(&self.dir.join("data.mdb"))
    }

    /// LMDB cannot compact in place: copies the environment with free pages left out
    /// (`CompactionOption::Enabled`) into a sibling directory and reopens it there.
    fn compact(&mut self) -> BoxResult<bool> {
        self.generation += 1;
        let name = format!("{}.{}", self.dir.file_name().and_then(|n| n.to_str()).ok_or("bad dir")?, self.generation);
        let next = self.dir.with_file_name(name);
        std::fs::create_dir_all(&next)?;
        drop(self.env.copy_to_path(next.join("data.mdb"), CompactionOption::Enabled)?);
        let env = open_env(&next)?;
        let tables = Tables::create(&env)?;
        let old = std::mem::replace(&mut self.env, env);
        self.tables = tables;
        old.prepare_for_closing().wait();
        std::fs::remove_dir_all(&self.dir)?;
        self.dir = next;
        Ok(true)
    }
}
