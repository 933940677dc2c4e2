//! [`AmqpPublisher`]: a producer as services write one — its own connection, a confirm-mode
//! channel, persistent messages with the event id as message id.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use super::{ClientError, EventPublisher, OrderEvent};

/// Publishes order events to one queue (through the default exchange) on its own AMQP
/// connection, each confirmed by the broker before [`publish`](EventPublisher::publish)
/// returns.
///
/// ```no_run
/// # async fn demo(event: shakedown_suites::event_ordering::OrderEvent) -> Result<(), shakedown_suites::event_ordering::ClientError> {
/// use shakedown_suites::event_ordering::{AmqpPublisher, EventPublisher};
/// let payments = AmqpPublisher::connect("amqp://guest:guest@127.0.0.1:5672/%2f", "order-events").await?;
/// payments.publish(&event).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AmqpPublisher {
    connection: Connection,
    channel: Channel,
    queue: String,
}

impl AmqpPublisher {
    /// Connects to `url` and opens a channel with publisher confirms, for queue `queue`.
    pub async fn connect(url: &str, queue: &str) -> Result<Self, ClientError> {
        let failed = |what: &str, e: lapin::Error| ClientError::Failed(format!("{what}: {e}"));
        let connection = Connection::connect(url, ConnectionProperties::default())
            .await
            .map_err(|e| failed("connect to the broker", e))?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| failed("open a channel", e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| failed("enable publisher confirms", e))?;
        Ok(AmqpPublisher {
            connection,
            channel,
            queue: queue.to_string(),
        })
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.connection.close(200, "done".into()).await;
    }
}

impl EventPublisher for AmqpPublisher {
    async fn publish(&self, event: &OrderEvent) -> Result<(), ClientError> {
        let body = serde_json::to_vec(event)
            .map_err(|e| ClientError::Failed(format!("encode the event: {e}")))?;
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type(ShortString::from("application/json"))
            .with_message_id(ShortString::from(event.event_id.as_str()));
        let options = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        // Sent but not confirmed: the broker may have it.
        let unknown = |e: lapin::Error| ClientError::Unknown(format!("publish: {e}"));
        let confirm = self
            .channel
            .basic_publish(
                ShortString::from(""),
                ShortString::from(self.queue.as_str()),
                options,
                &body,
                props,
            )
            .await
            .map_err(unknown)?
            .await
            .map_err(unknown)?;
        if !confirm.is_ack() {
            return Err(ClientError::Failed("the broker nacked the event".into()));
        }
        if confirm.take_message().is_some() {
            return Err(ClientError::Failed(format!(
                "no queue `{}`: the event came back unroutable",
                self.queue
            )));
        }
        Ok(())
    }
}
