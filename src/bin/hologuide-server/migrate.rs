//! `hologuide-server migrate`: a SQLite data folder into PostgreSQL (N4).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use hologuide::service::migrate::{MigrationProgress, migrate_sqlite_to_postgres};
use hologuide::service::secret_key_file::SecretKeyFile;

/// Copy a data folder's SQLite database (and, with --blobs, its blobs) into PostgreSQL, verify
/// every table's rows and every blob's sha256, and commit only then. Safe to run again.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data folder `serve --data` uses (its service.db and blobs/).
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The PostgreSQL database: postgres://USER@HOST/DB (created or brought up to date first).
    #[arg(long, value_name = "URL")]
    to: String,
    /// Copy the blobs into this folder, one every instance reaches (then serve with --blobs DIR);
    /// without it they stay in DIR/blobs, checked.
    #[arg(long, value_name = "DIR")]
    blobs: Option<PathBuf>,
    /// The folder's secret key file (default: DIR/secret.key, made when missing): link keys
    /// still in clear are sealed with it first, then all are copied sealed. Every PostgreSQL
    /// instance then needs this same file (`serve --secret-key-file`).
    #[arg(long, value_name = "FILE")]
    secret_key_file: Option<PathBuf>,
}

pub fn run(args: MigrateArgs, json: bool) -> anyhow::Result<ExitCode> {
    let bar = if json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .context("the progress bar's template")?
        .progress_chars("=> "),
    );
    let secret = SecretKeyFile::given_or_default(args.secret_key_file.as_deref(), &args.from);
    let report = migrate_sqlite_to_postgres(
        &args.from,
        &args.to,
        args.blobs.as_deref(),
        &secret,
        &mut |step| match step {
            MigrationProgress::BlobsStart { count, bytes } => {
                bar.set_length(bytes);
                bar.set_message(format!("checking {count} blobs"));
            }
            MigrationProgress::Blob { bytes } => bar.inc(bytes),
            MigrationProgress::Table(table) => {
                bar.set_message(format!("copied {}", table.table));
            }
        },
    )
    .with_context(|| {
        format!(
            "migrating {} to PostgreSQL (nothing was committed)",
            args.from.display()
        )
    })?;
    bar.finish_and_clear();
    let tables: Vec<_> = report
        .tables
        .iter()
        .map(|t| serde_json::json!({ "table": t.table, "rows": t.digest.rows, "hash": t.digest.hex() }))
        .collect();
    let value = serde_json::json!({
        "tables": tables,
        "blobs": report.blobs,
        "blob_bytes": report.blob_bytes,
        "blobs_copied": report.blobs_copied,
        "blobs_dir": report.blobs_dir,
        "secret_key_file": report.secret_key_file,
    });
    crate::print(json, &value, || {
        let mut text = String::from(
            "table                    rows  (verified: same rows, same content hash)\n",
        );
        for table in &report.tables {
            text.push_str(&format!("{:<20} {:>9}\n", table.table, table.digest.rows));
        }
        text.push_str(&format!(
            "{} blobs, {} bytes, sha256 checked ({} copied) in {}\n",
            report.blobs,
            report.blob_bytes,
            report.blobs_copied,
            report.blobs_dir.display()
        ));
        let blobs = if args.blobs.is_some() {
            format!(" --blobs {}", report.blobs_dir.display())
        } else {
            String::new()
        };
        text.push_str(&format!(
            "serve it with: hologuide-server serve --data {} --database URL{blobs}\n\
             every instance needs a copy of {} (--secret-key-file FILE): the link keys are sealed \
             with it",
            args.from.display(),
            report.secret_key_file.display()
        ));
        text
    })
}
