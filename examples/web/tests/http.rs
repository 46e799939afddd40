//! The web example over real HTTP: each test starts the service on 127.0.0.1 (a port
//! the system picks) with a database in a temp dir, and talks to it with reqwest.

use std::time::Duration;

use drift_web_example::{ChangeOut, FieldError, Page, PostOut};
use serde_json::{Value, json};

mod common;

use common::{Service, start};

impl Service {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self.client.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn author(&self, name: &str) -> u64 {
        let (status, body) = self.post("/authors", json!({"name": name, "email": format!("{name}@example.com")})).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_u64().unwrap()
    }

    async fn new_post(&self, author_id: u64, title: &str) -> u64 {
        let (status, body) = self.post("/posts", json!({"author_id": author_id, "title": title})).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_u64().unwrap()
    }
}

fn errors(body: &Value) -> Vec<FieldError> {
    serde_json::from_value(body["errors"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_are_listed_with_their_author_filtered_and_paged() {
    let s = start().await;
    let ann = s.author("ann").await;
    let bob = s.author("bob").await;
    for i in 0..5 {
        s.new_post(ann, &format!("ann {i}")).await;
        s.new_post(bob, &format!("bob {i}")).await;
    }
    let (status, body) = s.get(&format!("/posts?author_id={ann}&limit=3")).await;
    assert_eq!(status, 200);
    let page: Page = serde_json::from_value(body).unwrap();
    let titles: Vec<&str> = page.posts.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["ann 0", "ann 1", "ann 2"]);
    assert!(page.posts.iter().all(|p| p.author.as_ref().is_some_and(|a| a.name == "ann")), "author loaded eagerly");
    let after = page.next_after.expect("a next page");
    let (_, body) = s.get(&format!("/posts?author_id={ann}&limit=3&after={after}")).await;
    let page: Page = serde_json::from_value(body).unwrap();
    let titles: Vec<&str> = page.posts.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, ["ann 3", "ann 4"]);
    assert_eq!(page.next_after, None, "the last page");
    // The one-post route, and a missing one.
    let (status, body) = s.get(&format!("/posts/{}", page.posts[0].id)).await;
    assert_eq!(status, 200);
    let one: PostOut = serde_json::from_value(body).unwrap();
    assert_eq!(one.author.unwrap().name, "ann");
    let (status, body) = s.get("/posts/9999").await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_422_json_naming_the_fields() {
    let s = start().await;
    let ann = s.author("ann").await;
    let (status, body) = s.post("/posts", json!({"author_id": ann, "title": ""})).await;
    assert_eq!(status, 422, "{body}");
    let errs = errors(&body);
    assert_eq!(errs.len(), 1, "{body}");
    assert_eq!(errs[0].field.as_deref(), Some("title"));
    let (status, body) = s.post("/authors", json!({"name": "", "email": "not an address"})).await;
    assert_eq!(status, 422, "{body}");
    let mut fields: Vec<String> = errors(&body).into_iter().filter_map(|e| e.field).collect();
    fields.sort();
    assert_eq!(fields, ["email", "name"], "every field at once: {body}");
    let (status, body) = s.post("/authors", json!({"name": "other", "email": "ann@example.com"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(errors(&body)[0].field.as_deref(), Some("email"), "a taken address: {body}");
    let (status, body) = s.post("/posts", json!({"author_id": 777, "title": "orphan"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(errors(&body)[0].field.as_deref(), Some("author_id"), "{body}");
    let (_, body) = s.get("/posts").await;
    assert_eq!(body["posts"].as_array().unwrap().len(), 0, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_no_update() {
    let s = start().await;
    let ann = s.author("ann").await;
    let post = s.new_post(ann, "popular").await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = s.client.clone();
        let url = format!("{}/posts/{post}/like", s.base);
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let r = client.post(&url).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 200);
            }
        }));
    }
    // New posts at the same time.
    for t in 0..4 {
        let client = s.client.clone();
        let url = format!("{}/posts", s.base);
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                let r = client.post(&url).json(&json!({"author_id": ann, "title": format!("t{t} #{i}")})).send();
                assert_eq!(r.await.unwrap().status().as_u16(), 201);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (_, body) = s.get(&format!("/posts/{post}")).await;
    assert_eq!(body["likes"], 80, "every like counted: {body}");
    let (_, body) = s.get(&format!("/posts?author_id={ann}&limit=100")).await;
    assert_eq!(body["posts"].as_array().unwrap().len(), 41);
}

/// Reads server-sent events from `resp` until `n` `commit` events came: (id, changes).
async fn read_events(resp: &mut reqwest::Response, n: usize) -> Vec<(u64, Vec<ChangeOut>)> {
    let mut buf = String::new();
    let mut out = Vec::new();
    while out.len() < n {
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let field =
                |name: &str| event.lines().find_map(|l| l.strip_prefix(name).map(|v| v.trim_start().to_string()));
            if field("event:").as_deref() == Some("commit") {
                let id = field("id:").unwrap().parse().unwrap();
                out.push((id, serde_json::from_str(&field("data:").unwrap()).unwrap()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_each_commit_and_resume_after_the_last_event_id() {
    let s = start().await;
    let ann = s.author("ann").await;
    let bob = s.author("bob").await;
    let mut all = s.client.get(format!("{}/events", s.base)).send().await.unwrap();
    assert_eq!(all.status().as_u16(), 200);
    let mut anns = s.client.get(format!("{}/events?author_id={ann}", s.base)).send().await.unwrap();
    let first = s.new_post(ann, "first").await;
    s.new_post(bob, "by bob").await;
    let like = s.client.post(format!("{}/posts/{first}/like", s.base)).send().await.unwrap();
    assert_eq!(like.status().as_u16(), 200);

    let events = read_events(&mut all, 3).await;
    let kinds: Vec<(&str, &str)> = events.iter().map(|(_, c)| (c[0].kind.as_str(), c[0].post.title.as_str())).collect();
    assert_eq!(kinds, [("insert", "first"), ("insert", "by bob"), ("update", "first")]);
    assert_eq!(events[2].1[0].post.likes, 1);
    assert!(events.windows(2).all(|w| w[1].0 == w[0].0 + 1), "ids are consecutive commit numbers");
    // The filtered stream skips bob's post.
    let mine = read_events(&mut anns, 2).await;
    assert!(mine.iter().all(|(_, c)| c[0].post.author_id == ann), "{mine:?}");

    // A client that saw the first event reconnects: it gets the rest again.
    drop(all);
    let mut again = s
        .client
        .get(format!("{}/events", s.base))
        .header("Last-Event-ID", events[0].0.to_string())
        .send()
        .await
        .unwrap();
    let resumed = read_events(&mut again, 2).await;
    assert_eq!(resumed.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [events[1].0, events[2].0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_report_the_query_shapes_the_service_ran() {
    let s = start().await;
    let ann = s.author("ann").await;
    s.new_post(ann, "one").await;
    for _ in 0..3 {
        s.get(&format!("/posts?author_id={ann}")).await;
    }
    let text = s.client.get(format!("{}/stats", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("Post where id > ? and author_id = ? order by id limit ? (rows)"), "{text}");
}
