//! The consumer's metrics (Prometheus text on `/metrics`) and its one alert, `DeadLetters`,
//! evaluated as a Prometheus rule would be (`payments_dead_letter_queue_depth > 0`, or
//! `payments_gave_up_total > 0`, with no `for:` delay), exposed on `/alerts`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::{FieldTable, ShortString};
use lapin::Connection;

use super::consumer::Consumer;
use super::policy::DEAD_LETTER_QUEUE;
use super::{Alert, AlertOn};

/// How often the dead-letter queue's depth is read.
pub const DEPTH_EVERY: Duration = Duration::from_millis(200);

/// The alert's name.
pub const ALERT: &str = "DeadLetters";

/// Reads the dead-letter queue's depth every [`DEPTH_EVERY`] into the consumer's gauge, until
/// the connection fails.
pub(crate) async fn watch_depth(consumer: Arc<Consumer>, conn: Arc<Connection>) -> String {
    let mut channel = None;
    loop {
        if channel.is_none() {
            match conn.create_channel().await {
                Ok(c) => channel = Some(c),
                Err(e) => return format!("open the depth channel: {e}"),
            }
        }
        let ch = channel.as_ref().expect("just opened");
        let q = ch
            .queue_declare(
                ShortString::from(DEAD_LETTER_QUEUE),
                QueueDeclareOptions::durable().passive(),
                FieldTable::default(),
            )
            .await;
        match q {
            Ok(q) => consumer
                .counters
                .dead_letter_depth
                .store(u64::from(q.message_count()) + 1, Ordering::Relaxed),
            // Not declared yet (the consumer declares it as it starts): the channel closed.
            Err(_) => channel = None,
        }
        tokio::time::sleep(DEPTH_EVERY).await;
    }
}

/// The dead-letter queue's depth as last read, if it was.
fn depth(consumer: &Consumer) -> Option<u64> {
    consumer
        .counters
        .dead_letter_depth
        .load(Ordering::Relaxed)
        .checked_sub(1)
}

/// The metrics in Prometheus' text format.
pub(crate) fn exposition(consumer: &Consumer) -> String {
    let c = &consumer.counters;
    let mut out = format!(
        "# HELP payments_processed_total Payments stored.\n\
         # TYPE payments_processed_total counter\n\
         payments_processed_total {}\n\
         # HELP payments_gave_up_total Messages rejected without requeue.\n\
         # TYPE payments_gave_up_total counter\n\
         payments_gave_up_total {}\n",
        c.processed.load(Ordering::Relaxed),
        c.gave_up.load(Ordering::Relaxed),
    );
    if let Some(d) = depth(consumer) {
        out.push_str(&format!(
            "# HELP payments_dead_letter_queue_depth Messages in the dead-letter queue.\n\
             # TYPE payments_dead_letter_queue_depth gauge\n\
             payments_dead_letter_queue_depth{{queue=\"{DEAD_LETTER_QUEUE}\"}} {d}\n"
        ));
    }
    out
}

/// The alerts firing now.
pub(crate) fn firing(consumer: &Consumer) -> Vec<Alert> {
    let value = match consumer.policy.alert {
        None => return Vec::new(),
        Some(AlertOn::DeadLetterDepth) => depth(consumer).unwrap_or(0),
        Some(AlertOn::GaveUpCounter) => consumer.counters.gave_up.load(Ordering::Relaxed),
    };
    if value == 0 {
        return Vec::new();
    }
    vec![Alert {
        name: ALERT.into(),
        summary: format!("{value} payments could not be processed and wait in {DEAD_LETTER_QUEUE}"),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dead_letters::Policy;

    fn consumer(policy: Policy) -> Consumer {
        Consumer::new(policy, "postgres://unused")
    }

    #[test]
    fn the_depth_alert_fires_while_dead_letters_wait_and_the_gauge_says_how_many() {
        let c = consumer(Policy::hardened());
        assert!(
            !exposition(&c).contains("payments_dead_letter_queue_depth"),
            "not read yet"
        );
        assert_eq!(firing(&c), vec![]);
        c.counters.dead_letter_depth.store(1, Ordering::Relaxed); // read: 0
        assert!(
            exposition(&c).contains("payments_dead_letter_queue_depth{queue=\"payments.dlq\"} 0\n")
        );
        assert_eq!(firing(&c), vec![]);
        c.counters.dead_letter_depth.store(4, Ordering::Relaxed); // read: 3
        let alerts = firing(&c);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].name, ALERT);
        assert!(alerts[0].summary.starts_with("3 payments"), "{alerts:?}");
    }

    #[test]
    fn the_counter_alert_fires_once_anything_was_given_up_and_no_alert_means_none() {
        let c = consumer(Policy {
            alert: Some(AlertOn::GaveUpCounter),
            ..Policy::hardened()
        });
        assert_eq!(firing(&c), vec![]);
        c.counters.gave_up.store(2, Ordering::Relaxed);
        assert_eq!(firing(&c).len(), 1);
        assert!(exposition(&c).contains("payments_gave_up_total 2\n"));
        let silent = consumer(Policy::naive());
        silent.counters.gave_up.store(5, Ordering::Relaxed);
        silent
            .counters
            .dead_letter_depth
            .store(9, Ordering::Relaxed);
        assert_eq!(firing(&silent), vec![]);
    }
}
