//! A toxic on a fault-proxy link.

use crate::fault::{Fault, Nemesis, NemesisFuture};
use crate::proxy::{Link, Toxic, ToxicConfig};

/// Attaches a toxic to a [`Link`] of the embedded fault proxy; heals by removing it. The
/// timeline shows the toxic with its attributes.
///
/// ```no_run
/// # async fn demo(run: &shakedown::Run<&'static str, ()>) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use shakedown::fault::nemeses::ProxyToxic;
/// use shakedown::proxy::{FaultProxy, Toxic};
///
/// let proxy = FaultProxy::start().await?;
/// let link = proxy.link("payments", "127.0.0.1:9000").await?;
/// let slow = run.inject(ProxyToxic::new(&link, Toxic::latency(Duration::from_millis(300)))).await?;
/// slow.heal().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProxyToxic<'a> {
    link: &'a Link,
    toxic: Toxic,
    config: ToxicConfig,
}

impl<'a> ProxyToxic<'a> {
    /// The nemesis that attaches `toxic` to `link`.
    pub fn new(link: &'a Link, toxic: Toxic) -> Self {
        let config = toxic.clone().into_config();
        ProxyToxic {
            link,
            toxic,
            config,
        }
    }
}

impl Nemesis for ProxyToxic<'_> {
    fn describe(&self) -> Fault {
        Fault::ProxyToxic {
            link: self.link.name().to_string(),
            toxic: self.config.clone(),
        }
    }
    fn inject(&self) -> NemesisFuture<'_> {
        Box::pin(async {
            // The nemesis removes it on heal: the link's own guard must not.
            let _ = self.link.add(self.toxic.clone()).await?.forget();
            Ok(())
        })
    }
    fn heal(&self) -> NemesisFuture<'_> {
        Box::pin(async { Ok(self.link.remove(&self.config.name).await?) })
    }
}
