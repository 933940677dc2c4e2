//! Network emulation on a node's interface with `tc netem`: delay, jitter, loss, a full drop.
//! For dependencies a proxy cannot sit in front of. The node needs `NET_ADMIN`
//! ([`NodeSpec::cap_add`](crate::NodeSpec::cap_add)) and `tc` (iproute2, in the runtime and
//! postgres images), and the host kernel netem (`CONFIG_NET_SCH_NETEM`; some VM kernels lack
//! it, and the error then says so).

use std::time::Duration;

use crate::fault::{Fault, Nemesis, NemesisFuture};
use crate::Node;

/// Delays, jitters or drops the packets a node sends on one interface (its egress, so replies
/// and requests leaving it); heals by removing the qdisc.
///
/// ```no_run
/// # async fn demo(run: &shakedown::Run<&'static str, ()>, db: &shakedown::Node) -> Result<(), shakedown::SuiteError> {
/// use std::time::Duration;
/// use shakedown::fault::nemeses::Netem;
/// // db was started with NodeSpec::cap_add("NET_ADMIN")
/// let slow = run.inject(Netem::delay(db, Duration::from_millis(200)).jitter(Duration::from_millis(50))).await?;
/// slow.heal().await?;
/// let cut = run.inject(Netem::drop_all(db)).await?;
/// cut.heal().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Netem<'a> {
    node: &'a Node,
    args: Args,
}

/// What netem is told to do.
#[derive(Debug, Clone, PartialEq)]
struct Args {
    interface: String,
    delay: Duration,
    jitter: Duration,
    loss_percent: f64,
}

impl<'a> Netem<'a> {
    fn new(node: &'a Node, delay: Duration, loss_percent: f64) -> Self {
        Netem {
            node,
            args: Args {
                interface: "eth0".into(),
                delay,
                jitter: Duration::ZERO,
                loss_percent,
            },
        }
    }

    /// Adds `delay` to every packet the node sends.
    pub fn delay(node: &'a Node, delay: Duration) -> Self {
        Netem::new(node, delay, 0.0)
    }

    /// Drops `percent` of the packets the node sends (`0.0..=100.0`; anything else is refused
    /// when injected).
    pub fn loss(node: &'a Node, percent: f64) -> Self {
        Netem::new(node, Duration::ZERO, percent)
    }

    /// Drops every packet the node sends: the node is silent, connections to it hang.
    pub fn drop_all(node: &'a Node) -> Self {
        Netem::loss(node, 100.0)
    }

    /// Varies the delay by up to `jitter` either way.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.args.jitter = jitter;
        self
    }

    /// Also drops `percent` of the packets.
    pub fn with_loss(mut self, percent: f64) -> Self {
        self.args.loss_percent = percent;
        self
    }

    /// Acts on `interface` instead of `eth0`.
    pub fn interface(mut self, interface: impl Into<String>) -> Self {
        self.args.interface = interface.into();
        self
    }
}

impl Args {
    /// The `tc` arguments that install it; an error for values netem cannot take.
    fn tc_args(&self) -> Result<Vec<String>, String> {
        if !(0.0..=100.0).contains(&self.loss_percent) {
            return Err(format!(
                "netem loss must be a percentage in 0..=100, got {}",
                self.loss_percent
            ));
        }
        if !self.jitter.is_zero() && self.delay.is_zero() {
            return Err("netem jitter needs a delay to vary".into());
        }
        if self.delay.is_zero() && self.loss_percent == 0.0 {
            return Err("netem with no delay and no loss does nothing".into());
        }
        let us = |d: Duration| format!("{}us", d.as_micros());
        let mut args: Vec<String> = [
            "tc",
            "qdisc",
            "add",
            "dev",
            &self.interface,
            "root",
            "netem",
        ]
        .map(String::from)
        .to_vec();
        if !self.delay.is_zero() {
            args.extend(["delay".into(), us(self.delay)]);
            if !self.jitter.is_zero() {
                args.push(us(self.jitter));
            }
        }
        if self.loss_percent > 0.0 {
            args.extend(["loss".into(), format!("{}%", self.loss_percent)]);
        }
        Ok(args)
    }
}

impl Nemesis for Netem<'_> {
    fn describe(&self) -> Fault {
        Fault::Netem {
            target: self.node.name().to_string(),
            interface: self.args.interface.clone(),
            delay_ms: u64::try_from(self.args.delay.as_millis()).unwrap_or(u64::MAX),
            jitter_ms: u64::try_from(self.args.jitter.as_millis()).unwrap_or(u64::MAX),
            loss_percent: self.args.loss_percent,
        }
    }
    fn inject(&self) -> NemesisFuture<'_> {
        Box::pin(async {
            let args = self.args.tc_args()?;
            let out = self.node.exec(args).await?;
            if out.code != 0 {
                let hint = if out.stderr.contains("Operation not permitted") {
                    " (start the node with NodeSpec::cap_add(\"NET_ADMIN\"))"
                } else if out.stderr.contains("qdisc kind is unknown") {
                    " (the host kernel has no netem: CONFIG_NET_SCH_NETEM, module sch_netem)"
                } else {
                    ""
                };
                return Err(format!(
                    "tc netem on {} failed: {}{hint}",
                    self.node.name(),
                    out.stderr.trim()
                )
                .into());
            }
            Ok(())
        })
    }
    fn heal(&self) -> NemesisFuture<'_> {
        Box::pin(async {
            let del = ["tc", "qdisc", "del", "dev", &self.args.interface, "root"];
            self.node.exec_ok(del).await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(delay_ms: u64, jitter_ms: u64, loss: f64) -> Result<Vec<String>, String> {
        Args {
            interface: "eth0".into(),
            delay: Duration::from_millis(delay_ms),
            jitter: Duration::from_millis(jitter_ms),
            loss_percent: loss,
        }
        .tc_args()
    }

    #[test]
    fn netem_arguments_follow_tc_syntax_and_refuse_bad_values() {
        assert_eq!(
            args(200, 50, 0.0).unwrap().join(" "),
            "tc qdisc add dev eth0 root netem delay 200000us 50000us"
        );
        assert_eq!(
            args(0, 0, 100.0).unwrap().join(" "),
            "tc qdisc add dev eth0 root netem loss 100%"
        );
        assert!(args(0, 0, 120.0).unwrap_err().contains("0..=100"));
        assert!(args(0, 0, f64::NAN).is_err());
        assert!(args(0, 10, 0.0).unwrap_err().contains("needs a delay"));
        assert!(args(0, 0, 0.0).unwrap_err().contains("does nothing"));
    }
}
