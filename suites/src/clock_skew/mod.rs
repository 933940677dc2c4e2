//! Clock skew breaking tokens: the issuer's clock and the API's clock disagree, so fresh tokens
//! are refused ("not valid yet", "issued in the future", "expired") and expired ones accepted.
//!
//! - Faults (one step each, healed before the next): the issuer ahead by seconds, past the 60 s
//!   leeway libraries default to, by minutes, behind by minutes, far ahead (beyond any tolerable
//!   skew); the validator far behind (expired tokens look fresh); the issuer's clock jumping
//!   ahead in the middle of a step. Clocks are moved with libfaketime
//!   ([`Node::clock`](shakedown::Node::clock)), so the real processes see them.
//! - Workload: per step, fresh tokens (issued and used at once) and short-lived ones used two
//!   minutes after they truly expired (both clocks jumped on: no real waiting), well past common
//!   leeways.
//! - Checkers: [`TokenChecker`] — fresh tokens refused while the skew was tolerable (5 min by
//!   default), expired tokens accepted at any skew; whether the system reported the skew is a
//!   note, not a verdict (a design that skew cannot break, such as introspection at the issuer,
//!   passes). [`AvailabilityChecker`](shakedown::checker::AvailabilityChecker) — calls that
//!   failed or went unanswered.
//! - Reference services ([`service`]): a token issuer and an API that validates the tokens, in
//!   separate containers. `naive`: zero leeway, `iat` in the future refused, expiry judged on
//!   the API's own clock. `hardened`: the API measures its skew against the issuer's clock
//!   (`GET /time`, like the SDKs that correct skew from a server's `Date`), reports it
//!   (`x-clock-skew-ms`), judges times on the issuer's clock with a 2 s leeway, and refuses
//!   everything beyond a maximum tolerated skew (15 min); the issuer caps lifetimes (5 min).
//!
//! To run it against your own issuer and API, start them with
//! [`ServiceSpec::fake_clock`](shakedown_fixtures::ServiceSpec::fake_clock), implement
//! [`TokenSystem`] for a client of them, and call [`run_against`] with their nodes.

mod checker;
mod client;
pub mod service;
mod suite;
mod workload;

pub use checker::{Probe, TokenChecker, TokenOp};
pub use client::{CallOutcome, ClientError, HttpTokens, TokenSystem};
pub use service::SkewSource;
pub use suite::{reference, SUITE};
pub use workload::{run_against, Options, Step};
