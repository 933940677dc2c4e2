//! The one-container build against `docker build`: the same recipe gives the same configuration
//! and files either way (and a process a `RUN` leaves running ends with it, as there); a failing `RUN` leaves no container and no image; a killed build's
//! container is removed by the next build.

use std::process::Command;

use crate::support::Images;

use shakedown::image::{
    build, build_container_prefix, ensure, BuildPolicy, ImageRecipe, BUILDER_VARIABLE, RUNTIME,
};

/// Every instruction the one-container build knows, each one observable in the image.
const DOCKERFILE: &str = r#"ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG GREETING=hello
ARG WHO
ENV APP_HOME=/opt/app \
    GREETING_SEEN=${GREETING} \
    PATH=/opt/app/bin:${PATH}
RUN mkdir -p "$APP_HOME/bin" "$APP_HOME/data" && echo "$GREETING $WHO" > /greeting \
 && useradd --system --home-dir /opt/app app && chown app /opt/app/data
COPY app.conf ${APP_HOME}/app.conf
COPY app.conf extra.txt /etc/app/
RUN sleep 300 &
RUN n=0; for p in /proc/[0-9]*; do \
      [ "$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" = "sleep 300 " ] && n=$((n + 1)); \
    done; echo "left running: $n" > /background
USER app
WORKDIR /opt/app
WORKDIR data
RUN whoami > ran-as && pwd >> ran-as
LABEL org.example.kind="builder test" org.example.greeting=${GREETING}
EXPOSE 8080 9090/udp
STOPSIGNAL SIGINT
CMD ["sh", "-c", "cat /greeting"]
"#;

fn recipe() -> ImageRecipe {
    let marker = Box::leak(format!("pid {}\n", std::process::id()).into_boxed_str());
    ImageRecipe {
        role: "builder-test",
        repository: "shakedown/builder-test",
        tag: "1",
        debian: "bookworm",
        dockerfile: DOCKERFILE,
        files: Box::leak(
            vec![("app.conf", "key = value\n"), ("extra.txt", &*marker)].into_boxed_slice(),
        ),
        build_args: &[("WHO", "world")],
    }
}

/// The parts of an image's configuration a recipe sets, as JSON.
fn config(image: &str) -> serde_json::Value {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{json .Config}}", image])
        .output()
        .expect("docker image inspect");
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    let keys = [
        "User",
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "ExposedPorts",
        "StopSignal",
        "Labels",
    ];
    // `docker build` writes "" where the commit leaves a field out: the same to the engine.
    keys.iter()
        .map(|k| {
            let v = match &c[*k] {
                serde_json::Value::String(s) if s.is_empty() => serde_json::Value::Null,
                v => v.clone(),
            };
            (k.to_string(), v)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// What the image's files say: the copied files (owner, mode, content), what the RUNs wrote.
fn files(image: &str) -> String {
    let script = "cd / && for f in /opt/app/app.conf /etc/app/app.conf /etc/app/extra.txt; do \
        echo \"$f $(stat -c '%U %a' $f) $(cat $f)\"; done; cat /greeting; \
        cat /opt/app/data/ran-as; stat -c '%U' /opt/app/data/ran-as; cat /background";
    let out = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "sh", image, "-c", script])
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_container_build_gives_what_docker_build_gives() -> anyhow::Result<()> {
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    let base = RUNTIME.reference();
    let r = recipe();
    let reference = r.reference();
    let _cleanup = Images(vec![reference.clone()]);
    let log = std::env::temp_dir().join(format!("shakedown-builder-{}.log", std::process::id()));

    // nextest runs each test in a process of its own: the variable is this test's alone.
    std::env::remove_var(BUILDER_VARIABLE);
    build(&r, &base, &log).await?;
    let text = std::fs::read_to_string(&log)?;
    assert!(
        text.contains(&format!("=== {reference}: one container on {base}")),
        "not built in one container:\n{text}"
    );
    let (ours, our_files) = (config(&reference), files(&reference));
    let layers = |image: &str| {
        let out = Command::new("docker")
            .args([
                "image",
                "inspect",
                "--format",
                "{{len .RootFS.Layers}}",
                image,
            ])
            .output()
            .expect("inspect layers");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<usize>()
            .unwrap_or(0)
    };
    assert_eq!(
        layers(&reference),
        layers(&base) + 1,
        "one layer on the base"
    );

    Command::new("docker")
        .args(["rmi", "--force", &reference])
        .output()?;
    std::env::set_var(BUILDER_VARIABLE, "docker-build");
    build(&r, &base, &log).await?;
    std::env::remove_var(BUILDER_VARIABLE);
    let (theirs, their_files) = (config(&reference), files(&reference));

    assert_eq!(ours, theirs, "configuration differs from docker build's");
    assert_eq!(our_files, their_files, "files differ from docker build's");
    // And both are what the recipe says.
    let pid = std::process::id();
    assert_eq!(
        our_files,
        format!(
            "/opt/app/app.conf root 644 key = value\n/etc/app/app.conf root 644 key = value\n\
             /etc/app/extra.txt root 644 pid {pid}\nhello world\napp\n/opt/app/data\napp\nleft running: 0\n"
        )
    );
    assert_eq!(ours["User"], "app");
    assert_eq!(ours["WorkingDir"], "/opt/app/data");
    assert_eq!(ours["StopSignal"], "SIGINT");
    assert_eq!(ours["Labels"]["org.example.kind"], "builder test");
    assert_eq!(ours["Labels"]["org.example.greeting"], "hello");
    assert_eq!(
        ours["Labels"]["dev.shakedown.recipe"],
        serde_json::Value::String(r.recipe_hash())
    );
    assert!(ours["ExposedPorts"].get("9090/udp").is_some(), "{ours}");
    let env = ours["Env"].to_string();
    assert!(
        env.contains("GREETING_SEEN=hello") && env.contains("PATH=/opt/app/bin:/usr/local/sbin"),
        "{env}"
    );
    let _ = std::fs::remove_file(&log);
    Ok(())
}

fn build_containers() -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .args(["--filter", &format!("name={}", build_container_prefix())])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_run_leaves_no_container_and_no_image_and_says_what_failed() -> anyhow::Result<()>
{
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    let dockerfile: &'static str = Box::leak(
        format!(
            "ARG BASE=debian:bookworm-slim\nFROM ${{BASE}}\nRUN echo preparing {}\nRUN echo about to fail && exit 7\nCMD [\"true\"]\n",
            std::process::id()
        )
        .into_boxed_str(),
    );
    let r = ImageRecipe {
        role: "builder-fail-test",
        repository: "shakedown/builder-fail-test",
        tag: "1",
        debian: "bookworm",
        dockerfile,
        files: &[],
        build_args: &[],
    };
    let _cleanup = Images(vec![r.reference()]);
    let log =
        std::env::temp_dir().join(format!("shakedown-builder-fail-{}.log", std::process::id()));
    std::env::remove_var(BUILDER_VARIABLE);
    let err = build(&r, &RUNTIME.reference(), &log)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("RUN echo about to fail && exit 7"), "{err}");
    assert!(
        err.contains("exit code 7") && err.contains("about to fail"),
        "{err}"
    );
    assert!(err.contains(&log.display().to_string()), "{err}");
    assert_eq!(
        build_containers(),
        Vec::<String>::new(),
        "build container left behind"
    );
    let present = Command::new("docker")
        .args(["image", "inspect", &r.reference()])
        .output()?;
    assert!(!present.status.success(), "a failed build tagged an image");
    let _ = std::fs::remove_file(&log);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_builds_container_is_removed_by_the_next_build() -> anyhow::Result<()> {
    ensure(&[RUNTIME], BuildPolicy::from_env()).await?;
    // What a build killed mid-way leaves: a container named after a process that is gone.
    let leftover = format!("{}999999999-1-shakedown-killed", build_container_prefix());
    let created = Command::new("docker")
        .args([
            "create",
            "--name",
            &leftover,
            &RUNTIME.reference(),
            "sleep",
            "infinity",
        ])
        .output()?;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert_eq!(build_containers(), std::slice::from_ref(&leftover));

    // Any build takes the lock and removes it first.
    std::env::set_var("SHAKEDOWN_BASE_IMAGE_BOOKWORM", RUNTIME.reference());
    let r = ImageRecipe {
        role: "builder-sweep-test",
        repository: "shakedown/builder-sweep-test",
        tag: "1",
        debian: "bookworm",
        dockerfile: Box::leak(
            format!(
                "ARG BASE=debian:bookworm-slim\nFROM ${{BASE}}\nLABEL pid={}\nCMD [\"true\"]\n",
                std::process::id()
            )
            .into_boxed_str(),
        ),
        files: &[],
        build_args: &[],
    };
    let _cleanup = Images(vec![r.reference()]);
    let result = ensure(&[r], BuildPolicy::IfNeeded).await;
    let remaining = build_containers();
    let _ = Command::new("docker")
        .args(["rm", "-f", &leftover])
        .output();
    result?;
    assert_eq!(
        remaining,
        Vec::<String>::new(),
        "the leftover is still there"
    );
    Ok(())
}
