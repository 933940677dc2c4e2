//! The inconsistent-reads suite against real replicas behind a real HAProxy: it must catch the
//! naive reference service and pass the hardened one, with byte-stable reports, and catch three
//! more plausible bugs, written here as in-process implementations of the suite's client trait
//! (one cluster and balancer serve all three, a fresh database each).

use std::sync::Arc;
use std::time::Duration;

use shakedown::checker::{read_staleness, RegisterOp, RegisterValue};
use shakedown::history::OpKind;
use shakedown::{SuiteRun, Variant};
use shakedown_fixtures::{HaProxy, Lsn, PgCluster};
use shakedown_suites::inconsistent_reads::{
    reference, run_against, ClientError, Options, PageSession, Profile, ProfilePages,
};
use shakedown_suites::replica_lag::SCHEMA;
use tokio_postgres::{Client, NoTls};

use crate::support::{assert_caught, assert_handled, launcher, options};

const SEED: u64 = 11;

async fn run(variant: Variant) -> anyhow::Result<SuiteRun<RegisterOp, RegisterValue>> {
    let o = Options {
        run: options(SEED, variant),
        ..Options::default()
    };
    Ok(reference(&o, &launcher()).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_pages_go_back_and_forth_and_lose_the_users_update() -> anyhow::Result<()> {
    let run = run(Variant::Naive).await?;
    assert_caught(
        &run.report,
        &["stale_read_after_own_write", "non_monotonic_read"],
    );
    // Staleness in time, against a stated bound: in the lag phase every stale read came less
    // than the lag after the write it missed (reloads follow the save within a second), and
    // each one was behind by more than nothing.
    let lag_phase_end = run.timeline.windows()[1].start;
    let stale: Vec<_> = read_staleness(&run.history)
        .into_iter()
        .filter(|s| s.is_stale())
        .collect();
    assert!(!stale.is_empty());
    for s in &stale {
        let at = run.history.ops()[s.index as usize].time;
        if at < lag_phase_end {
            assert!(s.behind < Options::default().lag, "{s:?}");
        }
        assert!(s.behind > Duration::ZERO, "{s:?}");
    }
    insta::assert_yaml_snapshot!("inconsistent_reads_naive", run.report);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hardened_pages_read_monotonically_and_see_own_writes() -> anyhow::Result<()> {
    let run = run(Variant::Hardened).await?;
    assert_handled(&run.report);
    // Both paths were taken: replicas that had reached the floor, the primary when none had.
    let served = |node: &str| {
        run.history
            .ops()
            .iter()
            .filter(|o| o.f == RegisterOp::Read && o.kind == OpKind::Ok)
            .filter(|o| o.node.as_deref() == Some(node))
            .count()
    };
    assert!(
        served("replica") > 0 && served("primary") > 0,
        "{:?}",
        run.history
    );
    insta::assert_yaml_snapshot!("inconsistent_reads_hardened", run.report);
    Ok(())
}

/// One plausible bug in an otherwise hardened LSN-floor implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bug {
    /// LSNs compared (and maxed) as text: `'0/FFFFF00' >= '0/10000100'`.
    LsnAsText,
    /// The floor checked on one connection through the balancer, the read served on another
    /// (which the balancer gives to the other replica).
    FloorCheckedElsewhere,
    /// The floor kept with the connection, so a reconnecting session starts from none.
    FloorForgottenOnReconnect,
}

/// The buggy service, in the test process: writes to the primary, reads through the balancer.
struct Buggy {
    bug: Bug,
    primary: Arc<Client>,
    balancer: String,
}

struct BuggySession {
    bug: Bug,
    primary: Arc<Client>,
    balancer: String,
    /// As text, so that [`Bug::LsnAsText`] can keep it the way it compares it.
    floor: Option<String>,
}

async fn connect(url: &str) -> Result<Client, ClientError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| ClientError::Failed(format!("connect: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

fn failed(e: tokio_postgres::Error) -> ClientError {
    ClientError::Failed(e.to_string())
}

impl ProfilePages for Buggy {
    type Session = BuggySession;
    async fn session(&self) -> Result<BuggySession, ClientError> {
        Ok(BuggySession {
            bug: self.bug,
            primary: self.primary.clone(),
            balancer: self.balancer.clone(),
            floor: None,
        })
    }
}

impl BuggySession {
    fn raise(&mut self, seen: String) {
        let higher = match (&self.floor, self.bug) {
            (None, _) => true,
            (Some(f), Bug::LsnAsText) => seen > *f,
            (Some(f), _) => seen.parse::<Lsn>().ok() > f.parse::<Lsn>().ok(),
        };
        if higher {
            self.floor = Some(seen);
        }
    }

    async fn reaches(&self, replica: &Client, floor: &str) -> Result<bool, ClientError> {
        let sql = if self.bug == Bug::LsnAsText {
            "SELECT coalesce(pg_last_wal_replay_lsn()::text >= $1, false)"
        } else {
            "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)"
        };
        for _ in 0..10 {
            let row = replica.query_one(sql, &[&floor]).await.map_err(failed)?;
            if row.get::<_, bool>(0) {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(false)
    }
}

async fn read(db: &Client, id: &str, position: &str) -> Result<(Option<u64>, String), ClientError> {
    let row = db
        .query_one(
            &format!(
                "SELECT p.version, {position}::text FROM (SELECT 1) one LEFT JOIN profiles p ON p.id = $1"
            ),
            &[&id],
        )
        .await
        .map_err(failed)?;
    Ok((
        row.get::<_, Option<i64>>(0).map(|v| v.max(0) as u64),
        row.get::<_, Option<String>>(1)
            .unwrap_or_else(|| "0/0".into()),
    ))
}

impl PageSession for BuggySession {
    async fn save(&mut self, p: &Profile) -> Result<(), ClientError> {
        self.primary
            .execute(
                "INSERT INTO profiles (id, name, email, bio, version) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET name = $2, email = $3, bio = $4, version = $5",
                &[&p.id, &p.name, &p.email, &p.bio, &(p.version as i64)],
            )
            .await
            .map_err(|e| ClientError::Unknown(e.to_string()))?;
        let (_, written) = read(&self.primary, &p.id, "pg_current_wal_insert_lsn()").await?;
        self.raise(written);
        Ok(())
    }

    async fn load(&mut self, id: &str) -> Result<(Option<Profile>, Option<String>), ClientError> {
        // The bug checks first on a connection of its own, then reads on the next one.
        let checked = match (&self.floor, self.bug) {
            (Some(floor), Bug::FloorCheckedElsewhere) => {
                let elsewhere = connect(&self.balancer).await?;
                Some(self.reaches(&elsewhere, floor).await?)
            }
            _ => None,
        };
        let replica = connect(&self.balancer).await?;
        let on_replica = match (checked, self.floor.clone()) {
            (Some(caught_up), _) => caught_up,
            (None, None) => true,
            (None, Some(floor)) => self.reaches(&replica, &floor).await?,
        };
        let (version, seen, node) = if on_replica {
            let (v, seen) = read(&replica, id, "pg_last_wal_replay_lsn()").await?;
            (v, seen, "replica")
        } else {
            let (v, seen) = read(&self.primary, id, "pg_current_wal_insert_lsn()").await?;
            (v, seen, "primary")
        };
        self.raise(seen);
        let profile = version.map(|version| Profile {
            id: id.into(),
            name: String::new(),
            email: String::new(),
            bio: String::new(),
            version,
        });
        Ok((profile, Some(node.into())))
    }

    async fn reconnect(&mut self) -> Result<(), ClientError> {
        if self.bug == Bug::FloorForgottenOnReconnect {
            self.floor = None;
        }
        Ok(())
    }
}

/// Where the text of an LSN grows a digit: `0/FFFFFFF` < `0/10000000`.
const DIGIT_BOUNDARY: u64 = 0x1000_0000;

/// Brings the primary's WAL insert position to between 48 and 64 KiB under
/// [`DIGIT_BOUNDARY`] (switching segments, then padding with non-transactional WAL messages),
/// and waits until the replicas have it.
async fn wal_under_the_boundary(pg: &PgCluster) -> anyhow::Result<()> {
    const LEFT: std::ops::RangeInclusive<u64> = (48 << 10)..=(64 << 10);
    let admin = pg.primary().connect("postgres").await?;
    loop {
        let at = pg.primary_lsn().await?.0;
        anyhow::ensure!(at < DIGIT_BOUNDARY - LEFT.start(), "WAL already at {at:#x}");
        let left = DIGIT_BOUNDARY - at;
        if left <= *LEFT.end() {
            break;
        }
        if left > 16 << 20 {
            admin
                .batch_execute(
                    "SELECT pg_logical_emit_message(false, 'shakedown', 'x'); SELECT pg_switch_wal()",
                )
                .await?;
        } else {
            // A message costs a little more than its text (record and page headers): aim short.
            let pad = ((left - (56 << 10)) as f64 * 0.99) as i64;
            pad_wal(&admin, pad).await?;
        }
    }
    pg.wait_until_caught_up(Duration::from_secs(30)).await?;
    Ok(())
}

async fn pad_wal(admin: &Client, bytes: i64) -> anyhow::Result<()> {
    admin
        .execute(
            "SELECT pg_logical_emit_message(false, 'shakedown', repeat('x', $1::int))",
            &[&(bytes.max(1) as i32)],
        )
        .await?;
    Ok(())
}

/// Other traffic on the primary: once replica `paused` has paused its replay (the second phase),
/// enough WAL to carry the primary across [`DIGIT_BOUNDARY`] while the paused replica stays
/// under it.
async fn cross_the_boundary_when_paused(pg: &PgCluster, paused: usize) -> anyhow::Result<()> {
    let admin = pg.primary().connect("postgres").await?;
    let replica = pg.replica(paused);
    loop {
        let state = replica
            .query_text("postgres", "SELECT pg_get_wal_replay_pause_state()")
            .await?;
        if state.as_deref() != Some("not paused") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = DIGIT_BOUNDARY.saturating_sub(pg.primary_lsn().await?.0);
    pad_wal(&admin, left as i64 + 1_000).await?;
    anyhow::ensure!(pg.primary_lsn().await?.0 > DIGIT_BOUNDARY, "not crossed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsn_floor_bugs_are_each_caught() -> anyhow::Result<()> {
    let pg = PgCluster::builder()
        .replicas(2)
        .template_sql(SCHEMA)
        // Segments switched past are created sparse: the WAL advance costs no disk writes.
        .setting("wal_init_zero", "off")
        .start()
        .await?;
    let lb = HaProxy::for_replicas(&pg).start(pg.topology()).await?;
    let mut caught = Vec::new();
    for bug in [
        Bug::LsnAsText,
        Bug::FloorCheckedElsewhere,
        Bug::FloorForgottenOnReconnect,
    ] {
        let db = pg.fresh_database().await?;
        if bug == Bug::LsnAsText {
            wal_under_the_boundary(&pg).await?;
        }
        let service = Buggy {
            bug,
            primary: Arc::new(pg.primary().connect(&db.name).await?),
            balancer: lb.postgres_url(&db.name).await?,
        };
        let o = Options {
            run: options(SEED, Variant::Custom),
            ..Options::default()
        };
        let run = if bug == Bug::LsnAsText {
            let (run, crossed) = tokio::join!(
                run_against(&service, &pg, &o),
                cross_the_boundary_when_paused(&pg, o.near_replica)
            );
            crossed?;
            run?
        } else {
            run_against(&service, &pg, &o).await?
        };
        let classes: &[&str] = match bug {
            // The paused replica, under the boundary, passes the text check: the update is gone.
            Bug::LsnAsText => &["stale_read_after_own_write"],
            // The near replica passes the check, the lagging one serves the read.
            Bug::FloorCheckedElsewhere => &["stale_read_after_own_write"],
            // After a reconnect any replica serves: back to an older version than seen.
            Bug::FloorForgottenOnReconnect => &["stale_read_after_own_write", "non_monotonic_read"],
        };
        assert_caught(&run.report, classes);
        caught.push((
            format!("{bug:?}"),
            run.report.anomaly("stale_read_after_own_write")?,
            run.report.anomaly("non_monotonic_read")?,
        ));
    }
    eprintln!("caught (variant, stale own, non-monotonic): {caught:?}");
    lb.shutdown().await?;
    pg.shutdown().await?;
    Ok(())
}
