use drift::prelude::*;

#[derive(Entity, Clone)]
struct Post {
    #[drift(primary_key)]
    id: u64,
    #[drift(many_to_many(Tag, through = PostTag))]
    tags: ManyToMany<Tag>,
}

#[derive(Entity, Clone)]
struct Tag {
    #[drift(primary_key)]
    id: u64,
}

#[derive(Entity, Clone)]
struct PostTag {
    #[drift(primary_key)]
    post_id: u64,
    #[drift(primary_key)]
    tag_id: u64,
    #[drift(belongs_to(Post, key = post_id))]
    post: BelongsTo<Post>,
}

fn main() {}
