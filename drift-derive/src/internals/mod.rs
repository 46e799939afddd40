pub(crate) mod ast;
pub(crate) mod attr;
pub(crate) mod check;
pub(crate) mod ctxt;
pub(crate) mod describe;
pub(crate) mod relation;
pub(crate) mod symbol;
pub(crate) mod unraw;
