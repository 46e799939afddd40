//! Drift in an axum web service: one [`Db`] shared by every handler.
//!
//! - `POST /authors`, `POST /posts`: create; a row that fails validation, a taken
//!   unique value or an author that does not exist is `422` with JSON naming the
//!   fields: `{"errors": [{"field": "title", "message": "..."}]}`.
//! - `GET /posts?author_id=&min_likes=&after=&limit=`: a page of posts, each with its
//!   author loaded eagerly (one query for the page, one for the authors), and the
//!   cursor of the next page (`after` is the last post id seen).
//! - `GET /posts/{id}`, `POST /posts/{id}/like`.
//! - `GET /events?author_id=`: server-sent events fed by `db.watch::<Post>()`, one event
//!   per commit (`id:` is the commit number; a client that reconnects with
//!   `Last-Event-ID` resumes after it while the database holds it, and gets a `gap`
//!   event first when it does not). A client that reads too slowly gets the commits it
//!   missed from the history; a `gap` event says when they are gone.
//! - `GET /stats`: what `db.query_stats()` reports, with index advice.
//!
//! Drift's calls are synchronous: handlers run them on tokio's blocking pool.
#![forbid(unsafe_code)]

use std::convert::Infallible;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use drift::prelude::*;
use drift::{Change, ErrorKind};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

/// An author of posts.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Author {
    /// Assigned on insert.
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    /// Shown with each post.
    #[drift(validate(length(min = 1, max = 60)))]
    pub name: String,
    /// One author per address.
    #[drift(unique)]
    #[drift(validate(email))]
    pub email: String,
    /// The author's posts.
    #[drift(has_many(Post, foreign_key = author_id))]
    pub posts: HasMany<Post>,
}

/// A post; deleting its author deletes it.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Post {
    /// Assigned on insert.
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    /// The author.
    #[drift(index)]
    pub author_id: u64,
    /// One to 120 characters.
    #[drift(validate(length(min = 1, max = 120)))]
    pub title: String,
    /// The text.
    pub body: String,
    /// How many likes it has.
    #[drift(index)]
    pub likes: u32,
    /// The author, loaded by `with(Post::AUTHOR)`.
    #[drift(belongs_to(Author, key = author_id, on_delete = cascade))]
    pub author: BelongsTo<Author>,
}

/// Opens the service's database at `path`, logging queries of 50 ms or more.
///
/// # Errors
/// As [`drift::DbBuilder::open`].
pub fn open(path: &std::path::Path) -> drift::Result<Db> {
    Db::builder()
        .entity::<Author>()
        .entity::<Post>()
        .slow_query_threshold(std::time::Duration::from_millis(50))
        .open(path)
}

/// The service's routes over `db`.
pub fn app(db: Db) -> Router {
    Router::new()
        .route("/authors", post(create_author))
        .route("/posts", get(list_posts).post(create_post))
        .route("/posts/{id}", get(get_post))
        .route("/posts/{id}/like", post(like_post))
        .route("/events", get(events))
        .route("/stats", get(stats))
        .with_state(db)
}

/// A field's problem, as the client sees it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FieldError {
    /// The JSON field (`null` for a rule about the whole row).
    pub field: Option<String>,
    /// What is wrong with it.
    pub message: String,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError(StatusCode, serde_json::Value);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn unprocessable(errors: Vec<FieldError>) -> ApiError {
    ApiError(StatusCode::UNPROCESSABLE_ENTITY, serde_json::json!({ "errors": errors }))
}

impl From<drift::Error> for ApiError {
    fn from(e: drift::Error) -> Self {
        match &e {
            drift::Error::Validation(v) => unprocessable(
                v.violations()
                    .iter()
                    .map(|x| FieldError { field: x.field.map(str::to_string), message: x.message.clone() })
                    .collect(),
            ),
            drift::Error::UniqueViolation { index, value, .. } => unprocessable(vec![FieldError {
                field: Some((*index).to_string()),
                message: format!("{value} is taken"),
            }]),
            drift::Error::ForeignKey { field, parent, parent_key, .. } => unprocessable(vec![FieldError {
                field: Some(field.clone()),
                message: format!("no {parent} with id {parent_key}"),
            }]),
            _ if e.kind() == ErrorKind::NotFound => {
                ApiError(StatusCode::NOT_FOUND, serde_json::json!({ "error": e.to_string() }))
            }
            _ => {
                tracing::error!(error = %e, "request failed");
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "error": e.to_string() }))
            }
        }
    }
}

/// Runs `f` with the database on the blocking pool.
async fn blocking<R: Send + 'static>(
    db: &Db,
    f: impl FnOnce(&Db) -> drift::Result<R> + Send + 'static,
) -> Result<R, ApiError> {
    let db = db.clone();
    match tokio::task::spawn_blocking(move || f(&db)).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({ "error": e.to_string() }))),
    }
}

/// `POST /authors` body.
#[derive(Debug, Deserialize, Serialize)]
pub struct NewAuthor {
    /// The name.
    pub name: String,
    /// The address.
    pub email: String,
}

/// An author as JSON.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct AuthorOut {
    /// Its id.
    pub id: u64,
    /// Its name.
    pub name: String,
}

async fn create_author(State(db): State<Db>, Json(new): Json<NewAuthor>) -> Result<impl IntoResponse, ApiError> {
    let author = Author { name: new.name, email: new.email, ..Default::default() };
    let id = blocking(&db, move |db| db.write(|tx| tx.insert(&author))).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

/// `POST /posts` body.
#[derive(Debug, Deserialize, Serialize)]
pub struct NewPost {
    /// The author's id.
    pub author_id: u64,
    /// The title.
    pub title: String,
    /// The text.
    #[serde(default)]
    pub body: String,
}

/// A post as JSON, with its author when loaded.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct PostOut {
    /// Its id.
    pub id: u64,
    /// Its title.
    pub title: String,
    /// Its likes.
    pub likes: u32,
    /// Its author's id.
    pub author_id: u64,
    /// Its author, when loaded.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<AuthorOut>,
}

impl From<&Post> for PostOut {
    fn from(p: &Post) -> Self {
        PostOut {
            id: p.id,
            title: p.title.clone(),
            likes: p.likes,
            author_id: p.author_id,
            author: p.author.loaded().map(|a| AuthorOut { id: a.id, name: a.name.clone() }),
        }
    }
}

async fn create_post(State(db): State<Db>, Json(new): Json<NewPost>) -> Result<impl IntoResponse, ApiError> {
    let post = Post { author_id: new.author_id, title: new.title, body: new.body, ..Default::default() };
    let id = blocking(&db, move |db| db.write(|tx| tx.insert(&post))).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))))
}

/// `GET /posts` parameters.
#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    /// Only this author's posts.
    pub author_id: Option<u64>,
    /// Only posts with at least this many likes.
    pub min_likes: Option<u32>,
    /// Posts after this id (the `next_after` of the previous page).
    pub after: Option<u64>,
    /// Page size: 20 unless given, at most 100.
    pub limit: Option<usize>,
}

/// A page of posts.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Page {
    /// The posts, by id.
    pub posts: Vec<PostOut>,
    /// The `after` of the next page, when there may be one.
    pub next_after: Option<u64>,
}

async fn list_posts(State(db): State<Db>, Query(p): Query<ListParams>) -> Result<Json<Page>, ApiError> {
    let limit = p.limit.unwrap_or(20).clamp(1, 100);
    let posts = blocking(&db, move |db| {
        db.read(|tx| {
            let mut filter = Post::ID.gt(p.after.unwrap_or(0));
            if let Some(a) = p.author_id {
                filter = filter & Post::AUTHOR_ID.eq(a);
            }
            if let Some(m) = p.min_likes {
                filter = filter & Post::LIKES.gte(m);
            }
            tx.query::<Post>().filter(filter).order_by(Post::ID.asc()).limit(limit).with(Post::AUTHOR).all()
        })
    })
    .await?;
    let next_after = (posts.len() == limit).then(|| posts.last().map(|p| p.id)).flatten();
    Ok(Json(Page { posts: posts.iter().map(PostOut::from).collect(), next_after }))
}

async fn get_post(State(db): State<Db>, Path(id): Path<u64>) -> Result<Json<PostOut>, ApiError> {
    let post = blocking(&db, move |db| {
        db.read(|tx| {
            let q = tx.query::<Post>().filter(Post::ID.eq(id)).with(Post::AUTHOR);
            q.first()?.ok_or_else(|| drift::Error::NotFound { entity: "Post", key: id.to_string() })
        })
    })
    .await?;
    Ok(Json(PostOut::from(&post)))
}

async fn like_post(State(db): State<Db>, Path(id): Path<u64>) -> Result<Json<serde_json::Value>, ApiError> {
    let likes = blocking(&db, move |db| {
        db.write(|tx| {
            let mut post =
                tx.get::<Post>(&id)?.ok_or_else(|| drift::Error::NotFound { entity: "Post", key: id.to_string() })?;
            post.likes += 1;
            tx.update(&post)?;
            Ok(post.likes)
        })
    })
    .await?;
    Ok(Json(serde_json::json!({ "id": id, "likes": likes })))
}

/// `GET /events` parameters.
#[derive(Debug, Deserialize, Default)]
pub struct EventParams {
    /// Only this author's posts (a post that moves away comes as `left`).
    pub author_id: Option<u64>,
}

/// One change, as the data of an event.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChangeOut {
    /// `insert`, `update`, `delete`, `left` or `entered`.
    pub kind: String,
    /// The row after the change (before it, for a delete).
    pub post: PostOut,
}

fn change_out(c: &Change<Post>) -> Option<ChangeOut> {
    let (kind, post) = match c {
        Change::Insert { new } => ("insert", new),
        Change::Update { new, .. } => ("update", new),
        Change::Delete { old } => ("delete", old),
        Change::Left { new, .. } => ("left", new),
        Change::Entered { new, .. } => ("entered", new),
        _ => return None,
    };
    Some(ChangeOut { kind: kind.to_string(), post: PostOut::from(post) })
}

/// The event of one commit: `id` is its number, the data its changes.
fn commit_event(commit: &drift::Commit<Post>) -> Event {
    let changes: Vec<ChangeOut> = commit.changes.iter().filter_map(change_out).collect();
    Event::default().id(commit.seq.to_string()).event("commit").json_data(&changes).unwrap_or_default()
}

/// Tells the client that commits are missing: what it asked for is no longer held (a
/// `Last-Event-ID` from before a restart, or too old). It goes on with live commits.
fn gap_event(reason: &str) -> Event {
    Event::default().event("gap").data(reason)
}

async fn events(
    State(db): State<Db>,
    Query(p): Query<EventParams>,
    headers: HeaderMap,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut watch = db.watch::<Post>()?;
    if let Some(a) = p.author_id {
        watch = watch.filter(Post::AUTHOR_ID.eq(a));
    }
    let last_seen = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let mut first = None;
    if let Some(seen) = last_seen {
        // Resume after the last event the client saw, while the database holds it.
        let resumed = match seen.checked_add(1) {
            Some(from) => watch.resume(from).map_err(|e| e.to_string()),
            None => Err(format!("no commit follows {seen}")),
        };
        first = resumed.err().map(|reason| gap_event(&reason));
    }
    let live = futures::stream::unfold(watch.into_stream(), |mut s| async move {
        loop {
            match s.next().await? {
                Ok(commit) => return Some((Ok(commit_event(&commit)), s)),
                // The client read too slowly: fill the gap from the history, in place.
                Err(drift::Error::Lagged { from, .. }) => {
                    let mut w = s.into_inner();
                    let gap = w.resume(from).err();
                    s = w.into_stream();
                    if let Some(e) = gap {
                        return Some((Ok(gap_event(&e.to_string())), s));
                    }
                }
                Err(e) => return Some((Ok(Event::default().event("error").data(e.to_string())), s)),
            }
        }
    });
    let stream = futures::stream::iter(first.map(Ok)).chain(live);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn stats(State(db): State<Db>) -> String {
    db.query_stats().to_string()
}
