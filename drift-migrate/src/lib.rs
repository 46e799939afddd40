//! Schema migrations for Drift KV.
//!
//! A file stores the descriptors of the entities it was last written with. When the
//! compiled ones differ, `Db::builder()...open(path)` fails with
//! `Error::SchemaMismatch`, unless it is given [`Migrations`]:
//!
//! - [`diff`] compares stored and compiled descriptors into typed [`Change`]s, each
//!   [`Class`]ified as automatic, dropping data (to acknowledge), needing a
//!   transform, or refused with a reason;
//! - [`Migrations`] holds what a project writes: the [`SchemaHistory`] of shipped
//!   versions (a lock file it commits), a transform per step that needs one, over
//!   dynamic [`Row`]s of the version before, and the fields and entities it agrees
//!   to drop;
//! - applying runs on open in one write transaction, rows streamed in key order in
//!   chunks, every row checked by the new entity's validation, unique indexes built
//!   with every conflict reported, new `belongs_to` relations checked for dangling
//!   keys; any failure (a transform's error or panic included) leaves the file as it
//!   was, and the error names the step, entity, key and field;
//! - [`Migrations::dry_run`] returns the [`Plan`] without writing; [`applied`] reads
//!   the records each migration leaves in the file.
//!
//! drift-migrate reads and writes the file only through drift-core's engine-neutral
//! [`drift_core::raw`] interface.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod apply;
mod diff;
mod history;
mod plan;

pub use apply::{AppliedMigration, AppliedStep, BoxError, Migrations, Progress, applied, parse_history};
pub use diff::{Change, ChangeKind, Class, diff, diff_entity, former_names, match_entities, source_field};
pub use drift_core::dynamic::{Row, RowError, Value};
pub use history::{RECORD_ENV, SchemaHistory, Unrecorded};
pub use plan::{Plan, PlannedStep};
