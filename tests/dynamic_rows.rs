//! Dynamic rows over derived entities: `Row` reads and writes the bytes the derive
//! writes, field by field, without the struct.

use drift::dynamic::{Row, Value};
use drift::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, Describe)]
struct Address {
    street: String,
    zip: u32,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, Describe)]
enum Status {
    #[default]
    Invited,
    Active {
        since: u64,
    },
    Left(String),
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
struct Team {
    #[drift(primary_key, auto_increment)]
    id: u64,
    name: String,
}

/// A composite key that leads with a foreign key, a relation (never stored), and
/// stored fields of most kinds.
#[derive(Entity, Debug, Clone, PartialEq, Default)]
struct Membership {
    #[drift(primary_key)]
    team_id: u64,
    #[drift(primary_key)]
    user: String,
    #[drift(belongs_to(Team, key = team_id, on_delete = cascade))]
    team: BelongsTo<Team>,
    role: Option<String>,
    tags: Vec<String>,
    address: Address,
    status: Status,
    scores: Vec<Option<i32>>,
    avatar: Vec<u8>,
    weight: f64,
}

fn membership() -> Membership {
    Membership {
        team_id: 3,
        user: "ann".into(),
        role: Some("admin".into()),
        tags: vec!["a".into(), "b".into()],
        address: Address { street: "Main".into(), zip: 12345 },
        status: Status::Active { since: 99 },
        scores: vec![Some(-1), None, Some(7)],
        avatar: vec![0, 1, 255],
        weight: 1.5,
        ..Default::default()
    }
}

fn stored_bytes<T: Entity>(e: &T) -> (Vec<u8>, Vec<u8>) {
    let (mut key, mut row) = (Vec::new(), Vec::new());
    e.__encode_key(&mut key).unwrap();
    e.__encode_row(&mut row).unwrap();
    (key, row)
}

#[test]
fn a_stored_row_decodes_field_by_field_without_the_struct() {
    let m = membership();
    let (key, bytes) = stored_bytes(&m);
    let row = Row::decode(Membership::SCHEMA, &key, &bytes).unwrap();
    let names: Vec<&str> = row.fields().map(|(n, _)| n).collect();
    assert_eq!(names, ["team_id", "user", "role", "tags", "address", "status", "scores", "avatar", "weight"]);
    assert_eq!(row.get("team_id"), Some(&Value::U64(3)));
    assert_eq!(row.get("user"), Some(&Value::from("ann")));
    assert_eq!(row.get("role"), Some(&Value::some("admin")));
    assert_eq!(row.get("tags"), Some(&Value::Seq(vec!["a".into(), "b".into()])));
    assert_eq!(
        row.get("address"),
        Some(&Value::Struct(vec![("street".into(), "Main".into()), ("zip".into(), Value::U32(12345))]))
    );
    assert_eq!(
        row.get("status"),
        Some(&Value::Enum { variant: "Active".into(), fields: vec![("since".into(), Value::U64(99))] })
    );
    assert_eq!(row.get("scores"), Some(&Value::Seq(vec![Value::some(-1i32), Value::none(), Value::some(7i32)])));
    assert_eq!(row.get("avatar"), Some(&Value::Bytes(vec![0, 1, 255])));
    assert_eq!(row.get("weight"), Some(&Value::F64(1.5)));
    assert!(!row.contains("team"), "relation fields are not stored");
    assert_eq!(row.encode(Membership::SCHEMA).unwrap(), (key, bytes));
}

#[test]
fn rows_read_back_from_a_database_round_trip_through_row() {
    let db = Db::builder().entity::<Team>().entity::<Membership>().in_memory().unwrap();
    let m = membership();
    db.write(|tx| {
        tx.insert(&Team { id: 3, name: "core".into() })?;
        tx.insert(&m)
    })
    .unwrap();
    let stored = db.read(|tx| tx.get::<Membership>(&(3, "ann".to_string()))).unwrap().unwrap();
    let row = Row::from_entity(&stored).unwrap();
    assert_eq!(row.to_entity::<Membership>().unwrap(), m);
    assert_eq!(row.get_as::<Address>("address").unwrap(), m.address);
    assert_eq!(row.get_as::<Status>("status").unwrap(), m.status);
    assert_eq!(row.get_as::<Vec<Option<i64>>>("scores").unwrap(), [Some(-1), None, Some(7)]);
    let team = Row::from_entity(&Team { id: 3, name: "core".into() }).unwrap();
    assert_eq!(team.get_as::<String>("name").unwrap(), "core");
}

#[test]
fn a_changed_row_encodes_as_the_entity_with_the_changes() {
    let mut row = Row::from_entity(&membership()).unwrap();
    row.set("user", "bob");
    row.set("team_id", 9u8);
    row.set("role", Value::none());
    row.set("tags", Value::Seq(vec![]));
    row.set("scores", Value::Seq(vec![Value::U8(4)]));
    row.set_as("address", &Address { street: "Elm".into(), zip: 1 }).unwrap();
    row.set_as("status", &Status::Left("bye".into())).unwrap();
    row.set("weight", 2.5f32);
    let m = row.to_entity::<Membership>().unwrap();
    assert_eq!(
        m,
        Membership {
            team_id: 9,
            user: "bob".into(),
            role: None,
            tags: vec![],
            address: Address { street: "Elm".into(), zip: 1 },
            status: Status::Left("bye".into()),
            scores: vec![Some(4)],
            weight: 2.5,
            ..membership()
        }
    );
    assert_eq!(m.key(), (9, "bob".to_string()));
}

#[test]
fn a_removed_optional_field_becomes_none_and_a_removed_required_one_is_named() {
    let mut row = Row::from_entity(&membership()).unwrap();
    assert_eq!(row.remove("role"), Some(Value::some("admin")));
    assert_eq!(row.to_entity::<Membership>().unwrap().role, None);
    row.remove("tags");
    let err = row.to_entity::<Membership>().unwrap_err();
    assert_eq!(err.field.as_deref(), Some("tags"));
    assert!(err.to_string().starts_with("field `tags`: has no value"), "{err}");
}

#[test]
fn errors_name_the_field_at_fault() {
    let base = Row::from_entity(&membership()).unwrap();

    let mut row = base.clone();
    row.set("address", Value::Struct(vec![("street".into(), "x".into()), ("zip".into(), Value::I64(-1))]));
    let err = row.to_entity::<Membership>().unwrap_err();
    assert_eq!(err.to_string(), "field `address`: -1 does not fit in u32 (at `.zip`)");

    let mut row = base.clone();
    row.set("user", 5u32);
    let err = row.to_entity::<Membership>().unwrap_err();
    assert_eq!(err.to_string(), "field `user`: expected string, found u32 5");

    let mut row = base.clone();
    row.set("nickname", "A");
    let err = row.encode(Membership::SCHEMA).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("nickname"));

    let mut row = base.clone();
    row.set("status", Value::Enum { variant: "Banned".into(), fields: vec![] });
    let err = row.to_entity::<Membership>().unwrap_err();
    assert_eq!(err.to_string(), "field `status`: enum Status has no variant `Banned`");

    let err = base.get_as::<u32>("user").unwrap_err();
    assert_eq!(err.field.as_deref(), Some("user"));
}

/// Two versions of one entity, as a migration sees them: the old struct is gone
/// from the code, its rows are read with its descriptor.
mod v1 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "posts")]
    pub struct Post {
        #[drift(primary_key)]
        pub id: u32,
        pub title: String,
        pub views: u32,
        pub legacy: bool,
    }
}

mod v2 {
    use drift::prelude::*;

    #[derive(Entity, Debug, Clone, PartialEq, Default)]
    #[drift(table = "posts", version = 2)]
    pub struct Post {
        #[drift(primary_key)]
        pub id: u64,
        #[drift(renamed_from = "title")]
        pub headline: String,
        pub views: u64,
        pub subtitle: Option<String>,
        #[drift(default = String::from("en"))]
        pub lang: String,
    }
}

#[test]
fn a_row_of_the_old_version_becomes_a_row_of_the_new_one() {
    let old = v1::Post { id: 7, title: "Hi".into(), views: 40, legacy: true };
    let (key, bytes) = stored_bytes(&old);
    let mut row = Row::decode(v1::Post::SCHEMA, &key, &bytes).unwrap();
    assert!(row.rename("title", "headline"));
    let err = row.encode(v2::Post::SCHEMA).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("legacy"));
    assert_eq!(row.remove("legacy"), Some(Value::Bool(true)));
    let new = row.to_entity::<v2::Post>().unwrap();
    assert_eq!(
        new,
        v2::Post { id: 7, headline: "Hi".into(), views: 40, subtitle: None, lang: "en".into() },
        "widened integers, a missing Option and a default"
    );
    let (new_key, new_bytes) = row.encode(v2::Post::SCHEMA).unwrap();
    assert_eq!((new_key, new_bytes), stored_bytes(&new));
}

#[derive(Entity, Debug, Clone, PartialEq, Default)]
struct Sample {
    #[drift(primary_key)]
    at: f64,
    value: i32,
}

#[test]
fn a_nan_key_is_refused_naming_the_key_field() {
    let err = Row::from_entity(&Sample { at: f64::NAN, value: 1 }).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("at"));
    let mut row = Row::from_entity(&Sample { at: -0.0, value: 1 }).unwrap();
    assert_eq!(row.get("at"), Some(&Value::F64(0.0)));
    row.set("at", f64::NAN);
    let err = row.to_entity::<Sample>().unwrap_err();
    assert_eq!(err.to_string(), "field `at`: key: NaN cannot be used as a key");
}
