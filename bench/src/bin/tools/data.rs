//! The file every measurement reads: `User` (a unique `email`, an indexed `age`) and
//! `Post` (a `belongs_to` its author, which indexes `author_id`, and an indexed `likes`).
//! N rows in all: N / 3 users and the rest posts, two posts per user.

use std::fmt::Debug;
use std::path::Path;

use drift::prelude::*;

/// Errors of the benchmark: anything, boxed, with its message.
pub type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Rows per write transaction when the file is written (not measured).
const WRITE_BATCH: u64 = 50_000;

/// The page cache of the writing process (not measured).
const WRITE_PAGE_CACHE: usize = 64 << 20;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "users")]
pub struct User {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub age: u32,
    pub name: String,
    pub created_at: i64,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "posts")]
pub struct Post {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub author_id: u64,
    pub title: String,
    pub body: String,
    #[drift(index)]
    pub likes: u32,
    pub published: Option<i64>,
    #[drift(belongs_to(User, key = author_id, on_delete = cascade))]
    pub author: BelongsTo<User>,
}

/// How the N rows split: (users, posts).
pub fn split(n: u64) -> (u64, u64) {
    let users = (n / 3).max(1);
    (users, n - users)
}

const LOREM: &str = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt \
                     ut labore et dolore magna aliqua; ut enim ad minim veniam, quis nostrud exercitation";

fn user(i: u64) -> User {
    User {
        id: 0,
        email: format!("user{i:07}@example.com"),
        age: 18 + (i * 7919 % 62) as u32,
        name: format!("User Number {i}"),
        created_at: 1_700_000_000 + (i as i64) * 37,
    }
}

fn post(i: u64, users: u64) -> Post {
    Post {
        id: 0,
        author_id: i % users + 1,
        title: format!("post {i}: notes on topic {}", i % 97),
        body: format!("{i:08} {}", &LOREM[..60 + (i % 50) as usize]),
        likes: (i * 7919 % 1000) as u32,
        published: (i % 4 != 0).then_some(1_700_000_000 + i as i64),
        ..Default::default()
    }
}

/// Writes the file at `path` (which must not exist): all users, then all posts.
pub fn write(path: &Path, n: u64) -> BoxResult<()> {
    let (users, posts) = split(n);
    let db =
        Db::builder().entity::<User>().entity::<Post>().page_cache(WRITE_PAGE_CACHE).cache_capacity(0).open(path)?;
    let mut done = 0;
    while done < users {
        let end = (done + WRITE_BATCH).min(users);
        db.write(|tx| {
            for i in done..end {
                tx.insert(&user(i))?;
            }
            Ok(())
        })?;
        done = end;
    }
    let mut done = 0;
    while done < posts {
        let end = (done + WRITE_BATCH).min(posts);
        db.write(|tx| {
            for i in done..end {
                tx.insert(&post(i, users))?;
            }
            Ok(())
        })?;
        done = end;
    }
    check("users written", db.read(|tx| tx.query::<User>().count())?, users)?;
    check("posts written", db.read(|tx| tx.query::<Post>().count())?, posts)?;
    Ok(())
}

/// A field of /proc/self/status (`VmHWM`, `VmRSS`), in KiB.
pub fn proc_status_kib(field: &str) -> BoxResult<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("no {field} in /proc/self/status"))?;
    let kib = line.trim().strip_suffix("kB").ok_or_else(|| format!("{field} is not in kB: {line}"))?;
    Ok(kib.trim().parse()?)
}

/// An error naming `what` unless `got == want`.
pub fn check<T: PartialEq + Debug>(what: &str, got: T, want: T) -> BoxResult<()> {
    if got == want { Ok(()) } else { Err(format!("check failed: {what}: got {got:?}, want {want:?}").into()) }
}
