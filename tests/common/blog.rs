//! The blog schema of DESIGN.md: users, posts, tags (many-to-many), comments and
//! profiles (has_one).
#![allow(dead_code)]

use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "users")]
pub struct User {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    pub name: String,
    #[drift(has_many(Post, foreign_key = author_id))]
    pub posts: HasMany<Post>,
    #[drift(has_one(Profile, foreign_key = user_id))]
    pub profile: HasOne<Profile>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Profile {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub user_id: u64,
    pub bio: String,
    #[drift(belongs_to(User, key = user_id, on_delete = cascade))]
    pub user: BelongsTo<User>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Post {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(index)]
    pub author_id: u64,
    pub title: String,
    #[drift(index)]
    pub likes: u32,
    #[drift(belongs_to(User, key = author_id, on_delete = cascade))]
    pub author: BelongsTo<User>,
    #[drift(many_to_many(Tag, through = PostTag))]
    pub tags: ManyToMany<Tag>,
    #[drift(has_many(Comment, foreign_key = post_id))]
    pub comments: HasMany<Comment>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Tag {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub name: String,
    #[drift(many_to_many(Post, through = PostTag))]
    pub posts: ManyToMany<Post>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct PostTag {
    #[drift(primary_key)]
    pub post_id: u64,
    #[drift(primary_key)]
    pub tag_id: u64,
    #[drift(belongs_to(Post, key = post_id, on_delete = cascade))]
    pub post: BelongsTo<Post>,
    #[drift(belongs_to(Tag, key = tag_id, on_delete = restrict))]
    pub tag: BelongsTo<Tag>,
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
pub struct Comment {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    pub post_id: u64,
    pub editor_id: Option<u64>,
    pub body: String,
    #[drift(belongs_to(Post, key = post_id, on_delete = cascade))]
    pub post: BelongsTo<Post>,
    #[drift(belongs_to(User, key = editor_id, on_delete = set_null))]
    pub editor: BelongsTo<User>,
}

pub fn builder() -> drift::DbBuilder {
    Db::builder()
        .entity::<User>()
        .entity::<Profile>()
        .entity::<Post>()
        .entity::<Tag>()
        .entity::<PostTag>()
        .entity::<Comment>()
}

pub fn user(email: &str) -> User {
    User { email: email.into(), name: email.split('@').next().unwrap_or_default().into(), ..Default::default() }
}

pub fn post(author_id: u64, title: &str, likes: u32) -> Post {
    Post { author_id, title: title.into(), likes, ..Default::default() }
}
