//! The service on its own: it saves and loads users, and stamps them with its own clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

use crate::support::{cluster, start, url, Config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_user_is_served_back_from_the_primary_by_a_session_that_wrote() -> anyhow::Result<()>
{
    let pg = cluster().await?;
    let db = pg.fresh_database().await?;
    let users = start(
        &pg,
        Config {
            read_your_writes: true,
            ..Config::on("users", &db)
        },
    )
    .await?;
    let base = url(&users).await?;
    let http = reqwest::Client::builder().cookie_store(true).build()?;
    let body = json!({"name": "Ada", "email": "ada@example.com", "bio": "", "version": 1});
    let put = http
        .put(format!("{base}/users/ada"))
        .json(&body)
        .send()
        .await?;
    assert_eq!(put.status(), 204);
    let got = http.get(format!("{base}/users/ada")).send().await?;
    assert_eq!(got.headers()["x-served-by"], "primary");
    let user: serde_json::Value = got.json().await?;
    assert_eq!(
        (user["name"].as_str(), user["version"].as_i64()),
        (Some("Ada"), Some(1))
    );
    // A session that never wrote reads the replica; a missing user is a 404 there.
    let other = reqwest::get(format!("{base}/users/nobody")).await?;
    assert_eq!(other.status(), 404);
    assert_eq!(other.headers()["x-served-by"], "replica");
    pg.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updated_at_comes_from_the_service_clock_moved_three_hours_ahead() -> anyhow::Result<()> {
    let pg = cluster().await?;
    let db = pg.fresh_database().await?;
    let users = start(
        &pg,
        Config {
            fake_clock: true,
            ..Config::on("users", &db)
        },
    )
    .await?;
    let ahead = Duration::from_secs(3 * 3600);
    users.clock().skew(ahead).await?;
    let base = url(&users).await?;
    let now_ms = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let before = now_ms();
    let body = json!({"name": "Bo", "email": "bo@example.com", "bio": "", "version": 1});
    let put = reqwest::Client::new()
        .put(format!("{base}/users/bo"))
        .json(&body)
        .send()
        .await?;
    assert_eq!(put.status(), 204);
    let after = now_ms();
    let stamped = pg
        .primary()
        .query_text(
            &db.name,
            "SELECT updated_at_ms::text FROM users WHERE id = 'bo'",
        )
        .await?
        .expect("the row")
        .parse::<i64>()?;
    // The service's clock is 3 h ahead of ours: its stamp lies in [before, after] + 3 h, give or
    // take a minute for an engine on another machine whose clock is not quite ours.
    let (ahead_ms, slack) = (ahead.as_millis() as i64, 60_000);
    assert!(
        (before + ahead_ms - slack..=after + ahead_ms + slack).contains(&stamped),
        "stamped {stamped}, expected {before}..={after} + {ahead_ms} (± {slack})"
    );
    pg.shutdown().await?;
    Ok(())
}
