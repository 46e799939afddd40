//! Relations: integrity, on_delete, lazy and eager loading, the N+1 guard.

#[path = "common/blog.rs"]
mod blog;
mod common;

use blog::{Comment, Post, PostTag, Profile, Tag, User, builder, post, user};
use common::{Reads, index_entries};
use drift::prelude::*;
use drift::{ErrorKind, OnDelete, RelationKind};

/// A moderator's pin on a comment: it protects the comment (`restrict`), so a
/// cascade that reaches a pinned comment fails.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Pin {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub comment_id: u64,
    #[drift(belongs_to(Comment, key = comment_id, on_delete = restrict))]
    pub comment: BelongsTo<Comment>,
}

fn seeded() -> (Db, Vec<u64>) {
    seeded_with(builder())
}

/// Ann (with a profile) wrote posts one and two, Bob wrote three; tags rust and db
/// are linked to one, two and three; post one has two comments, one edited by Bob.
/// The ids are `[ann, bob, p1, p2, p3, rust, db]`.
fn seeded_with(builder: drift::DbBuilder) -> (Db, Vec<u64>) {
    let db = builder.in_memory().unwrap();
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

/// Every row of the blog, and every entry of each of its indexes read from the index
/// alone (see [`index_entries`]).
#[derive(Debug, Clone, PartialEq)]
struct Blog {
    users: Vec<User>,
    profiles: Vec<Profile>,
    posts: Vec<Post>,
    tags: Vec<Tag>,
    post_tags: Vec<PostTag>,
    comments: Vec<Comment>,
    pins: Vec<Pin>,
    user_email: Vec<(String, u64)>,
    profile_user_id: Vec<(u64, u64)>,
    post_author_id: Vec<(u64, u64)>,
    post_likes: Vec<(u32, u64)>,
    tag_name: Vec<(String, u64)>,
    post_tag_tag_id: Vec<(u64, u64)>,
    comment_post_id: Vec<(u64, u64)>,
    comment_editor_id: Vec<(Option<u64>, u64)>,
}

fn blog(tx: &impl Reads) -> Blog {
    Blog {
        users: tx.q::<User>().all().unwrap(),
        profiles: tx.q::<Profile>().all().unwrap(),
        posts: tx.q::<Post>().all().unwrap(),
        tags: tx.q::<Tag>().all().unwrap(),
        post_tags: tx.q::<PostTag>().all().unwrap(),
        comments: tx.q::<Comment>().all().unwrap(),
        pins: tx.q::<Pin>().all().unwrap(),
        user_email: index_entries(tx, User::EMAIL, "email"),
        profile_user_id: index_entries(tx, Profile::USER_ID, "user_id"),
        post_author_id: index_entries(tx, Post::AUTHOR_ID, "author_id"),
        post_likes: index_entries(tx, Post::LIKES, "likes"),
        tag_name: index_entries(tx, Tag::NAME, "name"),
        post_tag_tag_id: index_entries(tx, PostTag::TAG_ID, "tag_id"),
        comment_post_id: index_entries(tx, Comment::POST_ID, "post_id"),
        comment_editor_id: index_entries(tx, Comment::EDITOR_ID, "editor_id"),
    }
}

/// The blog of [`seeded`], and a pin, so that [`blog`] can read its table.
fn pinned() -> (Db, Vec<u64>) {
    seeded_with(builder().entity::<Pin>())
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
    let (db, ids) = pinned();
    let before = db.read(|tx| Ok(blog(tx))).unwrap();
    db.write(|tx| {
        let err = tx.insert(&post(999, "orphan", 1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ForeignKey);
        let msg = err.to_string();
        assert!(
            msg.contains("Post") && msg.contains("author_id") && msg.contains("User") && msg.contains("999"),
            "{msg}"
        );
        // Inside the same transaction: no row, no entry in the author or likes index.
        assert_eq!(blog(tx), before);
        assert_eq!(tx.query::<Post>().filter(Post::AUTHOR_ID.eq(999)).count()?, 0);
        // The transaction goes on.
        tx.insert(&post(ids[1], "four", 1))?;
        Ok(())
    })
    .unwrap();
    let after = db.read(|tx| Ok(blog(tx))).unwrap();
    assert_eq!(after.posts.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), vec!["one", "two", "three", "four"]);
    assert_eq!(after.post_author_id, vec![(ids[0], 2), (ids[1], 2)]);
    assert_eq!(after.post_likes, vec![(1, 1), (10, 1), (20, 1), (30, 1)]);
}

#[test]
fn update_to_a_missing_parent_fails_and_an_optional_none_key_needs_no_parent() {
    let (db, ids) = pinned();
    let before = db.read(|tx| Ok(blog(tx))).unwrap();
    let mut p = db.read(|tx| tx.get::<Post>(&ids[2])).unwrap().unwrap();
    p.author_id = 12345;
    p.likes = 77;
    db.write(|tx| {
        assert_eq!(tx.update(&p).unwrap_err().kind(), ErrorKind::ForeignKey);
        // Inside the same transaction: the row and its entries as they were.
        assert_eq!(tx.get::<Post>(&ids[2])?.map(|p| (p.author_id, p.likes)), Some((ids[0], 10)));
        assert_eq!(tx.query::<Post>().filter(Post::AUTHOR_ID.eq(12345)).count()?, 0);
        assert_eq!(tx.query::<Post>().filter(Post::LIKES.eq(77)).count()?, 0);
        assert_eq!(blog(tx), before);
        // The transaction goes on: a comment without an editor needs no parent.
        let c = Comment { post_id: ids[2], editor_id: None, body: "anon".into(), ..Default::default() };
        tx.insert(&c).map(drop)
    })
    .unwrap();
    let after = db.read(|tx| Ok(blog(tx))).unwrap();
    assert_eq!(after.posts, before.posts);
    assert_eq!(after.post_author_id, before.post_author_id);
    assert_eq!(after.comment_editor_id, vec![(None, 2), (Some(ids[1]), 1)]);
}

#[test]
fn restrict_refuses_the_delete_and_leaves_everything_unchanged() {
    let (db, ids) = pinned();
    let before = db.read(|tx| Ok(blog(tx))).unwrap();
    db.write(|tx| {
        let err = tx.delete::<Tag>(&ids[5]).map(drop).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Restrict);
        let msg = err.to_string();
        assert!(msg.contains("Tag") && msg.contains("PostTag") && msg.contains("2 "), "{msg}");
        // Inside the same transaction: the tag, its unique entry and its links.
        assert!(tx.get::<Tag>(&ids[5])?.is_some());
        assert_eq!(tx.get_by::<Tag, _>(Tag::NAME, "rust")?.map(|t| t.id), Some(ids[5]));
        assert_eq!(tx.query::<PostTag>().filter(PostTag::TAG_ID.eq(ids[5])).count()?, 2);
        assert_eq!(blog(tx), before);
        // The transaction goes on.
        tx.insert(&Tag { name: "new".into(), ..Default::default() }).map(drop)
    })
    .unwrap();
    let after = db.read(|tx| Ok(blog(tx))).unwrap();
    assert_eq!(after.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["rust", "db", "new"]);
    assert_eq!(after.tag_name, vec![("db".to_string(), 1), ("new".to_string(), 1), ("rust".to_string(), 1)]);
    assert_eq!((after.post_tags, after.post_tag_tag_id), (before.post_tags, before.post_tag_tag_id));
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
fn a_cascade_that_fails_deep_down_restores_every_row_and_index_entry() {
    let (db, ids) = pinned();
    // Deleting Ann cascades to her profile, her posts, their tag links and their
    // comments; one comment is pinned, and the pin restricts its delete.
    let pinned_comment = db.read(|tx| tx.query::<Comment>().filter(Comment::BODY.eq("+1")).first()).unwrap().unwrap();
    db.write(|tx| tx.insert(&Pin { comment_id: pinned_comment.id, ..Default::default() }).map(drop)).unwrap();
    let before = db.read(|tx| Ok(blog(tx))).unwrap();
    assert_eq!(
        (before.posts.len(), before.comments.len(), before.post_tags.len(), before.profiles.len()),
        (3, 2, 4, 1)
    );
    db.write(|tx| {
        let err = tx.delete::<User>(&ids[0]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Restrict);
        let msg = err.to_string();
        assert!(msg.contains("Comment") && msg.contains("Pin"), "the pin deep down refused it: {msg}");
        // Inside the same transaction: every row and every index entry is back.
        assert_eq!(blog(tx), before);
        assert_eq!(tx.get_by::<User, _>(User::EMAIL, "ann@x")?.map(|u| u.id), Some(ids[0]));
        assert_eq!(tx.get_by::<Profile, _>(Profile::USER_ID, ids[0])?.map(|p| p.bio), Some("Ann's bio".to_string()));
        assert_eq!(tx.query::<Post>().filter(Post::AUTHOR_ID.eq(ids[0])).count()?, 2);
        assert_eq!(tx.query::<Comment>().filter(Comment::POST_ID.eq(ids[2])).count()?, 2);
        // The transaction goes on.
        tx.insert(&user("cy@x")).map(drop)
    })
    .unwrap();
    let mut after = db.read(|tx| Ok(blog(tx))).unwrap();
    let cy = after.users.pop().unwrap();
    assert_eq!(cy.email, "cy@x");
    after.user_email.retain(|(e, _)| e != "cy@x");
    assert_eq!(after, before, "committed: everything but the new user as before");

    // Unpinned, the same delete cascades all the way.
    db.write(|tx| {
        tx.delete_where::<Pin>(Pin::ID.gte(0))?;
        tx.delete::<User>(&ids[0]).map(drop)
    })
    .unwrap();
    let gone = db.read(|tx| Ok(blog(tx))).unwrap();
    assert_eq!((gone.posts.len(), gone.comments.len(), gone.post_tags.len(), gone.profiles.len()), (1, 0, 1, 0));
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
    // Tags are protected by restrict while post "one" links both: nothing is deleted,
    // and the transaction goes on.
    db.write(|tx| {
        let err = tx.delete_where::<Tag>(Tag::NAME.starts_with("")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Restrict);
        assert_eq!(tx.query::<Tag>().count()?, 2);
        assert_eq!(tx.get_by::<Tag, _>(Tag::NAME, "rust")?.map(|t| t.id), Some(ids[5]));
        assert_eq!(tx.get_by::<Tag, _>(Tag::NAME, "db")?.map(|t| t.id), Some(ids[6]));
        assert_eq!(index_entries(tx, Tag::NAME, "name"), vec![("db".to_string(), 1), ("rust".to_string(), 1)]);
        assert_eq!(tx.query::<PostTag>().count()?, 2);
        tx.insert(&Tag { name: "new".into(), ..Default::default() }).map(drop)
    })
    .unwrap();
    db.read(|tx| {
        let names: Vec<String> = tx.query::<Tag>().all()?.into_iter().map(|t| t.name).collect();
        assert_eq!(names, vec!["rust", "db", "new"]);
        assert_eq!(tx.get_by::<Tag, _>(Tag::NAME, "rust")?.map(|t| t.id), Some(ids[5]));
        assert_eq!(tx.get_by::<Tag, _>(Tag::NAME, "db")?.map(|t| t.id), Some(ids[6]));
        assert_eq!(index_entries(tx, PostTag::TAG_ID, "tag_id"), vec![(ids[5], 1), (ids[6], 1)]);
        Ok(())
    })
    .unwrap();
    // Once the links are gone, the tags go.
    db.write(|tx| tx.delete::<Post>(&ids[2]).map(drop)).unwrap();
    assert_eq!(db.write(|tx| tx.delete_where::<Tag>(Tag::NAME.starts_with(""))).unwrap(), 3);
}

/// A shelf whose books are found through an index with a field after the foreign key.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Shelf {
    #[drift(primary_key)]
    pub id: u64,
    #[drift(has_many(Book, foreign_key = shelf_id))]
    pub books: HasMany<Book>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(index(fields(shelf_id, title)))]
pub struct Book {
    #[drift(primary_key)]
    pub id: u64,
    pub shelf_id: u64,
    pub title: String,
}

#[test]
fn eager_children_found_through_a_wider_index_come_in_key_order() {
    let db = Db::builder().entity::<Shelf>().entity::<Book>().in_memory().unwrap();
    db.write(|tx| {
        for id in [1, 2] {
            tx.insert(&Shelf { id, ..Default::default() })?;
        }
        // Titles sort against the keys: the index gives 13, 12, 11 for shelf 1.
        for (id, shelf_id, title) in [(11, 1, "c"), (12, 1, "b"), (13, 1, "a"), (21, 2, "z"), (22, 2, "y")] {
            tx.insert(&Book { id, shelf_id, title: title.into() })?;
        }
        Ok(())
    })
    .unwrap();
    let shelves = db.read(|tx| tx.query::<Shelf>().with(Shelf::BOOKS).all()).unwrap();
    let ids: Vec<Vec<u64>> = shelves.iter().map(|s| s.books.loaded().unwrap().iter().map(|b| b.id).collect()).collect();
    assert_eq!(ids, vec![vec![11, 12, 13], vec![21, 22]]);
    let lazy = db.read(|tx| Ok(tx.get::<Shelf>(&1)?.unwrap().books(tx)?.iter().map(|b| b.id).collect::<Vec<_>>()));
    assert_eq!(lazy.unwrap(), vec![11, 12, 13], "lazy and eager loads agree");
}
