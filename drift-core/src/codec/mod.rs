//! Order-preserving key encoding ([`KeyCodec`]).

mod key;

pub(crate) use key::encode_bytes_unterminated;
pub use key::{KeyCodec, KeyError, prefix_successor};
