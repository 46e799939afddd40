//! The command line: clap's derive, and the dispatch to each command.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::fail::Fail;

const LONG_ABOUT: &str = "\
Looks inside a Drift KV database file through the entity descriptors it stores: no \
struct of the application is needed.

Commands that only read (inspect, check, history, diff, migrate --dry-run, export) \
open the file read-only and never write to it.

Files in use: redb 4 (the storage engine), in the mode Drift opens files in (its \
default, exclusive writer), locks the whole file while a program has it open, and \
refuses any other open beside it from another process, read-only ones included. So drift works on a file no program has open; while one does, drift says so \
and exits with 2: check it from inside the program with `db.check()`. While drift \
reads a file, a program cannot open it for writing.

Exit codes:
  0  success
  1  check found problems (also the check after import or backup)
  2  usage error, or a file that cannot be read, written or used (missing, not a \
Drift database, damaged past reading, open in another process)";

/// The `drift` command line.
#[derive(Debug, Parser)]
#[command(name = "drift", version, about = "Inspect, check, migrate, export and back up Drift KV files", long_about = LONG_ABOUT)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Entities, rows, fields, keys, indexes and relations of a file.
    #[command(long_about = "Shows the format marker, each stored entity (table, version, rows, fields \
        with their types, key, indexes with their entry counts, relations with on_delete), the tables \
        that belong to no entity, and how many migrations were applied. Read-only.")]
    Inspect {
        /// The Drift database file.
        file: PathBuf,
        /// Print JSON for scripts instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Verifies rows, index entries, unique values, foreign keys and sequences.
    #[command(long_about = "Verifies a file from its stored descriptors: every row decodes, every \
        index entry matches a row and every row has its entries, unique values are unique, no foreign \
        key dangles, auto_increment marks are ahead of their keys. Exits with 1 when it finds a \
        problem. Read-only; memory does not grow with the file.")]
    Check {
        /// The Drift database file.
        file: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// The migrations applied to a file.
    History {
        /// The Drift database file.
        file: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Differences between a file's stored schema and a schema history file.
    #[command(long_about = "Compares the descriptors stored in FILE with the latest version of each \
        entity recorded in SCHEMA_HISTORY (the project's schema lock file), and prints each change with \
        what applying it takes: automatic, drops data (needs an acknowledgement), needs a transform, or \
        refused. Field defaults are not recorded in the history file: a required field added with a \
        `#[drift(default = ..)]` shows here as needing a transform. Read-only.")]
    Diff {
        /// The Drift database file.
        file: PathBuf,
        /// The schema history file (JSON) of the project.
        schema_history: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// The migration plan from a file to the latest versions of a schema history.
    #[command(long_about = "With --dry-run, prints the plan: for each entity the chain of versions \
        from the stored one to the latest recorded one, with the changes of each step and the rows it \
        rewrites. Read-only. A migration itself runs in the application, which has the compiled \
        entities and the transforms: `Db::builder().entity::<..>().migrations(Migrations::new()\
        .history_file(..)?..).open(path)`.")]
    Migrate {
        /// The Drift database file.
        file: PathBuf,
        /// The schema history file (JSON) of the project.
        #[arg(long, value_name = "SCHEMA_HISTORY")]
        history: PathBuf,
        /// Print the plan without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Writes rows as JSON lines (a header with the stored descriptors first) or CSV.
    #[command(long_about = crate::export::LONG_ABOUT)]
    Export {
        /// The Drift database file.
        file: PathBuf,
        /// Export this entity only (all entities by default).
        #[arg(long, value_name = "ENTITY")]
        entity: Option<String>,
        /// The output format; csv takes one entity whose fields are all scalars.
        #[arg(long, value_enum, default_value_t = Format::Jsonl)]
        format: Format,
        /// Write to this file instead of stdout.
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
    },
    /// Rebuilds a database from a JSON lines export, into a new or empty file.
    #[command(long_about = crate::import::LONG_ABOUT)]
    Import {
        /// The new Drift database file.
        file: PathBuf,
        /// The JSON lines written by `drift export`.
        #[arg(long, value_name = "IN")]
        input: PathBuf,
    },
    /// Copies a file from one consistent snapshot, then checks the copy.
    #[command(long_about = "Copies every table of FILE, as of one read snapshot, into DEST (which must \
        not exist), then runs check on DEST. Exits with 1 when the copy has problems (they were in \
        FILE). FILE is opened read-only; like every drift command it needs a file no program has open \
        (redb refuses a second open beside a writer).")]
    Backup {
        /// The Drift database file.
        file: PathBuf,
        /// Where to write the copy.
        dest: PathBuf,
    },
    /// Rewrites a file to give free space back to the file system.
    #[command(long_about = "Opens FILE for writing (no program may have it open) and rewrites it to \
        reclaim free space, then prints its size before and after.")]
    Compact {
        /// The Drift database file.
        file: PathBuf,
    },
    /// Prints a shell completion script.
    #[command(long_about = "Prints a completion script for SHELL to stdout, for example \
        `drift completions bash > ~/.local/share/bash-completion/completions/drift`.")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// JSON lines: a header, then one row a line.
    Jsonl,
    /// CSV with a header row: one entity with scalar fields.
    Csv,
}

/// Runs the command; stdout goes to `out`.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode, Fail> {
    match cli.command {
        Command::Inspect { file, json } => crate::inspect::run(&file, json, out),
        Command::Check { file, json } => crate::check::run(&file, json, out),
        Command::History { file, json } => crate::history::run(&file, json, out),
        Command::Diff { file, schema_history, json } => crate::diff::diff(&file, &schema_history, json, out),
        Command::Migrate { file, history, dry_run, json } => {
            if !dry_run {
                return Err(Fail::new(
                    "a migration cannot run from the command line: it needs the compiled entities and the project's \
                     transforms; migrate by opening the file in the application with \
                     `Db::builder().entity::<..>().migrations(Migrations::new().history_file(..)?).open(path)`, \
                     and see the plan with `drift migrate FILE --history SCHEMA_HISTORY --dry-run`",
                ));
            }
            crate::diff::plan(&file, &history, json, out)
        }
        Command::Export { file, entity, format, output } => {
            crate::export::run(&file, entity.as_deref(), format, output.as_deref(), out)
        }
        Command::Import { file, input } => crate::import::run(&file, &input, out),
        Command::Backup { file, dest } => crate::backup::backup(&file, &dest, out),
        Command::Compact { file } => crate::backup::compact(&file, out),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "drift", out);
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
