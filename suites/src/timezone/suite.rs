use std::path::PathBuf;

use shakedown::image::{ImageRecipe, RUNTIME};
use shakedown::{RunOptions, Suite, SuiteError, SuiteFuture, SuiteRun, Variant};
use shakedown_fixtures::{start_service, PgCluster, ServiceSpec, POSTGRES_IMAGE};

use super::{check, HttpBilling, Options, SCHEMA};

const NAME: &str = "timezone";

/// The timezone suite against the bundled reference billing scheduler and PostgreSQL.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Suite, Variant};
/// use shakedown_suites::timezone::TimezoneSuite;
///
/// let run = TimezoneSuite::default().run(Variant::Naive, &RunOptions::seeded(1)).await?;
/// assert!(run.report.anomaly("charge_at_wrong_local_time") > 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct TimezoneSuite {
    /// The `shakedown` binary to run the service with (default: [`crate::reference::shakedown_binary`]).
    pub binary: Option<PathBuf>,
    /// Workload options; the seed is taken from [`RunOptions`].
    pub options: Options,
}

impl TimezoneSuite {
    async fn run_variant(
        &self,
        variant: Variant,
        run: &RunOptions,
    ) -> Result<SuiteRun, SuiteError> {
        let mode = crate::reference::variant_mode(NAME, variant)?;
        let binary = crate::reference::binary_for(NAME, &self.binary)?;
        let o = &self.options;
        run.progress(format!("starting PostgreSQL (timezone {})", o.db_zone));
        let pg = PgCluster::builder()
            .replicas(0)
            .fake_clock()
            .container_timezone(o.db_zone.clone())
            .server_timezone(o.db_zone.clone())
            .template_sql(SCHEMA)
            .start()
            .await
            .map_err(|e| SuiteError::new(NAME, "start PostgreSQL", e))?;
        let db = pg
            .fresh_database()
            .await
            .map_err(|e| SuiteError::new(NAME, "create the database", e))?;
        run.progress(format!(
            "starting the {mode} billing scheduler (TZ {})",
            o.server_zone
        ));
        let service = start_service(
            pg.topology(),
            ServiceSpec::new("billing", binary)
                .arg("reference")
                .arg("billing")
                .arg(format!("--variant={mode}"))
                .arg(format!("--db={}", db.internal_primary_url))
                .arg("--tick-ms=0")
                .port(8080)
                .ready_line("listening on")
                .fake_clock()
                .timezone(o.server_zone.clone()),
        )
        .await
        .map_err(|e| SuiteError::new(NAME, "start the billing scheduler", e))?;
        let addr = service
            .host_addr(8080)
            .await
            .map_err(|e| SuiteError::new(NAME, "find the service's port", e))?;
        let options = Options {
            seed: run.seed,
            ..o.clone()
        };
        run.progress("walking the clocks through three days across a DST change");
        let zones = vec![
            (service.name().to_string(), o.server_zone.clone()),
            (pg.primary().name().to_string(), o.db_zone.clone()),
        ];
        let result = check(
            &HttpBilling::new(format!("http://{addr}")),
            &[&service, pg.primary().node()],
            &zones,
            &options,
            variant,
        )
        .await;
        drop(service);
        let _ = pg.shutdown().await;
        result
    }
}

impl Suite for TimezoneSuite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "timezone bugs: charges at the wrong local time, doubled or missed, reports in the wrong day"
    }

    fn images(&self) -> Vec<ImageRecipe> {
        vec![POSTGRES_IMAGE, RUNTIME]
    }

    fn run<'a>(&'a self, variant: Variant, options: &'a RunOptions) -> SuiteFuture<'a> {
        Box::pin(self.run_variant(variant, options))
    }
}
