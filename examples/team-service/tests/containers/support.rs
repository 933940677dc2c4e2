//! Starting the team's service the way every test here does.

use shakedown::Node;
use shakedown_fixtures::{start_service, Database, PgCluster, ServiceSpec};

/// The service binary cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_team-service");

/// The port the service listens on inside its container.
pub const PORT: u16 = 8080;

/// A PostgreSQL primary with one streaming replica, holding the service's schema.
pub async fn cluster() -> shakedown_fixtures::Result<PgCluster> {
    PgCluster::builder()
        .replicas(1)
        .template_sql(team_service::SCHEMA)
        .start()
        .await
}

/// How a test configures the service (its environment).
#[derive(Debug, Clone)]
pub struct Config {
    /// The node's name (unique in the topology).
    pub name: &'static str,
    /// `DATABASE_URL`, for the service's container.
    pub primary: String,
    /// `REPLICA_URL`.
    pub replica: Option<String>,
    /// `READ_YOUR_WRITES=1`: the fix.
    pub read_your_writes: bool,
    /// Its own wall clock, to move.
    pub fake_clock: bool,
}

impl Config {
    /// The service on `db`: writes to the primary, reads from the first replica.
    pub fn on(name: &'static str, db: &Database) -> Config {
        Config {
            name,
            primary: db.internal_primary_url.clone(),
            replica: db.internal_replica_urls.first().cloned(),
            read_your_writes: false,
            fake_clock: false,
        }
    }
}

/// Starts the service on `cluster`'s topology and waits until it listens.
pub async fn start(cluster: &PgCluster, config: Config) -> shakedown_fixtures::Result<Node> {
    let mut spec = ServiceSpec::new(config.name, BINARY)
        .env("DATABASE_URL", config.primary)
        .env("LISTEN", format!("0.0.0.0:{PORT}"))
        .port(PORT)
        .ready_line("team-service listening");
    if let Some(r) = config.replica {
        spec = spec.env("REPLICA_URL", r);
    }
    if config.read_your_writes {
        spec = spec.env("READ_YOUR_WRITES", "1");
    }
    if config.fake_clock {
        spec = spec.fake_clock();
    }
    start_service(cluster.topology(), spec).await
}

/// `http://<host>:<port>` of the service, for the test process (a remote engine too).
pub async fn url(node: &Node) -> shakedown::Result<String> {
    Ok(format!("http://{}", node.host_addr(PORT).await?))
}
