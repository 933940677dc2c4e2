use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use super::progress::Progress;

const EXIT_CODES: &str = "Exit codes: 0 every verdict as expected; 1 a verdict not as expected; \
2 bad input or an environment problem (also a run that could not finish); 130 interrupted (Ctrl-C), \
after removing the run's containers.\nLogging: RUST_LOG (default `warn`), e.g. RUST_LOG=shakedown=debug.";

/// Parses the command line, runs, and returns the exit code: 0 on success, 1 when a suite
/// did not get its expected verdict, 2 on bad input or an environment problem (also a run that
/// could not finish), 130 after Ctrl-C once the run's containers are removed.
pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers(&cli.command))
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let progress = Progress::new();
    progress.install_tracing();
    let code = rt.block_on(super::commands::dispatch(&progress, cli.command));
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}

/// Runtime workers: one per core, and for `run` one per job and a spare, so a run whose
/// containers are being removed (a blocking step at a run's end) never holds up the others.
fn workers(command: &Command) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    match command {
        Command::Run { jobs, .. } => {
            let jobs = jobs.unwrap_or_else(super::jobs::default_jobs).get();
            cores.max(jobs) + 1
        }
        _ => cores,
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "shakedown",
    version,
    about = "Chaos tests against real systems in containers: inject the failures that break distributed systems and check what the system did.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run suites against the reference systems and write a report.
    #[command(
        after_help = "Examples:\n  shakedown run                                  every suite, both variants\n  shakedown run replica_lag --variant naive --seed 7 --out report\n  shakedown run --jobs 1                         one run at a time\n\nWrites <out>/index.html, <out>/junit.xml and <out>/<suite>/<variant>/{report,history,elle,outcome}.json; image build output goes to <out>/image-build.log.\nExit codes: 0 every verdict as expected; 1 a verdict not as expected; 2 bad input or an environment problem (also mid-run); 130 interrupted."
    )]
    Run {
        /// Suites to run (default: all; see `shakedown list`).
        suites: Vec<String>,
        /// Which reference variant to run.
        #[arg(long, value_enum, default_value_t = VariantArg::All)]
        variant: VariantArg,
        /// Seed for fake data and workload choices (default: $SHAKEDOWN_SEED, else 1).
        #[arg(long, env = "SHAKEDOWN_SEED", default_value_t = 1)]
        seed: u64,
        /// Where to write the report.
        #[arg(long, default_value = "shakedown-report")]
        out: PathBuf,
        /// How many suite runs at once (default: two per core, at least two; 1 runs them one
        /// after another). Results and report keep the suites' order either way.
        #[arg(long, short = 'j', value_name = "N", value_parser = super::jobs::parse)]
        jobs: Option<NonZeroUsize>,
    },
    /// Re-render the pages, JUnit file and Elle exports of a run's output folder from its JSON.
    #[command(
        after_help = "Example:\n  shakedown report shakedown-report\n\nExits as the run did: 0 every verdict as expected, 1 a verdict not as expected, 2 a run that could not finish or a folder that is not a run's output."
    )]
    Report {
        /// The folder `shakedown run --out DIR` wrote.
        dir: PathBuf,
    },
    /// List the suites.
    #[command(after_help = "Example:\n  shakedown list")]
    List,
    /// Build or inspect the images the suites need.
    #[command(
        after_help = "Examples:\n  shakedown images build\n  shakedown images status\n  shakedown images list"
    )]
    Images {
        #[command(subcommand)]
        action: ImagesAction,
    },
    /// Remove containers and networks left behind by killed runs, and those kept for inspection
    /// (SHAKEDOWN_KEEP) whose run has ended; other hosts' (an engine shared by CI jobs) only once
    /// older than SHAKEDOWN_SWEEP_TTL (default 2h).
    #[command(after_help = "Examples:\n  shakedown clean\n  shakedown clean --all --images")]
    Clean {
        /// Remove every shakedown container and network, even those of runs still going.
        #[arg(long)]
        all: bool,
        /// Also remove shakedown images built from recipes other than this binary's.
        #[arg(long)]
        images: bool,
    },
    /// Run the Toxiproxy-compatible fault proxy (a drop-in for `toxiproxy-server`).
    #[command(after_help = "Example:\n  shakedown proxy --port 8474 --config proxies.json")]
    Proxy(shakedown_proxy::ProxyArgs),
    /// Serve a bundled reference service (what the suites' containers run).
    #[command(hide = true)]
    Reference {
        /// The service's name.
        service: String,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImagesAction {
    /// Build every image that is missing or stale (all of them with --force).
    #[command(
        after_help = "Example:\n  shakedown images build --force\n\nThe whole build output goes to shakedown-image-builds.log in the temp folder."
    )]
    Build {
        /// Rebuild even current images.
        #[arg(long)]
        force: bool,
    },
    /// Show whether each image is present and current.
    #[command(after_help = "Example:\n  shakedown images status")]
    Status,
    /// Print the reference (`repository:tag`, the tag holding the recipe hash) of every image,
    /// one a line; needs no engine. A CI cache key, and what to `docker save`.
    #[command(after_help = "Example:\n  docker save -o images.tar $(shakedown images list)")]
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum VariantArg {
    Naive,
    Hardened,
    All,
}
