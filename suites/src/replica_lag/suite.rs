use std::path::PathBuf;

use shakedown::image::{ImageRecipe, RUNTIME};
use shakedown::{RunOptions, Suite, SuiteError, SuiteFuture, SuiteRun, Variant};
use shakedown_fixtures::{start_service, PgCluster, ServiceSpec, POSTGRES_IMAGE};

use super::{check, HttpProfiles, Options, SCHEMA};

/// The read-replica-lag suite against the bundled reference profiles service.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Suite, Variant};
/// use shakedown_suites::replica_lag::ReplicaLagSuite;
///
/// let run = ReplicaLagSuite::default().run(Variant::Naive, &RunOptions::seeded(1)).await?;
/// assert!(run.report.anomaly("stale_read_after_own_write") > 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReplicaLagSuite {
    /// The `shakedown` binary to run the service with (default: [`crate::reference::shakedown_binary`]).
    pub binary: Option<PathBuf>,
    /// Workload options; the seed is taken from [`RunOptions`].
    pub options: Options,
}

impl ReplicaLagSuite {
    async fn run_variant(
        &self,
        variant: Variant,
        run: &RunOptions,
    ) -> Result<SuiteRun, SuiteError> {
        const NAME: &str = "replica_lag";
        let mode = crate::reference::variant_mode(NAME, variant)?;
        let binary = crate::reference::binary_for(NAME, &self.binary)?;
        run.progress(format!(
            "starting PostgreSQL (primary + {} replica)",
            self.options.replica + 1
        ));
        let pg = PgCluster::builder()
            .replicas(self.options.replica + 1)
            .template_sql(SCHEMA)
            .start()
            .await
            .map_err(|e| SuiteError::new(NAME, "start the PostgreSQL cluster", e))?;
        let db = pg
            .fresh_database()
            .await
            .map_err(|e| SuiteError::new(NAME, "create the database", e))?;
        run.progress(format!("starting the {mode} profiles service"));
        let service = start_service(
            pg.topology(),
            ServiceSpec::new("profiles", binary)
                .arg("reference")
                .arg("profiles")
                .arg(format!("--variant={mode}"))
                .arg(format!("--primary={}", db.internal_primary_url))
                .arg(format!(
                    "--replica={}",
                    db.internal_replica_urls[self.options.replica]
                ))
                .port(8080)
                .ready_line("listening on"),
        )
        .await
        .map_err(|e| SuiteError::new(NAME, "start the reference service", e))?;
        let addr = service
            .host_addr(8080)
            .await
            .map_err(|e| SuiteError::new(NAME, "find the service's port", e))?;
        let options = Options {
            seed: run.seed,
            ..self.options.clone()
        };
        run.progress("running the workload under replica lag, then under paused replay");
        let result = check(
            &HttpProfiles::new(format!("http://{addr}")),
            &pg,
            &options,
            variant,
        )
        .await;
        drop(service);
        let _ = pg.shutdown().await;
        result
    }
}

impl Suite for ReplicaLagSuite {
    fn name(&self) -> &'static str {
        "replica_lag"
    }

    fn about(&self) -> &'static str {
        "read replica lag: stale reads right after the session's own write"
    }

    fn images(&self) -> Vec<ImageRecipe> {
        vec![POSTGRES_IMAGE, RUNTIME]
    }

    fn run<'a>(&'a self, variant: Variant, options: &'a RunOptions) -> SuiteFuture<'a> {
        Box::pin(self.run_variant(variant, options))
    }
}
