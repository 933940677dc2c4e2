//! The reference systems' services, and where their binary is.
//!
//! Reference services are not baked into images: the `shakedown` binary itself is copied into a
//! runtime container and started as `shakedown reference <service> …`.

use std::path::PathBuf;

use shakedown::cli::ReferenceFuture;

/// Starts a bundled reference service by name (for `shakedown reference NAME ARGS…`).
pub fn serve(service: &str, args: Vec<String>) -> Option<ReferenceFuture> {
    match service {
        "profiles" => Some(Box::pin(crate::replica_lag::service::serve(args))),
        "clock" => Some(Box::pin(crate::clock_probe::serve(args))),
        "token-issuer" => Some(Box::pin(crate::clock_skew::service::serve_issuer(args))),
        "token-api" => Some(Box::pin(crate::clock_skew::service::serve_api(args))),
        "billing" => Some(Box::pin(crate::timezone::service::serve(args))),
        _ => None,
    }
}

/// The `shakedown` binary to copy into containers: `$SHAKEDOWN_BIN`, else this process if it is
/// `shakedown`, else a `shakedown` next to this executable or one directory up (where cargo puts
/// binaries next to `deps/` test executables).
pub fn shakedown_binary() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SHAKEDOWN_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "SHAKEDOWN_BIN names {}, which is not a file",
                p.display()
            ))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate this executable: {e}"))?;
    if exe.file_name().is_some_and(|n| n == "shakedown") {
        return Ok(exe);
    }
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let candidate = d.join("shakedown");
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(
        "cannot find the `shakedown` binary that runs the reference services: build it with \
         `cargo build -p shakedown-suites --bin shakedown`, or set SHAKEDOWN_BIN to its path"
            .into(),
    )
}
