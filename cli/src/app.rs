use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Parses the command line, runs, and returns the exit code: 0 on success, 1 when a suite
/// did not get its expected verdict, 2 on bad input or an environment problem.
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
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = rt.block_on(super::commands::dispatch(cli.command));
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}

#[derive(Debug, Parser)]
#[command(
    name = "shakedown",
    version,
    about = "Chaos tests against real systems in containers: inject the failures that break distributed systems and check what the system did."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run suites against the reference systems and write a report.
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
    },
    /// List the suites.
    List,
    /// Build or inspect the images the suites need.
    Images {
        #[command(subcommand)]
        action: ImagesAction,
    },
    /// Remove containers and networks left behind by killed runs.
    Clean {
        /// Remove every shakedown container and network, even those of runs still going.
        #[arg(long)]
        all: bool,
        /// Also remove shakedown images built from recipes other than this binary's.
        #[arg(long)]
        images: bool,
    },
    /// Run the Toxiproxy-compatible fault proxy (a drop-in for `toxiproxy-server`).
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
    Build {
        /// Rebuild even current images.
        #[arg(long)]
        force: bool,
    },
    /// Show whether each image is present and current.
    Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum VariantArg {
    Naive,
    Hardened,
    All,
}
