use drift::prelude::*;

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(table = "users")]
pub struct User {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique)]
    pub email: String,
    #[drift(index)]
    pub age: i32,
    pub name: String,
}

#[test]
fn smoke() {
    let db = Db::builder().entity::<User>().in_memory().unwrap();
    let id = db
        .write(|tx| {
            tx.insert(&User {
                email: "a@x".into(),
                age: -3,
                name: "Ann".into(),
                ..Default::default()
            })
        })
        .unwrap();
    assert_eq!(id, 1);
    let u = db.read(|tx| tx.get::<User>(&id)).unwrap().unwrap();
    assert_eq!(u.name, "Ann");
    let by = db
        .read(|tx| tx.get_by::<User, _>(User::EMAIL, "a@x"))
        .unwrap()
        .unwrap();
    assert_eq!(by, u);
    let r = db
        .read(|tx| tx.query::<User>().filter(User::AGE.lt(0)).all())
        .unwrap();
    assert_eq!(r.len(), 1);
    let plan = db
        .read(|tx| tx.query::<User>().filter(User::AGE.lt(0)).explain())
        .unwrap();
    println!("{plan}");
}
