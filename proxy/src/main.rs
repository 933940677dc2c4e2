//! `shakedown-proxy`: the fault proxy as a standalone server, a drop-in for `toxiproxy-server`
//! (the same flags as `shakedown proxy`: `--host`, `--port`, `--config`, `--seed`).

use clap::Parser;

/// The Toxiproxy-compatible fault proxy (a drop-in for `toxiproxy-server`).
#[derive(Parser, Debug)]
#[command(name = "shakedown-proxy", version)]
struct Cli {
    #[command(flatten)]
    proxy: shakedown_proxy::ProxyArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match shakedown_proxy::run(cli.proxy).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
