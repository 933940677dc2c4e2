use std::path::PathBuf;

use shakedown::image::{ImageRecipe, RUNTIME};
use shakedown::{RunOptions, Suite, SuiteError, SuiteFuture, SuiteRun, Topology, Variant};
use shakedown_fixtures::{start_service, ServiceSpec};

use super::{check, HttpTokens, Options};

const NAME: &str = "clock_skew";

/// The clock-skew suite against the bundled reference issuer and API.
///
/// ```no_run
/// # async fn demo() -> Result<(), shakedown::SuiteError> {
/// use shakedown::{RunOptions, Suite, Variant};
/// use shakedown_suites::clock_skew::ClockSkewSuite;
///
/// let run = ClockSkewSuite::default().run(Variant::Naive, &RunOptions::seeded(1)).await?;
/// assert!(run.report.anomaly("expired_token_accepted") > 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClockSkewSuite {
    /// The `shakedown` binary to run the services with (default: [`crate::reference::shakedown_binary`]).
    pub binary: Option<PathBuf>,
    /// Workload options; the seed is taken from [`RunOptions`].
    pub options: Options,
}

impl ClockSkewSuite {
    async fn run_variant(
        &self,
        variant: Variant,
        run: &RunOptions,
    ) -> Result<SuiteRun, SuiteError> {
        let mode = crate::reference::variant_mode(NAME, variant)?;
        let binary = crate::reference::binary_for(NAME, &self.binary)?;
        let topology = Topology::start()
            .await
            .map_err(|e| SuiteError::new(NAME, "start the topology", e))?;
        // A per-run secret: never a constant, never in the report.
        let secret = format!("{:032x}", rand::random::<u128>());
        run.progress(format!("starting the {mode} token issuer and API"));
        let service = |name: &str, role: &str| {
            ServiceSpec::new(name, binary.clone())
                .arg("reference")
                .arg(role)
                .arg(format!("--variant={mode}"))
                .arg(format!("--secret={secret}"))
                .port(8080)
                .ready_line("listening on")
                .fake_clock()
        };
        let issuer = start_service(&topology, service("issuer", "token-issuer"))
            .await
            .map_err(|e| SuiteError::new(NAME, "start the token issuer", e))?;
        let api = start_service(
            &topology,
            service("api", "token-api")
                .arg(format!("--issuer=http://{}:8080", issuer.container_name())),
        )
        .await
        .map_err(|e| SuiteError::new(NAME, "start the token API", e))?;
        let issuer_addr = issuer
            .host_addr(8080)
            .await
            .map_err(|e| SuiteError::new(NAME, "find the issuer's port", e))?;
        let api_addr = api
            .host_addr(8080)
            .await
            .map_err(|e| SuiteError::new(NAME, "find the API's port", e))?;
        let options = Options {
            seed: run.seed,
            ..self.options.clone()
        };
        run.progress(format!("running {} clock-skew steps", options.steps.len()));
        let system = HttpTokens::new(
            format!("http://{issuer_addr}"),
            format!("http://{api_addr}"),
        );
        let result = check(&system, &issuer, &api, &options, variant).await;
        drop((issuer, api));
        let _ = topology.shutdown().await;
        result
    }
}

impl Suite for ClockSkewSuite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn about(&self) -> &'static str {
        "clock skew breaking tokens: fresh tokens rejected, expired ones accepted"
    }

    fn images(&self) -> Vec<ImageRecipe> {
        vec![RUNTIME]
    }

    fn run<'a>(&'a self, variant: Variant, options: &'a RunOptions) -> SuiteFuture<'a> {
        Box::pin(self.run_variant(variant, options))
    }
}
