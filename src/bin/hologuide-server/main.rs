//! `hologuide-server`: the reference guide service and its admin command line.
//!
//! `init` creates a data folder, `serve` answers HTTP(S), the other commands administer the same
//! data folder directly (SQLite in WAL mode lets them run while the service is up).

mod admin;
mod bench;
mod bench_stores;
mod links;
mod migrate;
mod profile;
mod runs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use hologuide::service::passwords::DEFAULT_QUEUE_PER_WORKER;
use hologuide::service::secret_key_file::SecretKeyFile;
use hologuide::service::serve::{ConnectionLimits, TlsFiles};
use hologuide::service::{Config, DataLocation, ORPHAN_AGE, Service, ServiceError, SystemClock};

/// The work failed (unreadable data folder, port taken, …).
const EXIT_FAILURE: u8 = 1;
/// The input was refused (unknown user, invalid package, conflict, …).
const EXIT_INVALID: u8 = 2;

/// The hologuide guide service: accounts, guides and their versions, permissions, offline
/// profiles, telemetry and step results, over HTTP(S).
///
/// Start with `hologuide-server init --data DIR`, add an admin with
/// `hologuide-server user add NAME --role admin --password-stdin --data DIR`, then
/// `hologuide-server serve --data DIR --listen 127.0.0.1:8443`.
#[derive(Debug, Parser)]
#[command(
    name = "hologuide-server",
    version,
    about,
    long_about,
    max_term_width = 100
)]
struct Cli {
    /// Log detail: error, warn, info, debug or trace (also RUST_LOG).
    #[arg(long, global = true, default_value = "warn", value_name = "LEVEL")]
    log: String,
    /// Print results as JSON (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args, Clone)]
struct DataArg {
    /// The service's data folder (the SQLite database and the blobs).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Keep the metadata in this PostgreSQL database instead of the folder's SQLite one, so that
    /// several instances can share it: postgres://USER@HOST/DB (a Unix socket folder as the host,
    /// percent-encoded).
    #[arg(
        long,
        env = "HOLOGUIDE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database: Option<String>,
    /// Keep the blobs in this folder instead of DIR/blobs; with several instances, one that
    /// every instance reaches.
    #[arg(long, value_name = "DIR")]
    blobs: Option<PathBuf>,
}

impl DataArg {
    fn location(&self) -> DataLocation {
        DataLocation {
            data_dir: self.data.clone(),
            database_url: self.database.clone(),
            blobs_dir: self.blobs.clone(),
        }
    }
}

/// The secret key file, for the commands that sign stickers or make link keys (N2).
#[derive(Debug, Args, Clone)]
struct SecretKeyArg {
    /// The file of 32 random bytes the organisations' link-signing keys are sealed with in the
    /// database; its owner's only (mode 0600). Default: DIR/secret.key, made when missing. Keep
    /// it out of database backups: a dump without it cannot sign stickers. With PostgreSQL and
    /// several instances, give every instance (and `guide link`, `links rotate`) the same file.
    #[arg(long, value_name = "FILE")]
    secret_key_file: Option<PathBuf>,
}

impl SecretKeyArg {
    fn file(&self, data_dir: &Path) -> SecretKeyFile {
        SecretKeyFile::given_or_default(self.secret_key_file.as_deref(), data_dir)
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a data folder (or bring an existing one's database up to date).
    Init(DataArg),
    /// Answer HTTP(S) requests until interrupted.
    Serve(ServeArgs),
    /// Users and groups.
    #[command(subcommand)]
    User(admin::UserCommand),
    /// Publish guides; grant, revoke, deactivate, reactivate, tag.
    #[command(subcommand)]
    Guide(admin::GuideCommand),
    /// Offline profiles (which guides members' devices keep offline).
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Signed stickers (N2): an organisation's link keys, rotation, retirement, and whether
    /// unsigned stickers act.
    #[command(subcommand)]
    Links(links::LinksCommand),
    /// Guide runs for audits (N6): every answer recorded for a guide, by run.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Counts of users, guides, versions, blobs, telemetry events and results.
    Stats(DataArg),
    /// Blob files: collect those no guide version names (left by a publish that was killed).
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Copy a data folder (SQLite) into PostgreSQL, verified, for several instances (N4).
    Migrate(migrate::MigrateArgs),
    /// Measure requests/s and blob throughput on loopback (a bounded run in a temporary folder).
    Bench(bench::BenchArgs),
}

#[derive(Debug, Subcommand)]
enum BlobsCommand {
    /// Remove the blobs no guide version names once they are older than --older-than (younger
    /// ones may belong to a publish in progress). `serve` does this at start, with the default.
    Collect {
        #[command(flatten)]
        data: DataArg,
        /// Seconds since an unnamed blob was last written before it is removed.
        #[arg(long, default_value_t = ORPHAN_AGE.as_secs(), value_name = "SECONDS")]
        older_than: u64,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    data: DataArg,
    #[command(flatten)]
    secret: SecretKeyArg,
    /// Address to listen on; port 0 picks a free port (the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// PEM certificate chain: serve HTTPS instead of HTTP (with --tls-key).
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Largest guide package accepted for publishing, in bytes.
    #[arg(long, default_value_t = Config::default().max_upload_bytes, value_name = "BYTES")]
    max_upload_bytes: u64,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    access_token_ttl: u32,
    /// How long a device may keep opening a guide offline after fetching it, in seconds (N1;
    /// default 30 days). Each online open renews it.
    #[arg(long, default_value_t = 30 * 24 * 3600, value_name = "SECONDS")]
    offline_lease: u32,
    /// Password checks run at once (each holds 19 MiB); default: one per core.
    #[arg(long, value_name = "N")]
    password_workers: Option<usize>,
    /// Password checks that may wait for a worker; more are answered 503 at once. Default: 4 per
    /// worker.
    #[arg(long, value_name = "N")]
    password_queue: Option<usize>,
    /// Seconds a client has to send a request head, after connecting or after its previous
    /// answer (so also how long an idle kept-alive connection stays open).
    #[arg(long, default_value_t = ConnectionLimits::default().header_timeout.as_secs_f64(), value_name = "SECONDS")]
    header_timeout: f64,
    /// Seconds any request body may take; longer only while it arrives at --min-body-rate.
    #[arg(long, default_value_t = ConnectionLimits::default().body_grace.as_secs_f64(), value_name = "SECONDS")]
    body_timeout: f64,
    /// Bytes/s a request body must average once --body-timeout has passed.
    #[arg(long, default_value_t = ConnectionLimits::default().min_body_rate, value_name = "BYTES")]
    min_body_rate: u64,
    /// Open connections in all (lowered to what the open-file limit allows).
    #[arg(long, default_value_t = ConnectionLimits::default().max_connections, value_name = "N")]
    max_connections: usize,
    /// Open connections from one address (IPv6: one /64).
    #[arg(long, default_value_t = ConnectionLimits::default().max_connections_per_address, value_name = "N")]
    max_connections_per_address: usize,
}

impl ServeArgs {
    fn limits(&self) -> anyhow::Result<ConnectionLimits> {
        let seconds = |flag: &str, value: f64| {
            Duration::try_from_secs_f64(value)
                .ok()
                .filter(|d| !d.is_zero())
                .with_context(|| format!("--{flag} must be a positive number of seconds"))
        };
        if self.max_connections == 0 || self.max_connections_per_address == 0 {
            anyhow::bail!("--max-connections and --max-connections-per-address must be at least 1");
        }
        Ok(ConnectionLimits {
            header_timeout: seconds("header-timeout", self.header_timeout)?,
            body_grace: seconds("body-timeout", self.body_timeout)?,
            min_body_rate: self.min_body_rate,
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
        })
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            let refused = error.chain().any(|cause| {
                cause
                    .downcast_ref::<ServiceError>()
                    .is_some_and(|e| e.code() != "internal")
            });
            ExitCode::from(if refused { EXIT_INVALID } else { EXIT_FAILURE })
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let json = cli.json;
    match cli.command {
        Command::Init(data) => {
            Service::init(&data.location())
                .with_context(|| format!("initialising {}", data.data.display()))?;
            let data = data.data;
            print(json, &serde_json::json!({ "data": data }), || {
                format!("initialised {}", data.display())
            })
        }
        Command::Serve(args) => serve(args, json),
        Command::User(command) => admin::user(command, json),
        Command::Guide(command) => admin::guide(command, json),
        Command::Profile(command) => profile::run(command, json),
        Command::Links(command) => links::run(command, json),
        Command::Runs(command) => runs::run(command),
        Command::Stats(data) => {
            let stats = open(&data)?.stats()?;
            print(json, &stats, || {
                format!(
                    "{} users, {} guides, {} versions, {} blobs, {} telemetry events, {} telemetry summaries, {} results",
                    stats.users,
                    stats.guides,
                    stats.versions,
                    stats.blobs,
                    stats.telemetry_events,
                    stats.telemetry_summaries,
                    stats.results
                )
            })
        }
        Command::Blobs(BlobsCommand::Collect { data, older_than }) => {
            let collection = open(&data)?.collect_orphan_blobs(Duration::from_secs(older_than))?;
            print(json, &collection, || {
                format!(
                    "removed {} orphan blobs ({} bytes) of {}; {} younger orphans kept",
                    collection.removed,
                    collection.removed_bytes,
                    collection.blobs,
                    collection.young_orphans
                )
            })
        }
        Command::Migrate(args) => migrate::run(args, json),
        Command::Bench(args) => bench::run(args, json),
    }
}

fn open(data: &DataArg) -> anyhow::Result<Service> {
    Service::open(&data.location(), Config::default(), Arc::new(SystemClock))
        .with_context(|| format!("opening the data folder {}", data.data.display()))
}

/// [`open`], for a command that signs stickers or makes link keys: with the secret key file.
fn open_unlocked(data: &DataArg, secret: &SecretKeyArg) -> anyhow::Result<Service> {
    let mut service = open(data)?;
    unlock(&mut service, &data.data, secret)?;
    Ok(service)
}

fn unlock(service: &mut Service, data_dir: &Path, secret: &SecretKeyArg) -> anyhow::Result<()> {
    service
        .unlock_link_keys(&secret.file(data_dir))
        .context("unlocking the link-signing keys")
}

/// Prints `value` as JSON, or the human text.
fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    text: impl FnOnce() -> String,
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let output = if json {
        serde_json::to_string_pretty(value).context("writing JSON")?
    } else {
        text()
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{output}")?;
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn serve(args: ServeArgs, json: bool) -> anyhow::Result<ExitCode> {
    let limits = args.limits()?;
    let defaults = Config::default();
    let password_workers = args
        .password_workers
        .unwrap_or(defaults.password_workers)
        .max(1);
    let config = Config {
        password_workers,
        password_queue: args
            .password_queue
            .unwrap_or(password_workers * DEFAULT_QUEUE_PER_WORKER),
        access_token_ttl: time::Duration::seconds(i64::from(args.access_token_ttl)),
        max_upload_bytes: args.max_upload_bytes,
        offline_lease: time::Duration::seconds(i64::from(args.offline_lease)),
        ..defaults
    };
    let mut service = Service::open(&args.data.location(), config, Arc::new(SystemClock))
        .with_context(|| format!("opening the data folder {}", args.data.data.display()))?;
    unlock(&mut service, &args.data.data, &args.secret)?;
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(certificate), Some(private_key)) => Some(TlsFiles {
            certificate,
            private_key,
        }),
        _ => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The service outlives the runtime: its last handle is dropped here, on this thread, after
    // the runtime. The PostgreSQL client runs a runtime of its own, which must not be dropped
    // inside an async context (a panic at exit otherwise, when a request task held the last
    // handle).
    let service = Arc::new(service);
    // Orphans a killed publish left: collected beside the service, which answers meanwhile.
    let collector = Arc::clone(&service);
    std::thread::spawn(move || {
        if let Err(e) = collector.collect_orphan_blobs(ORPHAN_AGE) {
            tracing::warn!("collecting orphan blobs failed: {e}");
        }
    });
    let served = runtime.block_on(hologuide::service::serve::serve(
        Arc::clone(&service),
        args.listen,
        tls,
        limits,
        |address, tls| {
            let url = format!("{}://{address}", if tls { "https" } else { "http" });
            // Tests and scripts read this line to learn the port.
            let _ = print(json, &serde_json::json!({ "listening": url }), || {
                format!("listening on {url}")
            });
        },
        shutdown_signal(),
    ));
    drop(runtime);
    drop(service);
    served?;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM: stop accepting, finish the requests in flight, exit.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

fn init_logging(level: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in a service manager's log.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
