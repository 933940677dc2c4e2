//! Real image builds: a recipe's change rebuilds that recipe's image and nothing else; current
//! images are not rebuilt.

use std::process::Command;

use crate::support::Images;

use shakedown::image::{ensure, ensure_logged, BuildPolicy, ImageRecipe, RUNTIME};

const DOCKERFILE: &str = "ARG BASE=debian:bookworm-slim\nFROM ${BASE}\nCOPY marker /marker\n";

/// A one-file recipe whose marker (so hash and tag) is unique to this process and `version`.
fn recipe(tag: &'static str, version: u32) -> ImageRecipe {
    let marker = format!("{} {version}\n", std::process::id());
    ImageRecipe {
        role: "rebuild-test",
        repository: "shakedown/rebuild-test",
        tag,
        debian: "bookworm",
        dockerfile: DOCKERFILE,
        files: Box::leak(vec![("marker", &*Box::leak(marker.into_boxed_str()))].into_boxed_slice()),
        build_args: &[],
    }
}

/// Which of `recipes` the build log says were built.
fn built(log: &std::path::Path, recipes: &[&ImageRecipe]) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    recipes
        .iter()
        .map(|r| r.reference())
        .filter(|reference| text.contains(&format!("=== {reference}:")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipe_change_rebuilds_that_image_only() -> anyhow::Result<()> {
    // The runtime image stands in for the Debian base: present, and no bootstrap needed.
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    // nextest runs each test in a process of its own: this variable is this test's alone.
    std::env::set_var("SHAKEDOWN_BASE_IMAGE_BOOKWORM", RUNTIME.reference());
    let (a, b, b2) = (recipe("a", 1), recipe("b", 1), recipe("b", 2));
    let _cleanup = Images(vec![a.reference(), b.reference(), b2.reference()]);
    assert_ne!(
        b.reference(),
        b2.reference(),
        "a changed file changes the tag"
    );
    let log = std::env::temp_dir().join(format!("shakedown-rebuild-{}.log", std::process::id()));

    ensure_logged(&[a, b], BuildPolicy::IfNeeded, &log).await?;
    assert_eq!(built(&log, &[&a, &b]), [a.reference(), b.reference()]);

    // b's recipe changes: b is built anew under its new tag, a is left as it is.
    ensure_logged(&[a, b2], BuildPolicy::IfNeeded, &log).await?;
    assert_eq!(built(&log, &[&a, &b2]), [b2.reference()]);
    let marker = Command::new("docker")
        .args(["run", "--rm", &b2.reference(), "cat", "/marker"])
        .output()?;
    assert_eq!(
        String::from_utf8_lossy(&marker.stdout),
        format!("{} 2\n", std::process::id())
    );

    // Nothing changed: nothing is built, and the log is not even opened.
    std::fs::remove_file(&log)?;
    ensure_logged(&[a, b2], BuildPolicy::IfNeeded, &log).await?;
    assert!(
        !log.exists(),
        "a build ran although every image was current"
    );
    Ok(())
}
