//! Relations: integrity, on_delete, lazy and eager loading, the N+1 guard.

#[path = "common/blog.rs"]
mod blog;

use blog::{Comment, Post, PostTag, Profile, Tag, User, builder, post, user};
use drift::prelude::*;
use drift::{ErrorKind, OnDelete, RelationKind};

fn seeded() -> (Db, Vec<u64>) {
    let db = builder().in_memory().unwrap();
    let ids = db
        .write(|tx| {
            let ann = tx.insert(&user("ann@x"))?;
            let bob = tx.insert(&user("bob@x"))?;
            tx.insert(&Profile { user_id: ann, bio: "Ann's bio".into(), ..Default::default() })?;
            let p1 = tx.insert(&post(ann, "one", 10))?;
            let p2 = tx.insert(&post(ann, "two", 20))?;
            let p3 = tx.insert(&post(bob, "three", 30))?;
            let rust = tx.insert(&Tag { name: "rust".into(), ..Default::default() })?;
            let db_ = tx.insert(&Tag { name: "db".into(), ..Default::default() })?;
            for (p, t) in [(p1, rust), (p1, db_), (p2, rust), (p3, db_)] {
                tx.insert(&PostTag { post_id: p, tag_id: t, ..Default::default() })?;
            }
            tx.insert(&Comment { post_id: p1, editor_id: Some(bob), body: "nice".into(), ..Default::default() })?;
            tx.insert(&Comment { post_id: p1, editor_id: None, body: "+1".into(), ..Default::default() })?;
            Ok(vec![ann, bob, p1, p2, p3, rust, db_])
        })
        .unwrap();
    (db, ids)
}

#[test]
fn schema_describes_relations_and_creates_an_index_for_a_belongs_to_key() {
    let schema = <Comment as drift::Entity>::SCHEMA;
    let editor = schema.relations.iter().find(|r| r.name == "editor").unwrap();
    assert_eq!((editor.kind, editor.on_delete), (RelationKind::BelongsTo, OnDelete::SetNull));
    assert!(schema.indexes.iter().any(|i| i.fields.len() == 1 && i.fields[0] == "post_id"), "{:?}", schema.indexes);
    assert!(schema.indexes.iter().any(|i| i.fields[0] == "editor_id"));
    let post_tag = <PostTag as drift::Entity>::SCHEMA;
    assert!(!post_tag.indexes.iter().any(|i| i.fields[0] == "post_id"), "post_id leads the primary key");
    assert!(post_tag.indexes.iter().any(|i| i.fields[0] == "tag_id"));
    let fields: Vec<_> = <Post as drift::Entity>::SCHEMA.fields.iter().map(|f| (f.name.to_string(), f.kind)).collect();
    assert!(fields.contains(&("author".to_string(), drift::FieldKind::Relation)));
}

#[test]
fn insert_with_a_missing_parent_fails_with_foreign_key_and_changes_nothing() {
    let (db, _) = seeded();
    let before = db.read(|tx| tx.query::<Post>().count()).unwrap();
    let err = db.write(|tx| tx.insert(&post(999, "orphan", 1))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ForeignKey);
    let msg = err.to_string();
    assert!(msg.contains("Post") && msg.contains("author_id") && msg.contains("User") && msg.contains("999"), "{msg}");
    assert_eq!(db.read(|tx| tx.query::<Post>().count()).unwrap(), before);
    assert_eq!(db.read(|tx| tx.query::<Post>().filter(Post::AUTHOR_ID.eq(999)).count()).unwrap(), 0);
}

#[test]
fn update_to_a_missing_parent_fails_and_an_optional_none_key_needs_no_parent() {
    let (db, ids) = seeded();
    let mut p = db.read(|tx| tx.get::<Post>(&ids[2])).unwrap().unwrap();
    p.author_id = 12345;
    assert_eq!(db.write(|tx| tx.update(&p)).unwrap_err().kind(), ErrorKind::ForeignKey);
    assert_eq!(db.read(|tx| tx.get::<Post>(&ids[2])).unwrap().unwrap().author_id, ids[0]);
    let c = Comment { post_id: ids[2], editor_id: None, body: "anon".into(), ..Default::default() };
    db.write(|tx| tx.insert(&c).map(drop)).unwrap();
}

#[test]
fn restrict_refuses_the_delete_and_leaves_everything_unchanged() {
    let (db, ids) = seeded();
    let err = db.write(|tx| tx.delete::<Tag>(&ids[5]).map(drop)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Restrict);
    let msg = err.to_string();
    assert!(msg.contains("Tag") && msg.contains("PostTag") && msg.contains("2 "), "{msg}");
    db.read(|tx| {
        assert!(tx.get::<Tag>(&ids[5])?.is_some());
        assert_eq!(tx.query::<PostTag>().count()?, 4);
        Ok(())
    })
    .unwrap();
}

#[test]
fn delete_cascades_two_levels_and_through_the_join() {
    let (db, ids) = seeded();
    let removed = db.write(|tx| tx.delete::<User>(&ids[0])).unwrap();
    assert_eq!(removed.map(|u| u.email), Some("ann@x".to_string()));
    db.read(|tx| {
        // Ann's posts, their comments and their tag pairings are gone; Bob's remain.
        assert_eq!(tx.query::<Post>().all()?.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), vec!["three"]);
        assert_eq!(tx.query::<Comment>().count()?, 0);
        assert_eq!(tx.query::<PostTag>().count()?, 1);
        assert_eq!(tx.query::<Profile>().count()?, 0, "has_one child cascades too");
        assert_eq!(tx.query::<Post>().filter(Post::AUTHOR_ID.eq(ids[0])).count()?, 0, "index entries went too");
        assert_eq!(tx.query::<Tag>().count()?, 2, "tags are parents, not children");
        Ok(())
    })
    .unwrap();
}

#[test]
fn set_null_updates_the_children_and_their_index_entries() {
    let (db, ids) = seeded();
    // Bob edited a comment; deleting Bob must first cascade his post, then null the editor.
    db.write(|tx| tx.delete::<User>(&ids[1]).map(drop)).unwrap();
    db.read(|tx| {
        let comments = tx.query::<Comment>().all()?;
        assert_eq!(comments.len(), 2);
        assert!(comments.iter().all(|c| c.editor_id.is_none()));
        assert_eq!(tx.query::<Comment>().filter(Comment::EDITOR_ID.eq(Some(ids[1]))).count()?, 0);
        assert_eq!(tx.query::<Comment>().filter(Comment::EDITOR_ID.is_none()).count()?, 2);
        Ok(())
    })
    .unwrap();
}

#[test]
fn a_failed_cascade_rolls_back_the_whole_delete() {
    let (db, ids) = seeded();
    // Deleting a post cascades to PostTag rows; deleting the tag first is restricted.
    db.write(|tx| {
        let err = tx.delete::<Tag>(&ids[6]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Restrict);
        // The transaction goes on, untouched.
        assert_eq!(tx.query::<PostTag>().count()?, 4);
        Ok(())
    })
    .unwrap();
}

#[test]
fn lazy_accessors_load_once_and_later_calls_do_no_storage_work() {
    let (db, ids) = seeded();
    let tx = db.begin_read().unwrap();
    let p = tx.get::<Post>(&ids[2]).unwrap().unwrap();
    assert!(!p.author.is_loaded());
    let before = tx.stats();
    assert_eq!(p.author(&tx).unwrap().email, "ann@x");
    let after_first = tx.stats();
    assert_eq!(after_first.lazy_loads, before.lazy_loads + 1);
    assert_eq!(p.author(&tx).unwrap().email, "ann@x");
    assert_eq!(tx.stats(), after_first, "the second call reads nothing");
    assert!(p.author.is_loaded());
    assert_eq!(p.author.loaded().map(|u| u.id), Some(ids[0]));

    let ann = tx.get::<User>(&ids[0]).unwrap().unwrap();
    let titles: Vec<&str> = ann.posts(&tx).unwrap().iter().map(|p| p.title.as_str()).collect();
    assert_eq!(titles, vec!["one", "two"]);
    assert_eq!(ann.profile(&tx).unwrap().map(|p| p.bio.as_str()), Some("Ann's bio"));
    let bob = tx.get::<User>(&ids[1]).unwrap().unwrap();
    assert_eq!(bob.profile(&tx).unwrap(), None);
    assert!(bob.profile.is_loaded() && bob.profile.loaded().is_none(), "loaded-empty is a state of its own");
    let tags: Vec<&str> = p.tags(&tx).unwrap().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tags, vec!["rust", "db"]);
    let rust = tx.get::<Tag>(&ids[5]).unwrap().unwrap();
    assert_eq!(rust.posts(&tx).unwrap().len(), 2);
    let c = tx.query::<Comment>().filter(Comment::EDITOR_ID.is_none()).first().unwrap().unwrap();
    assert_eq!(c.editor(&tx).unwrap(), None);
    // posts_query: a Query already filtered by the foreign key.
    assert_eq!(ann.posts_query(&tx).filter(Post::LIKES.gt(15)).count().unwrap(), 1);
}

#[test]
fn proxies_are_default_clone_debug_and_always_equal() {
    let (db, ids) = seeded();
    let tx = db.begin_read().unwrap();
    let p = tx.get::<Post>(&ids[2]).unwrap().unwrap();
    let unloaded = p.clone();
    p.author(&tx).unwrap();
    let loaded = p.clone();
    assert!(loaded.author.is_loaded() && !unloaded.author.is_loaded());
    assert_eq!(format!("{:?}", unloaded.author), "BelongsTo(unloaded)");
    assert_eq!(format!("{:?}", loaded.author), "BelongsTo(loaded: present)");
    assert_eq!(loaded, unloaded, "proxies do not take part in equality");
    assert!(!HasMany::<Post>::default().is_loaded());
}

#[test]
fn strict_loading_turns_a_lazy_load_into_an_error_and_eager_loading_still_works() {
    let db = builder().strict_loading(true).in_memory().unwrap();
    db.write(|tx| {
        let a = tx.insert(&user("a@x"))?;
        tx.insert(&post(a, "t", 1))?;
        Ok(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let p = tx.query::<Post>().first().unwrap().unwrap();
    let err = p.author(&tx).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::StrictLoading);
    assert!(err.to_string().contains("author") && err.to_string().contains("Post::AUTHOR"), "{err}");
    let eager = tx.query::<Post>().with(Post::AUTHOR).first().unwrap().unwrap();
    assert_eq!(eager.author(&tx).unwrap().email, "a@x");
}

#[test]
fn eager_loading_1000_posts_reads_each_of_100_authors_once_in_one_pass() {
    let db = builder().cache_capacity(0).in_memory().unwrap();
    db.write(|tx| {
        let mut authors = Vec::new();
        for i in 0..100 {
            authors.push(tx.insert(&user(&format!("u{i}@x")))?);
        }
        for i in 0..1000u32 {
            tx.insert(&post(authors[(i as usize * 7) % 100], &format!("p{i}"), i))?;
        }
        Ok(())
    })
    .unwrap();
    let tx = db.begin_read().unwrap();
    let posts = tx.query::<Post>().with(Post::AUTHOR).all().unwrap();
    let s = tx.stats();
    assert_eq!(posts.len(), 1000);
    assert!(posts.iter().all(|p| p.author.loaded().is_some_and(|a| a.id == p.author_id)));
    assert_eq!(s.gets, 100, "one read per distinct author: {s:?}");
    assert_eq!(s.rows_decoded, 1100);
    assert_eq!(s.lazy_loads, 0);

    let tx = db.begin_read().unwrap();
    let posts = tx.query::<Post>().all().unwrap();
    for p in &posts {
        p.author(&tx).unwrap();
    }
    let lazy = tx.stats();
    assert_eq!((lazy.lazy_loads, lazy.gets), (1000, 1000), "lazily, one read per post: {lazy:?}");
}

#[test]
fn eager_loading_works_with_filter_order_limit_and_nesting() {
    let (db, ids) = seeded();
    let tx = db.begin_read().unwrap();
    let posts = tx
        .query::<Post>()
        .filter(Post::LIKES.gte(15))
        .order_by(Post::LIKES.desc())
        .limit(2)
        .with(Post::AUTHOR)
        .with(Post::TAGS)
        .with(Post::COMMENTS)
        .all()
        .unwrap();
    assert_eq!(posts.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), vec!["three", "two"]);
    assert_eq!(posts[0].author.loaded().map(|u| u.email.as_str()), Some("bob@x"));
    assert_eq!(posts[1].tags.loaded().map(|t| t.len()), Some(1));
    assert_eq!(posts[0].comments.loaded().map(<[Comment]>::len), Some(0));
    let users =
        tx.query::<User>().with(User::POSTS.then(Post::TAGS).then(Post::COMMENTS)).with(User::PROFILE).all().unwrap();
    let ann = users.iter().find(|u| u.id == ids[0]).unwrap();
    let ann_posts = ann.posts.loaded().unwrap();
    assert_eq!(ann_posts.len(), 2);
    assert_eq!(ann_posts[0].tags.loaded().map(|t| t.len()), Some(2), "nested loads reach the children");
    assert_eq!(ann_posts[0].comments.loaded().map(<[Comment]>::len), Some(2));
    assert!(ann.profile.loaded().is_some());
    let before = tx.stats();
    assert_eq!(ann_posts[0].tags(&tx).unwrap().len(), 2);
    assert_eq!(tx.stats(), before, "eagerly loaded: the accessor reads nothing");
}

#[test]
fn delete_where_removes_every_match_with_its_cascades_or_nothing_on_restrict() {
    let (db, ids) = seeded();
    // Posts with more than 15 likes: "two" (Ann) and "three" (Bob), with their tag links.
    let n = db.write(|tx| tx.delete_where::<Post>(Post::LIKES.gt(15))).unwrap();
    assert_eq!(n, 2);
    db.read(|tx| {
        assert_eq!(tx.query::<Post>().all()?.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), vec!["one"]);
        assert_eq!(tx.query::<Post>().filter(Post::LIKES.gte(0)).count()?, 1, "index entries went too");
        assert_eq!(tx.query::<PostTag>().count()?, 2);
        Ok(())
    })
    .unwrap();
    // Tags are protected by restrict while post "one" links both: nothing is deleted.
    let err = db.write(|tx| tx.delete_where::<Tag>(Tag::NAME.starts_with(""))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Restrict);
    assert_eq!(db.read(|tx| tx.query::<Tag>().count()).unwrap(), 2);
    // Once the links are gone, the tags go.
    db.write(|tx| tx.delete::<Post>(&ids[2]).map(drop)).unwrap();
    assert_eq!(db.write(|tx| tx.delete_where::<Tag>(Tag::NAME.starts_with(""))).unwrap(), 2);
}
