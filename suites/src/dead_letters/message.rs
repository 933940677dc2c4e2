//! The payment messages: the current format, the legacy one an old producer still sends, and
//! what the workload knows about each message it publishes (the truth the checker judges by).

use serde::{Deserialize, Serialize};

/// What a published message is, as the workload knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A payment in the current format for a known customer, published while the consumer's
    /// database is up.
    Good,
    /// The same message (id and body) as an earlier one, published again: what a producer does
    /// when a publisher confirm was lost.
    Republished,
    /// A good payment published while the consumer's database is cut off: it fails
    /// transiently, and must be processed once the database is back.
    DuringOutage,
    /// A payment in the legacy format (`id`, `customer_id`, `amount` as a decimal string) that
    /// the consumer does not read until the fix is deployed: poison.
    Legacy,
    /// A payment for a customer that does not exist yet: poison until the fix is deployed.
    UnknownCustomer,
}

impl Kind {
    /// Whether no retry can process it before the fix is deployed.
    pub fn is_poison(&self) -> bool {
        matches!(self, Kind::Legacy | Kind::UnknownCustomer)
    }
}

/// One message the workload publishes: its id (the AMQP `message-id`), what it is, its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The `message-id` property; the idempotency key.
    pub id: String,
    /// What it is.
    pub kind: Kind,
    /// The JSON body.
    pub body: String,
}

/// A payment, as the consumer stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The customer who paid (must exist in the consumer's `customers` table).
    pub customer: String,
    /// How much, in cents.
    pub amount_cents: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Current {
    customer: String,
    amount_cents: i64,
    currency: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Legacy {
    customer_id: String,
    amount: String,
}

impl Payment {
    /// The body in the current format: `{"customer":…,"amount_cents":…,"currency":"EUR"}`.
    pub fn current_body(&self) -> String {
        serde_json::json!({
            "customer": self.customer,
            "amount_cents": self.amount_cents,
            "currency": "EUR",
        })
        .to_string()
    }

    /// The body in the legacy format: `{"customer_id":…,"amount":"12.50"}`.
    pub fn legacy_body(&self) -> String {
        let amount = format!("{}.{:02}", self.amount_cents / 100, self.amount_cents % 100);
        serde_json::json!({ "customer_id": self.customer, "amount": amount }).to_string()
    }

    /// Reads a body in the current format, and, with `legacy`, in the legacy one too.
    ///
    /// ```
    /// use shakedown_suites::dead_letters::Payment;
    /// let p = Payment { customer: "ada".into(), amount_cents: 1250 };
    /// assert_eq!(Payment::parse(p.current_body().as_bytes(), false), Ok(p.clone()));
    /// assert!(Payment::parse(p.legacy_body().as_bytes(), false).is_err());
    /// assert_eq!(Payment::parse(p.legacy_body().as_bytes(), true), Ok(p));
    /// ```
    pub fn parse(body: &[u8], legacy: bool) -> Result<Payment, String> {
        let current = match serde_json::from_slice::<Current>(body) {
            Ok(c) => {
                return Ok(Payment {
                    customer: c.customer,
                    amount_cents: c.amount_cents,
                })
            }
            Err(e) => e,
        };
        if !legacy {
            return Err(format!("unreadable payment: {current}"));
        }
        let old: Legacy =
            serde_json::from_slice(body).map_err(|e| format!("unreadable payment: {e}"))?;
        let (units, cents) = old.amount.split_once('.').unwrap_or((&old.amount, "0"));
        let amount = units
            .parse::<i64>()
            .ok()
            .zip(
                format!("{cents:0<2}")
                    .get(..2)
                    .and_then(|c| c.parse::<i64>().ok()),
            )
            .map(|(u, c)| u * 100 + c)
            .ok_or_else(|| format!("unreadable amount `{}`", old.amount))?;
        Ok(Payment {
            customer: old.customer_id,
            amount_cents: amount,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_amounts_are_read_as_cents() {
        let p = |amount: &str| {
            let body = serde_json::json!({"customer_id": "c", "amount": amount}).to_string();
            Payment::parse(body.as_bytes(), true).map(|p| p.amount_cents)
        };
        assert_eq!(p("12.50"), Ok(1250));
        assert_eq!(p("12.5"), Ok(1250));
        assert_eq!(p("7"), Ok(700));
        assert_eq!(p("0.05"), Ok(5));
        assert!(p("twelve").is_err());
    }

    #[test]
    fn garbage_is_unreadable_with_or_without_the_fix() {
        for legacy in [false, true] {
            let err = Payment::parse(b"{not json", legacy).unwrap_err();
            assert!(err.starts_with("unreadable"), "{err}");
        }
        assert!(Kind::Legacy.is_poison() && Kind::UnknownCustomer.is_poison());
        assert!(!Kind::DuringOutage.is_poison());
    }
}
