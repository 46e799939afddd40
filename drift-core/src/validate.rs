//! Validation: the failures an entity's `#[drift(validate(...))]` and
//! `#[drift(validate_with = ...)]` rules report, and the checks the generated code
//! runs (in [`rules`], reached through `__private`).

use std::fmt;

/// Which rule a [`Violation`] broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValidationRule {
    /// `length(min = .., max = ..)`: characters of a string, items of a collection.
    Length,
    /// `range(min = .., max = ..)`: a number's value.
    Range,
    /// `email`: an email address.
    Email,
    /// `regex = "..."`: a match of the pattern.
    Regex,
    /// `custom = path`: the function at `path`.
    Custom(&'static str),
    /// `validate_with = path` on the struct: the function at `path`.
    ValidateWith(&'static str),
}

impl fmt::Display for ValidationRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationRule::Length => f.write_str("length"),
            ValidationRule::Range => f.write_str("range"),
            ValidationRule::Email => f.write_str("email"),
            ValidationRule::Regex => f.write_str("regex"),
            ValidationRule::Custom(path) => write!(f, "custom = {path}"),
            ValidationRule::ValidateWith(path) => write!(f, "validate_with = {path}"),
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// The field, or `None` for a rule about the whole entity.
    pub field: Option<&'static str>,
    /// The rule that failed.
    pub rule: ValidationRule,
    /// What the rule requires, as a phrase that follows the field name
    /// ("must be between 0 and 150").
    pub message: String,
    /// The offending value (`Debug`, shortened), unless the field's name marks it as
    /// secret (password, secret, token, ...) or the value is a collection.
    pub value: Option<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            Some(field) => write!(f, "`{field}` {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        match &self.value {
            Some(v) => write!(f, " (value: {v})"),
            None => Ok(()),
        }
    }
}

/// Every rule an entity broke, reported together by `insert`, `update` and `upsert`
/// (as [`Error::Validation`](crate::Error::Validation)) before anything is written,
/// and by [`Entity::validate`](crate::Entity::validate).
///
/// A `validate_with` function receives it to add its own failures with
/// [`add`](Self::add) and [`add_entity`](Self::add_entity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationErrors {
    entity: &'static str,
    key: Option<String>,
    violations: Vec<Violation>,
    /// The rule that `add` records: the `validate_with` function being run.
    current: ValidationRule,
}

impl ValidationErrors {
    pub(crate) fn new(entity: &'static str, key: Option<String>) -> Self {
        ValidationErrors { entity, key, violations: Vec::new(), current: ValidationRule::ValidateWith("") }
    }

    /// The entity's name.
    #[must_use]
    pub fn entity(&self) -> &'static str {
        self.entity
    }

    /// The entity's key (`Debug`), or `None` when it is an `auto_increment` key not
    /// yet assigned.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The broken rules, in field order, then those of `validate_with`.
    #[must_use]
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The broken rules of one field.
    pub fn field<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Violation> + 'a {
        self.violations.iter().filter(move |v| v.field == Some(name))
    }

    /// How many rules were broken.
    #[must_use]
    pub fn len(&self) -> usize {
        self.violations.len()
    }

    /// Whether no rule was broken.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.violations.is_empty()
    }

    /// Records that `field` breaks a rule of the `validate_with` function;
    /// `message` says what the field must be, as a phrase that follows its name
    /// ("must not be before `start`").
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.violations.push(Violation {
            field: Some(field),
            rule: self.current,
            message: message.into(),
            value: None,
        });
    }

    /// Records that the entity as a whole breaks a rule of the `validate_with`
    /// function; `message` is a sentence ("a booking needs a room or a desk").
    pub fn add_entity(&mut self, message: impl Into<String>) {
        self.violations.push(Violation { field: None, rule: self.current, message: message.into(), value: None });
    }

    pub(crate) fn push(&mut self, field: &'static str, rule: ValidationRule, message: String, value: Option<String>) {
        let value = value.filter(|_| !is_secret(field));
        self.violations.push(Violation { field: Some(field), rule, message, value });
    }

    /// Runs a `validate_with` function, recording its failures under its path.
    #[doc(hidden)]
    pub fn __validate_with(&mut self, path: &'static str, f: impl FnOnce(&mut Self)) {
        self.current = ValidationRule::ValidateWith(path);
        f(self);
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{} with key {key} is not valid: ", self.entity)?,
            None => write!(f, "new {} (key not yet assigned) is not valid: ", self.entity)?,
        }
        for (i, v) in self.violations.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Whether a field's name says its value must not appear in messages.
fn is_secret(field: &str) -> bool {
    const MARKS: [&str; 9] =
        ["password", "passwd", "passphrase", "secret", "token", "apikey", "api_key", "private_key", "credential"];
    let lower = field.to_ascii_lowercase();
    MARKS.iter().any(|m| lower.contains(m))
}

/// The checks that generated `__validate` methods call.
#[doc(hidden)]
pub mod rules {
    use std::borrow::Cow;
    use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
    use std::fmt::{Debug, Display};
    use std::sync::OnceLock;

    use super::{ValidationErrors, ValidationRule};
    use crate::message::shorten;

    /// What `length` counts: characters of a string, items of a collection.
    #[diagnostic::on_unimplemented(
        message = "`length` cannot measure `{Self}`",
        label = "`{Self}` is neither a string nor a collection",
        note = "`length(min, max)` applies to `String`, `&str`, `Vec<T>`, sets, maps, arrays and an `Option` of these; bound a number with `range(min, max)`"
    )]
    pub trait Length {
        /// The length, or `None` when there is no value (`None` passes).
        fn length(&self) -> Option<usize>;
        /// `"character"` or `"item"`.
        const UNIT: &'static str;
        /// The value for a message, when it is a string.
        fn shown(&self) -> Option<String> {
            None
        }
    }

    impl Length for str {
        fn length(&self) -> Option<usize> {
            Some(self.chars().count())
        }
        const UNIT: &'static str = "character";
        fn shown(&self) -> Option<String> {
            Some(shorten(format!("{self:?}")))
        }
    }

    impl Length for String {
        fn length(&self) -> Option<usize> {
            self.as_str().length()
        }
        const UNIT: &'static str = "character";
        fn shown(&self) -> Option<String> {
            self.as_str().shown()
        }
    }

    impl Length for Cow<'_, str> {
        fn length(&self) -> Option<usize> {
            (**self).length()
        }
        const UNIT: &'static str = "character";
        fn shown(&self) -> Option<String> {
            (**self).shown()
        }
    }

    impl<T: Length + ?Sized> Length for &T {
        fn length(&self) -> Option<usize> {
            (**self).length()
        }
        const UNIT: &'static str = T::UNIT;
        fn shown(&self) -> Option<String> {
            (**self).shown()
        }
    }

    impl<T: Length + ?Sized> Length for Box<T> {
        fn length(&self) -> Option<usize> {
            (**self).length()
        }
        const UNIT: &'static str = T::UNIT;
        fn shown(&self) -> Option<String> {
            (**self).shown()
        }
    }

    impl<T: Length> Length for Option<T> {
        fn length(&self) -> Option<usize> {
            self.as_ref().and_then(Length::length)
        }
        const UNIT: &'static str = T::UNIT;
        fn shown(&self) -> Option<String> {
            self.as_ref().and_then(Length::shown)
        }
    }

    macro_rules! collection {
        ($($ty:ty => [$($g:tt)*]),* $(,)?) => {$(
            impl<$($g)*> Length for $ty {
                fn length(&self) -> Option<usize> {
                    Some(self.len())
                }
                const UNIT: &'static str = "item";
            }
        )*};
    }
    collection!(
        [T] => [T],
        Vec<T> => [T],
        VecDeque<T> => [T],
        BTreeSet<T> => [T],
        HashSet<T, S> => [T, S],
        BTreeMap<K, V> => [K, V],
        HashMap<K, V, S> => [K, V, S],
    );

    impl<T, const N: usize> Length for [T; N] {
        fn length(&self) -> Option<usize> {
            Some(N)
        }
        const UNIT: &'static str = "item";
    }

    /// `length(min, max)`: `value` has from `min` to `max` characters or items.
    pub fn length<V: Length + ?Sized>(
        errors: &mut ValidationErrors,
        field: &'static str,
        value: &V,
        min: Option<usize>,
        max: Option<usize>,
    ) {
        let Some(n) = value.length() else { return };
        if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
            let unit = |k: usize| if k == 1 { V::UNIT.to_string() } else { format!("{}s", V::UNIT) };
            let wanted = match (min, max) {
                (Some(lo), Some(hi)) if lo == hi => format!("must have exactly {lo} {}", unit(lo)),
                (Some(lo), Some(hi)) => format!("must have between {lo} and {hi} {}", unit(hi)),
                (Some(lo), None) => format!("must have at least {lo} {}", unit(lo)),
                (None, Some(hi)) => format!("must have at most {hi} {}", unit(hi)),
                (None, None) => return,
            };
            let message = if super::is_secret(field) { wanted } else { format!("{wanted}, but has {n}") };
            errors.push(field, ValidationRule::Length, message, value.shown());
        }
    }

    /// What `range` compares: a number, or an `Option` of one (`None` passes).
    #[diagnostic::on_unimplemented(
        message = "`range` cannot compare `{Self}`",
        label = "`{Self}` is not a number",
        note = "`range(min, max)` applies to integers, floats and an `Option` of these; bound a string's or collection's size with `length(min, max)`"
    )]
    pub trait Bounded {
        /// The number compared with the bounds.
        type Number: PartialOrd + Display + Copy;
        /// The number, or `None` when there is no value.
        fn number(&self) -> Option<Self::Number>;
    }

    macro_rules! number {
        ($($t:ty),*) => {$(
            impl Bounded for $t {
                type Number = $t;
                fn number(&self) -> Option<$t> {
                    Some(*self)
                }
            }
        )*};
    }
    number!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

    impl<T: Bounded> Bounded for Option<T> {
        type Number = T::Number;
        fn number(&self) -> Option<T::Number> {
            self.as_ref().and_then(Bounded::number)
        }
    }

    impl<T: Bounded + ?Sized> Bounded for &T {
        type Number = T::Number;
        fn number(&self) -> Option<T::Number> {
            (**self).number()
        }
    }

    impl<T: Bounded + ?Sized> Bounded for Box<T> {
        type Number = T::Number;
        fn number(&self) -> Option<T::Number> {
            (**self).number()
        }
    }

    /// `range(min, max)`: `min <= value <= max`, both inclusive. NaN is out of every range.
    pub fn range<V: Bounded + ?Sized>(
        errors: &mut ValidationErrors,
        field: &'static str,
        value: &V,
        min: Option<V::Number>,
        max: Option<V::Number>,
    ) {
        let Some(n) = value.number() else { return };
        // Written so that NaN, which compares false with everything, fails.
        let inside = min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m);
        if !inside {
            let message = match (min, max) {
                (Some(lo), Some(hi)) => format!("must be between {lo} and {hi}"),
                (Some(lo), None) => format!("must be at least {lo}"),
                (None, Some(hi)) => format!("must be at most {hi}"),
                (None, None) => "must be a number".to_string(),
            };
            errors.push(field, ValidationRule::Range, message, Some(n.to_string()));
        }
    }

    /// What `email` and `regex` read: a string, or an `Option` of one (`None` passes).
    #[diagnostic::on_unimplemented(
        message = "`email` and `regex` cannot read `{Self}`",
        label = "`{Self}` is not a string",
        note = "`email` and `regex = \"...\"` apply to `String`, `&str` and an `Option` of these"
    )]
    pub trait Text {
        /// The text, or `None` when there is no value.
        fn text(&self) -> Option<&str>;
    }

    impl Text for str {
        fn text(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl Text for String {
        fn text(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl Text for Cow<'_, str> {
        fn text(&self) -> Option<&str> {
            Some(self)
        }
    }

    impl<T: Text + ?Sized> Text for &T {
        fn text(&self) -> Option<&str> {
            (**self).text()
        }
    }

    impl<T: Text + ?Sized> Text for Box<T> {
        fn text(&self) -> Option<&str> {
            (**self).text()
        }
    }

    impl<T: Text> Text for Option<T> {
        fn text(&self) -> Option<&str> {
            self.as_ref().and_then(Text::text)
        }
    }

    /// `email`: an address as the WHATWG HTML standard defines a valid one (`local@domain`,
    /// the local part of letters, digits and ``.!#$%&'*+/=?^_`{|}~-``, the domain of
    /// dot-separated labels of letters, digits and inner hyphens, each at most 63
    /// long), with RFC 5321's limits of 64 characters for the local part and 254 for
    /// the address.
    pub fn email<V: Text + ?Sized>(errors: &mut ValidationErrors, field: &'static str, value: &V) {
        let Some(s) = value.text() else { return };
        if !is_email(s) {
            errors.push(
                field,
                ValidationRule::Email,
                "must be an email address".into(),
                Some(shorten(format!("{s:?}"))),
            );
        }
    }

    /// Whether `s` is an email address by the rule of [`email`].
    #[must_use]
    pub fn is_email(s: &str) -> bool {
        let Some((local, domain)) = s.rsplit_once('@') else { return false };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b));
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        s.len() <= 254 && local_ok && domain.split('.').all(label_ok)
    }

    /// A pattern compiled on first use, for a `static` in generated code.
    pub struct LazyRegex {
        pattern: &'static str,
        compiled: OnceLock<Result<regex::Regex, String>>,
    }

    impl LazyRegex {
        /// A pattern the derive has parsed already.
        #[must_use]
        pub const fn new(pattern: &'static str) -> Self {
            LazyRegex { pattern, compiled: OnceLock::new() }
        }

        fn get(&self) -> &Result<regex::Regex, String> {
            self.compiled.get_or_init(|| regex::Regex::new(self.pattern).map_err(|e| e.to_string()))
        }
    }

    impl Debug for LazyRegex {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "LazyRegex({:?})", self.pattern)
        }
    }

    /// `regex = "..."`: the value contains a match of the pattern (anchor it with
    /// `^...$` to match all of the value).
    pub fn regex<V: Text + ?Sized>(errors: &mut ValidationErrors, field: &'static str, value: &V, re: &LazyRegex) {
        let Some(s) = value.text() else { return };
        let shown = || Some(shorten(format!("{s:?}")));
        match re.get() {
            Ok(r) if r.is_match(s) => {}
            Ok(_) => {
                errors.push(field, ValidationRule::Regex, format!("must match the pattern `{}`", re.pattern), shown())
            }
            // The derive parsed the pattern; only a size limit of the compiler can fail here.
            Err(e) => {
                errors.push(
                    field,
                    ValidationRule::Regex,
                    format!("cannot be checked: the pattern `{}` fails: {e}", re.pattern),
                    shown(),
                );
            }
        }
    }

    /// `custom = path`: the function's `Err` is the failure, its `Display` the message.
    pub fn custom<E: Display>(
        errors: &mut ValidationErrors,
        field: &'static str,
        path: &'static str,
        result: Result<(), E>,
    ) {
        if let Err(e) = result {
            errors.push(field, ValidationRule::Custom(path), e.to_string(), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ValidationErrors;
    use super::rules::is_email;

    #[test]
    fn email_accepts_ordinary_addresses_and_rejects_malformed_ones() {
        for ok in ["a@b", "ann.lee+tag@example.co.uk", "x_y-z@sub-domain.io", "o'neil@x.org", "1@2.3"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "", "plain", "@x.io", "a@", "a@@x.io", "a b@x.io", "a@x..io", "a@-x.io", "a@x-.io", "a@.x", "ä@x.io",
            "a@x_y.io", "a@x.io.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_email(&format!("{}@x.io", "a".repeat(64))));
        assert!(!is_email(&format!("{}@x.io", "a".repeat(65))));
        assert!(!is_email(&format!("a@{}.io", "b".repeat(64))));
    }

    #[test]
    fn secret_fields_never_show_their_value_or_length() {
        let mut errors = ValidationErrors::new("User", Some("1".into()));
        super::rules::length(&mut errors, "password_hash", "abc", Some(8), None);
        super::rules::length(&mut errors, "name", "abc", Some(8), None);
        let text = errors.to_string();
        assert!(!text.contains("\"abc\" ") && text.matches("abc").count() == 1, "{text}");
        assert_eq!(errors.violations()[0].value, None);
        assert_eq!(errors.violations()[0].message, "must have at least 8 characters");
        assert_eq!(errors.violations()[1].message, "must have at least 8 characters, but has 3");
    }
}
