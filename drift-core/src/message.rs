//! Helpers that render values for messages: shortened keys, hex bytes, names known
//! only at run time. A leaf: it depends on nothing else in the crate.

use std::fmt;

/// At most this many characters of a key or value appear in a message.
const SHOWN_CHARS: usize = 64;

/// A rendered key or value for a message, shortened to 64 characters.
pub(crate) fn shorten(rendered: String) -> String {
    match rendered.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &rendered[..cut]),
        None => rendered,
    }
}

/// Renders raw key bytes for messages when they cannot be decoded.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let shown = &bytes[..bytes.len().min(SHOWN_CHARS / 2)];
    let mut s = String::with_capacity(3 + shown.len() * 2);
    s.push_str("0x");
    for b in shown {
        let _ = write!(s, "{b:02x}");
    }
    if shown.len() < bytes.len() {
        s.push('…');
    }
    s
}

/// `name` as a `&'static str`, for error fields that name an entity known only from
/// the file: each distinct name is allocated once per process.
pub(crate) fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(n);
    n
}

#[cfg(test)]
mod tests {
    use super::{hex, intern, shorten};

    #[test]
    fn rendered_keys_are_shortened() {
        assert_eq!(hex(&[0xab; 3]), "0xababab");
        assert_eq!(hex(&[0; 100]).len(), 2 + 64 + '…'.len_utf8());
        assert_eq!(shorten("é".repeat(70)), format!("{}…", "é".repeat(64)));
        assert_eq!(shorten("short".into()), "short");
    }

    #[test]
    fn interned_names_are_allocated_once() {
        assert!(std::ptr::eq(intern("PostTag"), intern(&String::from("PostTag"))));
    }
}
