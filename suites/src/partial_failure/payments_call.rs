//! One call from the caller to `payments`, and what came of it: the HTTP contract between the
//! two (paths, the idempotency-key and checksum headers) and the classification of every
//! answer, strict or lenient.

use std::time::Duration;

use super::{ChargeReply, Order};

/// The request header carrying the idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header carrying the body's checksum (`fnv1a64=<16 hex digits>`).
pub const BODY_CHECKSUM: &str = "x-body-checksum";

/// FNV-1a (64 bits) of `body`, as [`BODY_CHECKSUM`] spells it.
///
/// ```
/// use shakedown_suites::partial_failure::checksum;
/// assert_eq!(checksum(b""), "fnv1a64=cbf29ce484222325");
/// ```
pub fn checksum(body: &[u8]) -> String {
    let h = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("fnv1a64={h:016x}")
}

/// What one call to `payments` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A charge (for a status lookup: the one stored under the key).
    Charged(ChargeReply),
    /// The request never left (connection refused): certainly not applied.
    NotSent,
    /// Certainly not applied: a 4xx, or (lookup) no charge under the key.
    Refused(String),
    /// It may or may not have been applied: timeout, reset, lost or unusable answer.
    Unknown(String),
}

/// The caller's HTTP side towards `payments`: a fresh connection per call (so every attempt
/// crosses the fault proxy as its own connection), a timeout per call.
#[derive(Debug, Clone)]
pub(crate) struct PaymentsCall {
    http: reqwest::Client,
    base: String,
    strict: bool,
}

impl PaymentsCall {
    /// Calls to `base`, each limited to `timeout`; `strict` validates every answer (checksum,
    /// content, that it is about this order) and turns an invalid one into `Unknown`.
    pub(crate) fn new(base: &str, timeout: Duration, strict: bool) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("build the HTTP client: {e}"))?;
        Ok(PaymentsCall {
            http,
            base: base.trim_end_matches('/').to_string(),
            strict,
        })
    }

    /// `POST /charges` for `order`, with `key` as its idempotency key if given.
    pub(crate) async fn charge(&self, order: &Order, key: Option<&str>) -> Answer {
        let body = serde_json::json!({"order_id": order.id, "amount_cents": order.amount_cents});
        let mut req = self.http.post(format!("{}/charges", self.base)).json(&body);
        if let Some(k) = key {
            req = req.header(IDEMPOTENCY_KEY, k);
        }
        self.answer(req, order).await
    }

    /// `GET /charges/by-key/{key}`: the charge stored under `key`, if any.
    pub(crate) async fn status(&self, order: &Order, key: &str) -> Answer {
        let req = self.http.get(format!("{}/charges/by-key/{key}", self.base));
        self.answer(req, order).await
    }

    async fn answer(&self, req: reqwest::RequestBuilder, order: &Order) -> Answer {
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Answer::NotSent,
            Err(e) => return Answer::Unknown(e.to_string()),
        };
        let status = resp.status();
        let sum = resp
            .headers()
            .get(BODY_CHECKSUM)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return Answer::Unknown(format!("body: {e}")),
        };
        if self.strict {
            strict(status.as_u16(), sum.as_deref(), &body, order)
        } else {
            lenient(status, &body)
        }
    }
}

/// The naive reading: any 2xx is a charge if the body parses once decoded as text the way
/// `reqwest::Response::text` does (invalid UTF-8 replaced, not refused); a 2xx that does not
/// parse is taken as a failure, and so is everything else.
fn lenient(status: reqwest::StatusCode, body: &[u8]) -> Answer {
    if !status.is_success() {
        return Answer::Refused(format!("HTTP {status}"));
    }
    match serde_json::from_str::<ChargeReply>(&String::from_utf8_lossy(body)) {
        Ok(r) => Answer::Charged(r),
        Err(e) => Answer::Refused(format!("unreadable reply: {e}")),
    }
}

/// The hardened reading: only 200/201 with a matching checksum and a charge for this very
/// order and amount is data; 404 and other 4xx say "not applied"; anything else is unknown.
fn strict(status: u16, sum: Option<&str>, body: &[u8], order: &Order) -> Answer {
    match status {
        200 | 201 => {}
        404 => return Answer::Refused("no charge under this key".into()),
        400..=499 => return Answer::Refused(format!("HTTP {status}")),
        s => return Answer::Unknown(format!("HTTP {s}")),
    }
    if sum != Some(checksum(body).as_str()) {
        return Answer::Unknown("checksum mismatch: the reply is not trusted".into());
    }
    match serde_json::from_slice::<ChargeReply>(body) {
        Ok(r) if r.order_id == order.id && r.amount_cents == order.amount_cents => {
            Answer::Charged(r)
        }
        Ok(r) => Answer::Unknown(format!(
            "the reply is about order {} ({} cents), not this one",
            r.order_id, r.amount_cents
        )),
        Err(e) => Answer::Unknown(format!("unreadable reply: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order {
            id: "o-1".into(),
            customer: "ada".into(),
            amount_cents: 1250,
        }
    }

    fn reply_body(order_id: &str, amount: i64) -> Vec<u8> {
        serde_json::to_vec(&ChargeReply {
            charge_id: 3,
            order_id: order_id.into(),
            amount_cents: amount,
            receipt: "r".into(),
        })
        .unwrap()
    }

    #[test]
    fn strict_reading_trusts_only_a_checksummed_reply_about_this_order() {
        let good = reply_body("o-1", 1250);
        let sum = checksum(&good);
        assert!(matches!(
            strict(201, Some(&sum), &good, &order()),
            Answer::Charged(_)
        ));
        let mut flipped = good.clone();
        flipped[20] ^= 0x01;
        assert!(matches!(
            strict(201, Some(&sum), &flipped, &order()),
            Answer::Unknown(_)
        ));
        assert!(matches!(
            strict(201, None, &good, &order()),
            Answer::Unknown(_)
        ));
        let other = reply_body("o-2", 1250);
        let other_sum = checksum(&other);
        assert!(matches!(
            strict(200, Some(&other_sum), &other, &order()),
            Answer::Unknown(_)
        ));
        assert!(matches!(
            strict(404, None, b"", &order()),
            Answer::Refused(_)
        ));
        assert!(matches!(
            strict(503, None, b"", &order()),
            Answer::Unknown(_)
        ));
        assert!(matches!(
            strict(204, Some(&sum), &good, &order()),
            Answer::Unknown(_)
        ));
    }

    #[test]
    fn lenient_reading_takes_any_parsable_success() {
        let amount_flipped = reply_body("o-1", 1350);
        assert!(matches!(
            lenient(reqwest::StatusCode::OK, &amount_flipped),
            Answer::Charged(r) if r.amount_cents == 1350
        ));
        assert!(matches!(
            lenient(reqwest::StatusCode::OK, b"{"),
            Answer::Refused(_)
        ));
        let mut receipt_flipped = reply_body("o-1", 1250);
        let at = receipt_flipped.len() - 3;
        receipt_flipped[at] = 0xff;
        assert!(matches!(
            lenient(reqwest::StatusCode::CREATED, &receipt_flipped),
            Answer::Charged(r) if r.receipt.contains('\u{fffd}')
        ));
    }
}
