# Local recipes. Install just with `cargo install just --locked` (or `apt-get install just`).

shakedown := "cargo run --quiet --release -p shakedown-cli --bin shakedown --"

# List the recipes.
default:
    @just --list

# The main job: every suite, both variants, report in ./shakedown-report (runs at once: one per
# core, at least two; `just chaos --jobs 1` runs them one after another).
chaos *ARGS:
    {{shakedown}} run {{ARGS}}

# Re-render the pages and JUnit file of a run's output folder from its JSON.
report DIR="shakedown-report":
    {{shakedown}} report {{DIR}}

# The browser test of the report pages (needs Debian's chromium); keeps the index screenshot in docs/.
screenshots:
    SHAKEDOWN_SCREENSHOTS=docs cargo nextest run -p shakedown --test browser

# The tests (containers included); images are built on demand.
test *ARGS:
    cargo nextest run --workspace {{ARGS}}

# Build the images the suites need (base bootstrapped offline if it cannot be pulled).
images:
    {{shakedown}} images build

# Show whether each image is present and current.
images-status:
    {{shakedown}} images status

# Remove containers and networks left behind by killed runs (`just clean --all`: every one).
clean *ARGS:
    {{shakedown}} clean {{ARGS}}

# Print every benchmark's figures (each against its baseline, measured in the same run).
bench: bench-pg bench-broker bench-proxy bench-clock bench-images

# PostgreSQL: cluster start against a plain container, fresh databases.
bench-pg:
    cargo bench -p shakedown-fixtures --bench pg

# RabbitMQ: broker start against a plain container, messages/s through the fixture and lapin.
bench-broker:
    cargo bench -p shakedown-fixtures --bench broker

# Images from nothing against `docker build` (removes the images and bases first, leaves them current).
bench-images:
    cargo bench -p shakedown-fixtures --bench images

# The fault proxy: throughput and added round trip against plain relays.
bench-proxy:
    cargo bench -p shakedown-proxy --bench proxy

# Formatting, lints and doc tests, as CI runs them.
check:
    cargo fmt --all -- --check
    rustfmt --edition 2021 --check suites/src/*/*.rs
    cargo clippy --workspace --all-targets -- -D warnings
    cargo test --workspace --doc

# Package every crate as crates.io would receive it (what CI checks).
package:
    cargo package --workspace --no-verify --allow-dirty

# Print the per-node clock figures (error after a change, time until a change is seen).
bench-clock:
    cargo bench -p shakedown-suites --bench clock
