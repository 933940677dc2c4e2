//! Unit tests of the image recipes, bases and build log.

use super::*;

#[tokio::test]
async fn build_output_goes_to_the_log_and_a_failure_returns_its_last_lines() {
    let log = std::env::temp_dir().join(format!("shakedown-build-log-{}.log", std::process::id()));
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "echo 'Step 1/2 : RUN apt-get install -y tzdata'; echo 'Unpacking tzdata ...'; echo 'E: broken' >&2; exit 3",
    ]);
    let e = log_output(cmd, "shakedown/test:1", &log).await.unwrap_err();
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    for line in ["Step 1/2 : RUN apt-get", "Unpacking tzdata", "E: broken"] {
        assert!(text.contains(line), "{line} not in the log:\n{text}");
    }
    assert!(
        e.contains("exit status: 3") && e.contains("E: broken"),
        "{e}"
    );
    assert!(is_step("Step 1/2 : RUN apt-get install -y tzdata"));
    assert!(
        !is_step("Unpacking tzdata ..."),
        "apt's own lines are not steps"
    );
}

#[test]
fn recipe_hash_changes_with_any_file() {
    let a = ImageRecipe {
        role: "t",
        repository: "x/t",
        tag: "1",
        debian: "bookworm",
        dockerfile: "FROM a",
        files: &[("f", "1")],
        build_args: &[],
    };
    let b = ImageRecipe {
        files: &[("f", "2")],
        ..a
    };
    let c = ImageRecipe {
        dockerfile: "FROM b",
        ..a
    };
    assert_eq!(a.recipe_hash(), a.recipe_hash());
    assert_ne!(a.recipe_hash(), b.recipe_hash());
    assert_ne!(a.recipe_hash(), c.recipe_hash());
    assert_eq!(a.reference(), format!("x/t:1-{}", &a.recipe_hash()[..12]));
    assert_ne!(a.reference(), b.reference());
}

#[test]
fn recipes_name_the_debian_release_their_dockerfile_defaults_to() {
    assert_eq!(RUNTIME.check(), Ok(()));
    let wrong = ImageRecipe {
        debian: "bookworm",
        ..RUNTIME
    };
    let err = wrong.check().unwrap_err();
    assert!(err.contains("ARG BASE=debian:bookworm-slim"), "{err}");
    let not_from_base = ImageRecipe {
        dockerfile: "ARG BASE=debian:trixie-slim\nFROM debian:trixie-slim\n",
        ..RUNTIME
    };
    assert!(not_from_base.check().unwrap_err().contains("FROM ${BASE}"));
}

#[test]
fn build_arguments_make_another_image_of_the_same_dockerfile() {
    const DOCKERFILE: &str = "ARG BASE=debian:trixie-slim\nFROM ${BASE}\nARG PG_MAJOR=17\n";
    let default = ImageRecipe {
        role: "postgres",
        repository: "x/pg",
        tag: "17",
        debian: "trixie",
        dockerfile: DOCKERFILE,
        files: &[],
        build_args: &[],
    };
    let old = ImageRecipe {
        tag: "15",
        debian: "bookworm",
        build_args: &[("PG_MAJOR", "15")],
        ..default
    };
    assert_eq!(default.check(), Ok(()));
    assert_eq!(
        old.check(),
        Ok(()),
        "a variant may build on another release"
    );
    assert_ne!(default.recipe_hash(), old.recipe_hash());
    let other_release = ImageRecipe {
        debian: "trixie",
        ..old
    };
    assert_ne!(old.recipe_hash(), other_release.recipe_hash());
    let undeclared = ImageRecipe {
        build_args: &[("PG_VERSION", "15")],
        ..old
    };
    assert!(undeclared.check().unwrap_err().contains("`PG_VERSION`"));
    let base = ImageRecipe {
        build_args: &[("BASE", "x")],
        ..old
    };
    assert!(base.check().is_err());
    let wrong_default = ImageRecipe {
        debian: "bookworm",
        ..default
    };
    assert!(
        wrong_default.check().is_err(),
        "without build arguments the default must name the release"
    );
}

#[test]
fn each_release_has_its_own_base_names() {
    assert_eq!(official_base("bookworm"), OFFICIAL_BASE);
    assert!(bootstrap_base("bookworm").starts_with("shakedown/debian-base:bookworm-"));
    assert!(bootstrap_base("trixie").starts_with("shakedown/debian-base:trixie-"));
    assert_ne!(bootstrap_hash("bookworm"), bootstrap_hash("trixie"));
    assert_eq!(
        base_variables("bookworm"),
        ["SHAKEDOWN_BASE_IMAGE_BOOKWORM", "SHAKEDOWN_BASE_IMAGE"]
    );
    assert_eq!(base_variables("trixie"), ["SHAKEDOWN_BASE_IMAGE_TRIXIE"]);
}

#[test]
fn image_references_split_at_the_tag() {
    assert_eq!(
        split_reference("shakedown/postgres:15"),
        ("shakedown/postgres".into(), "15".into())
    );
    assert_eq!(
        split_reference("reg:5000/a/b:1.2"),
        ("reg:5000/a/b".into(), "1.2".into())
    );
    assert_eq!(
        split_reference("reg:5000/a/b"),
        ("reg:5000/a/b".into(), "latest".into())
    );
}
