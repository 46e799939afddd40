//! The schema history: every version of every entity a project has shipped, in a
//! JSON file the project commits (its lock file). Migrations chain through it, so a
//! file written by version 1 opens with version 3's code, each step over rows of
//! its own version.

use std::collections::BTreeMap;
use std::path::Path;

use drift_core::{EntityDescriptor, Error, Result};

/// The environment variable that makes [`SchemaHistory::assert_recorded`] record
/// the compiled schema instead of failing.
pub const RECORD_ENV: &str = "DRIFT_RECORD";

/// Every recorded version of every entity: entity name -> version -> descriptor.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SchemaHistory {
    /// The recorded descriptors.
    pub entities: BTreeMap<String, BTreeMap<u32, EntityDescriptor>>,
}

/// A compiled entity version that the history does not hold as compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrecorded {
    /// The entity.
    pub entity: String,
    /// Its compiled version.
    pub version: u32,
    /// What differs from the recorded descriptor of that version, or from the
    /// latest recorded version when this one is new; empty for a new entity.
    pub changes: Vec<String>,
    /// Whether the version is recorded with another descriptor (the compiled
    /// schema changed without a version bump).
    pub changed_in_place: bool,
}

fn history_error(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Migration {
        step: "schema history".into(),
        entity: path.display().to_string(),
        key: None,
        field: None,
        reason: reason.to_string(),
    }
}

/// The descriptor as the history file stores it (shapes resolved, no defaults).
fn stored_form(d: &EntityDescriptor) -> serde_json::Value {
    serde_json::to_value(d).unwrap_or(serde_json::Value::Null)
}

impl SchemaHistory {
    /// The history in `json`.
    ///
    /// # Errors
    /// [`Error::Migration`] when it cannot be parsed.
    pub fn from_json(json: &str) -> Result<SchemaHistory> {
        serde_json::from_str(json).map_err(|e| history_error(Path::new("schema history"), e))
    }

    /// The history as pretty JSON (stable order: entity, then version).
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads the history file at `path`; an empty history when there is none.
    ///
    /// # Errors
    /// [`Error::Migration`] when the file cannot be read or parsed.
    pub fn load(path: impl AsRef<Path>) -> Result<SchemaHistory> {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(json) => serde_json::from_str(&json).map_err(|e| history_error(path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SchemaHistory::default()),
            Err(e) => Err(history_error(path, e)),
        }
    }

    /// Writes the history to `path`.
    ///
    /// # Errors
    /// [`Error::Migration`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()).map_err(|e| history_error(path, e))
    }

    /// Records the `compiled` descriptors, each under its name and version
    /// (replacing what that version held).
    pub fn record<'a>(&mut self, compiled: impl IntoIterator<Item = &'a EntityDescriptor>) {
        for d in compiled {
            // Through JSON, so the recorded form is the stored one (shapes resolved).
            let stored = serde_json::from_value(stored_form(d)).unwrap_or_else(|_| d.clone());
            self.entities.entry(d.name.to_string()).or_default().insert(d.version, stored);
        }
    }

    /// The recorded descriptor of `entity` at `version`.
    #[must_use]
    pub fn descriptor(&self, entity: &str, version: u32) -> Option<&EntityDescriptor> {
        self.entities.get(entity).and_then(|v| v.get(&version))
    }

    /// The recorded versions of `entity`, ascending.
    #[must_use]
    pub fn versions_of(&self, entity: &str) -> Vec<u32> {
        self.entities.get(entity).map(|v| v.keys().copied().collect()).unwrap_or_default()
    }

    /// The recorded descriptors of `compiled` strictly between versions `after` and
    /// `before`, ascending, looked up by its name and every name it had before
    /// ([`crate::former_names`]).
    #[must_use]
    pub fn between(&self, compiled: &EntityDescriptor, after: u32, before: u32) -> Vec<&EntityDescriptor> {
        let mut out: BTreeMap<u32, &EntityDescriptor> = BTreeMap::new();
        for name in crate::former_names(compiled, Some(self)) {
            for (v, d) in self.entities.get(&name).into_iter().flatten() {
                if *v > after && *v < before {
                    out.entry(*v).or_insert(d);
                }
            }
        }
        out.into_values().collect()
    }

    /// The compiled versions this history does not hold exactly as compiled.
    #[must_use]
    pub fn unrecorded(&self, compiled: &[&EntityDescriptor]) -> Vec<Unrecorded> {
        let mut out = Vec::new();
        for c in compiled {
            let versions = self.entities.get(&*c.name);
            let same = versions.and_then(|v| v.get(&c.version));
            match same {
                Some(recorded) if stored_form(recorded) == stored_form(c) => {}
                Some(recorded) => out.push(Unrecorded {
                    entity: c.name.to_string(),
                    version: c.version,
                    changes: recorded.differences(c),
                    changed_in_place: true,
                }),
                None => {
                    let latest = versions.and_then(|v| v.values().next_back());
                    out.push(Unrecorded {
                        entity: c.name.to_string(),
                        version: c.version,
                        changes: latest.map(|l| l.differences(c)).unwrap_or_default(),
                        changed_in_place: false,
                    });
                }
            }
        }
        out
    }

    /// The snapshot guard for a project's tests: fails (panics, as a test
    /// assertion) when the compiled schema is not recorded in the history file at
    /// `path`, printing what differs and how to record it. With
    /// `DRIFT_RECORD=1` in the environment it records the compiled schema into the
    /// file instead.
    ///
    /// # Panics
    /// When a compiled entity version is not recorded as compiled.
    pub fn assert_recorded(path: impl AsRef<Path>, compiled: &[&EntityDescriptor]) {
        let path = path.as_ref();
        let mut history = match SchemaHistory::load(path) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        };
        let missing = history.unrecorded(compiled);
        if missing.is_empty() {
            return;
        }
        if std::env::var(RECORD_ENV).is_ok_and(|v| v == "1") {
            history.record(compiled.iter().copied());
            if let Err(e) = history.save(path) {
                panic!("{e}");
            }
            return;
        }
        let mut msg = format!("the compiled schema is not recorded in {}:\n", path.display());
        for m in &missing {
            if m.changed_in_place {
                msg.push_str(&format!(
                    "  {} version {} differs from the recorded version {} (bump `#[drift(version = ..)]`):\n",
                    m.entity, m.version, m.version
                ));
            } else if m.changes.is_empty() {
                msg.push_str(&format!("  {} version {} is new\n", m.entity, m.version));
            } else {
                msg.push_str(&format!(
                    "  {} version {} is not recorded; since the last recorded version:\n",
                    m.entity, m.version
                ));
            }
            for c in &m.changes {
                msg.push_str(&format!("    - {c}\n"));
            }
        }
        msg.push_str(&format!(
            "record it with `{RECORD_ENV}=1 cargo test` (or `drift schema record`), review the diff of {} and commit it",
            path.display()
        ));
        panic!("{msg}");
    }
}
