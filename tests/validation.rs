//! `#[drift(validate(...))]` and `#[drift(validate_with = ...)]`: each rule at and
//! around its bounds, all failures reported together, nothing written on failure.

mod common;

use common::{Reads, index_entries};
use drift::prelude::*;
use drift::{ErrorKind, ValidationErrors, ValidationRule};

#[derive(Entity, Debug, Clone, PartialEq, Default)]
#[drift(validate_with = check_period)]
pub struct Account {
    #[drift(primary_key, auto_increment)]
    pub id: u64,
    #[drift(unique, validate(email))]
    pub email: String,
    #[drift(validate(length(min = 1, max = 8)))]
    pub name: String,
    #[drift(index, validate(range(min = 0, max = 150)))]
    pub age: u32,
    #[drift(validate(range(min = -10, max = 10)))]
    pub delta: i32,
    #[drift(validate(range(min = 0, max = 1)))]
    pub ratio: f64,
    #[drift(validate(length(max = 3)))]
    pub tags: Vec<String>,
    #[drift(validate(length(min = 2, max = 4)))]
    pub nickname: Option<String>,
    #[drift(validate(range(max = 10)))]
    pub score: Option<i64>,
    #[drift(validate(regex = "^[a-z]+$"))]
    pub handle: String,
    #[drift(validate(custom = not_reserved))]
    pub role: String,
    #[drift(validate(length(min = 8)))]
    pub password: String,
    pub start: u32,
    pub end: u32,
}

fn not_reserved(role: &str) -> Result<(), String> {
    if role == "root" { Err(format!("must not be the reserved role {role:?}")) } else { Ok(()) }
}

fn check_period(a: &Account, errors: &mut ValidationErrors) {
    if a.end < a.start {
        errors.add("end", "must not be before `start`");
    }
}

fn valid() -> Account {
    Account {
        id: 0,
        email: "ann@example.com".into(),
        name: "Ann".into(),
        age: 31,
        delta: 0,
        ratio: 0.5,
        tags: vec!["a".into()],
        nickname: None,
        score: None,
        handle: "ann".into(),
        role: "user".into(),
        password: "correct horse".into(),
        start: 1,
        end: 2,
    }
}

fn db() -> Db {
    Db::builder().entity::<Account>().in_memory().unwrap()
}

/// The violations of `a`, as (field, rule) pairs; empty when it is valid.
fn broken(a: &Account) -> Vec<(Option<&'static str>, ValidationRule)> {
    match a.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e.violations().iter().map(|v| (v.field, v.rule)).collect(),
    }
}

fn passes(a: Account) {
    assert_eq!(broken(&a), vec![], "{a:?}");
    // And the write path agrees with `validate`.
    db().write(|tx| tx.insert(&a)).unwrap();
}

fn fails(a: Account, field: &'static str, rule: ValidationRule) {
    assert_eq!(broken(&a), vec![(Some(field), rule)], "{a:?}");
    let err = db().write(|tx| tx.insert(&a)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
}

#[test]
fn the_fixture_is_valid() {
    passes(valid());
}

#[test]
fn length_counts_characters_of_a_string_inclusive_at_both_bounds() {
    passes(Account { name: "A".into(), ..valid() });
    passes(Account { name: "ABCDEFGH".into(), ..valid() });
    // Eight characters of two bytes each: the length is in characters.
    passes(Account { name: "éééééééé".into(), ..valid() });
    fails(Account { name: String::new(), ..valid() }, "name", ValidationRule::Length);
    fails(Account { name: "ABCDEFGHI".into(), ..valid() }, "name", ValidationRule::Length);
    fails(Account { name: "ééééééééé".into(), ..valid() }, "name", ValidationRule::Length);
}

#[test]
fn length_counts_items_of_a_vec() {
    passes(Account { tags: vec![], ..valid() });
    passes(Account { tags: vec!["a".into(), "b".into(), "looooooooooong".into()], ..valid() });
    fails(Account { tags: vec![String::new(); 4], ..valid() }, "tags", ValidationRule::Length);
}

#[test]
fn length_on_an_option_passes_none_and_checks_some() {
    passes(Account { nickname: None, ..valid() });
    passes(Account { nickname: Some("ab".into()), ..valid() });
    passes(Account { nickname: Some("abcd".into()), ..valid() });
    fails(Account { nickname: Some("a".into()), ..valid() }, "nickname", ValidationRule::Length);
    fails(Account { nickname: Some("abcde".into()), ..valid() }, "nickname", ValidationRule::Length);
}

#[test]
fn range_on_an_unsigned_integer_is_inclusive() {
    passes(Account { age: 0, ..valid() });
    passes(Account { age: 150, ..valid() });
    fails(Account { age: 151, ..valid() }, "age", ValidationRule::Range);
    fails(Account { age: u32::MAX, ..valid() }, "age", ValidationRule::Range);
}

#[test]
fn range_with_negative_bounds_on_a_signed_integer() {
    passes(Account { delta: -10, ..valid() });
    passes(Account { delta: 10, ..valid() });
    fails(Account { delta: -11, ..valid() }, "delta", ValidationRule::Range);
    fails(Account { delta: 11, ..valid() }, "delta", ValidationRule::Range);
}

#[test]
fn range_on_a_float_takes_integer_bounds_and_rejects_nan() {
    passes(Account { ratio: 0.0, ..valid() });
    passes(Account { ratio: -0.0, ..valid() });
    passes(Account { ratio: 1.0, ..valid() });
    fails(Account { ratio: 1.000_001, ..valid() }, "ratio", ValidationRule::Range);
    fails(Account { ratio: -f64::MIN_POSITIVE, ..valid() }, "ratio", ValidationRule::Range);
    fails(Account { ratio: f64::NAN, ..valid() }, "ratio", ValidationRule::Range);
    fails(Account { ratio: f64::INFINITY, ..valid() }, "ratio", ValidationRule::Range);
}

#[test]
fn range_on_an_option_passes_none_and_checks_some() {
    passes(Account { score: None, ..valid() });
    passes(Account { score: Some(10), ..valid() });
    passes(Account { score: Some(i64::MIN), ..valid() });
    fails(Account { score: Some(11), ..valid() }, "score", ValidationRule::Range);
}

#[test]
fn email_accepts_addresses_and_rejects_other_text() {
    for ok in ["a@b", "ann.lee+news@mail.example.org", "x_y@a-b.io"] {
        passes(Account { email: ok.into(), ..valid() });
    }
    for bad in ["", "ann", "ann@", "@example.com", "ann@ex ample.com", "ann@@example.com", "ann@example..com"] {
        fails(Account { email: bad.into(), ..valid() }, "email", ValidationRule::Email);
    }
}

#[test]
fn regex_must_match_and_is_anchored_only_where_the_pattern_says() {
    passes(Account { handle: "a".into(), ..valid() });
    passes(Account { handle: "abcxyz".into(), ..valid() });
    fails(Account { handle: String::new(), ..valid() }, "handle", ValidationRule::Regex);
    fails(Account { handle: "Ann".into(), ..valid() }, "handle", ValidationRule::Regex);
    fails(Account { handle: "ann1".into(), ..valid() }, "handle", ValidationRule::Regex);
}

#[test]
fn custom_function_error_becomes_the_message() {
    passes(Account { role: "admin".into(), ..valid() });
    let a = Account { role: "root".into(), ..valid() };
    fails(a.clone(), "role", ValidationRule::Custom("not_reserved"));
    let errors = a.validate().unwrap_err();
    assert_eq!(errors.violations()[0].message, "must not be the reserved role \"root\"");
    assert!(errors.to_string().contains("`role` must not be the reserved role \"root\""), "{errors}");
}

#[test]
fn validate_with_sees_the_whole_entity_and_names_the_field() {
    passes(Account { start: 5, end: 5, ..valid() });
    let a = Account { start: 5, end: 4, ..valid() };
    fails(a.clone(), "end", ValidationRule::ValidateWith("check_period"));
    let msg = a.validate().unwrap_err().to_string();
    assert!(msg.contains("`end` must not be before `start`"), "{msg}");
}

#[test]
fn every_failing_field_is_reported_together_in_field_order() {
    let a = Account { id: 7, name: String::new(), age: 200, email: "nope".into(), ..valid() };
    let err = db().write(|tx| tx.insert(&a)).unwrap_err();
    let Error::Validation(errors) = &err else { panic!("expected a validation error, got {err}") };
    assert_eq!(errors.entity(), "Account");
    assert_eq!(errors.key(), Some("7"));
    let fields: Vec<_> = errors.violations().iter().map(|v| v.field.unwrap()).collect();
    assert_eq!(fields, vec!["email", "name", "age"]);
    assert_eq!(errors.field("age").next().unwrap().value.as_deref(), Some("200"));
    assert_eq!(
        err.to_string(),
        "Account with key 7 is not valid: `email` must be an email address (value: \"nope\"); \
         `name` must have between 1 and 8 characters, but has 0 (value: \"\"); \
         `age` must be between 0 and 150 (value: 200)"
    );
}

#[test]
fn a_new_row_without_its_key_says_so() {
    let err = Account { age: 151, ..valid() }.validate().unwrap_err();
    assert_eq!(err.key(), None);
    assert!(err.to_string().starts_with("new Account (key not yet assigned) is not valid: `age`"), "{err}");
}

#[test]
fn secret_fields_show_neither_value_nor_length() {
    let err = Account { password: "hunter2".into(), ..valid() }.validate().unwrap_err();
    let v = &err.violations()[0];
    assert_eq!((v.field, v.value.as_deref()), (Some("password"), None));
    let msg = err.to_string();
    assert!(!msg.contains("hunter2") && !msg.contains("has 7"), "{msg}");
    assert!(msg.contains("`password` must have at least 8 characters"), "{msg}");
}

/// The (value, entries) pairs of both indexes of `Account`: `email` and `age`.
type AccountEntries = (Vec<(String, u64)>, Vec<(u32, u64)>);

fn account_entries(tx: &impl Reads) -> AccountEntries {
    (index_entries(tx, Account::EMAIL, "email"), index_entries(tx, Account::AGE, "age"))
}

#[test]
fn failed_validation_writes_nothing_and_the_transaction_goes_on() {
    let db = db();
    db.write(|tx| {
        tx.insert(&valid())?;
        let bad = Account { email: "bob@example.com".into(), age: 999, ..valid() };
        assert_eq!(tx.insert(&bad).unwrap_err().kind(), ErrorKind::Validation);
        // No row, no unique entry, no index entry, no key used up.
        assert_eq!(tx.query::<Account>().count()?, 1);
        assert_eq!(tx.get::<Account>(&2)?, None);
        assert_eq!(tx.get_by::<Account, _>(Account::EMAIL, "bob@example.com")?, None);
        assert_eq!(tx.query::<Account>().filter(Account::AGE.eq(999)).count()?, 0);
        assert_eq!(account_entries(tx), (vec![("ann@example.com".into(), 1)], vec![(31, 1)]));
        let next = tx.insert(&Account { email: "bob@example.com".into(), ..valid() })?;
        assert_eq!(next, 2);
        Ok(())
    })
    .unwrap();
    assert_eq!(db.read(|tx| tx.query::<Account>().count()).unwrap(), 2);
    assert_eq!(
        db.read(|tx| Ok(account_entries(tx))).unwrap(),
        (vec![("ann@example.com".into(), 1), ("bob@example.com".into(), 1)], vec![(31, 2)])
    );
}

#[test]
fn update_and_upsert_validate_before_writing() {
    let db = db();
    let id = db.write(|tx| tx.insert(&valid())).unwrap();
    let bad = Account { id, email: "new@example.com".into(), name: String::new(), age: 40, ..valid() };
    db.write(|tx| {
        let err = tx.update(&bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        let err = tx.upsert(&bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        // A new row through upsert is checked too.
        let err = tx.upsert(&Account { id: 99, email: "other@example.com".into(), ..bad.clone() }).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        // Inside the same transaction: the row and its entries as they were.
        assert_eq!(tx.get::<Account>(&id)?.unwrap(), Account { id, ..valid() });
        assert_eq!(tx.query::<Account>().filter(Account::AGE.eq(40)).count()?, 0);
        assert_eq!(tx.get::<Account>(&99)?, None);
        assert_eq!(tx.get_by::<Account, _>(Account::EMAIL, "new@example.com")?, None);
        assert_eq!(tx.get_by::<Account, _>(Account::EMAIL, "other@example.com")?, None);
        assert_eq!(account_entries(tx), (vec![("ann@example.com".into(), 1)], vec![(31, 1)]));
        // The transaction goes on: a valid update.
        tx.update(&Account { id, age: 40, ..valid() })
    })
    .unwrap();
    db.read(|tx| {
        assert_eq!(tx.get::<Account>(&id)?.unwrap(), Account { id, age: 40, ..valid() });
        assert_eq!(tx.get::<Account>(&99)?, None);
        assert_eq!(account_entries(tx), (vec![("ann@example.com".into(), 1)], vec![(40, 1)]));
        Ok(())
    })
    .unwrap();
}

#[test]
fn validation_runs_before_the_key_checks() {
    let db = db();
    let id = db.write(|tx| tx.insert(&valid())).unwrap();
    // Both a duplicate key and a broken rule: the rule is reported, as it is checked first.
    let err = db.write(|tx| tx.insert(&Account { id, age: 151, ..valid() })).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
}

#[test]
fn entities_without_rules_always_validate() {
    #[derive(Entity, Debug, Clone, Default)]
    struct Plain {
        #[drift(primary_key)]
        id: String,
        n: i8,
    }
    assert_eq!(Plain { id: String::new(), n: -1 }.validate(), Ok(()));
}
