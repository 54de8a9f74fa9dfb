//! Publishing interchange messages to RabbitMQ: confirmed, ordered, never dropped.
//!
//! The publisher declares its queue itself (durable; quorum by default; a maximum length with
//! `reject-publish` overflow so a full queue refuses new messages instead of dropping old ones;
//! dead-lettering to a declared exchange and queue). Every publish is `mandatory` with publisher
//! confirms, with at most a window of messages unconfirmed. When the broker refuses a message
//! (queue full, unroutable) or the connection fails, the publisher backs off exponentially
//! (capped), then republishes from the first unconfirmed message onwards, so every patient's last
//! delivered messages are in order (a consumer may see a few twice; the processor is
//! idempotent). It returns only when all messages are confirmed, or at shutdown.

use std::collections::VecDeque;
use std::time::Duration;

use lapin::Confirmation;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ExchangeKind};
use tokio_util::sync::CancellationToken;

use crate::Endpoint;

/// Where and how messages are published.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The queue messages go to (live HL7: `ward.interchange.live`).
    pub queue: String,
    /// Where the queue's rejected messages go.
    pub dead_letter_exchange: String,
    /// The queue bound to the dead-letter exchange.
    pub dead_letter_queue: String,
    /// Most messages the queue holds before refusing publishes.
    pub max_length: u32,
    /// Quorum queue (replicated, the default) rather than classic.
    pub quorum: bool,
    /// Delete the queues after this long unused (for scratch queues of tests and benchmarks).
    pub expires_ms: Option<u32>,
}

impl Topology {
    /// The backfill queue the table-reader publishes to, which the processor drains only while
    /// the live one leaves it room; its dead letters go where live ones do.
    pub fn backfill() -> Topology {
        Topology {
            queue: "ward.interchange.backfill".to_owned(),
            ..Topology::live()
        }
    }

    /// The live HL7 queue and its dead-letter queue.
    pub fn live() -> Topology {
        Topology {
            queue: "ward.interchange.live".to_owned(),
            dead_letter_exchange: "ward.dead-letter".to_owned(),
            dead_letter_queue: "ward.interchange.dead-letter".to_owned(),
            max_length: 100_000,
            quorum: true,
            expires_ms: None,
        }
    }
}

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The interchange JSON.
    pub body: Vec<u8>,
    /// The Java class name (AMQP `type`).
    pub class: &'static str,
    /// Where it came from (its AMQP message id).
    pub origin: Origin,
    /// The partition key's routing key (the patient).
    pub partition: String,
}

/// Where a published message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An IDS row, by id (also sent as the `x-ward-ids-id` header).
    Ids(i64),
    /// A source table's row: `source/query/key`, the id `reader.table_message` keeps it under.
    Table(String),
}

impl Origin {
    /// The IDS id, for a message from the IDS.
    pub fn ids_id(&self) -> Option<i64> {
        match self {
            Origin::Ids(id) => Some(*id),
            Origin::Table(_) => None,
        }
    }

    fn message_id(&self) -> String {
        match self {
            Origin::Ids(id) => id.to_string(),
            Origin::Table(key) => key.clone(),
        }
    }
}

/// Why publishing stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Shutdown was requested before everything was confirmed.
    #[error("shutdown before every message was confirmed")]
    Shutdown,
}

/// A publisher that reconnects by itself.
pub struct Publisher {
    endpoint: Endpoint,
    topology: Topology,
    window: usize,
    max_backoff: Duration,
    connection: Option<(Connection, Channel)>,
}

impl Publisher {
    /// A publisher to the broker at `endpoint`; connects on first use.
    pub fn new(endpoint: impl Into<Endpoint>, topology: Topology, window: usize) -> Publisher {
        Publisher {
            endpoint: endpoint.into(),
            topology,
            window: window.max(1),
            max_backoff: Duration::from_secs(30),
            connection: None,
        }
    }

    /// Caps the back-off between attempts (tests use a short one).
    pub fn with_max_backoff(mut self, max_backoff: Duration) -> Publisher {
        self.max_backoff = max_backoff;
        self
    }

    /// Connects (if needed) and declares the topology; used at start to fail early on bad
    /// settings.
    pub async fn connect(&mut self) -> Result<(), lapin::Error> {
        self.channel().await.map(|_| ())
    }

    async fn channel(&mut self) -> Result<Channel, lapin::Error> {
        if let Some((connection, channel)) = &self.connection
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        self.connection = None;
        let connection = self.endpoint.connect().await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        declare(&channel, &self.topology).await?;
        tracing::info!(queue = %self.topology.queue, "Connected to RabbitMQ");
        self.connection = Some((connection, channel.clone()));
        Ok(channel)
    }

    /// Publishes every message, in order, returning once all are confirmed.
    pub async fn publish_all(
        &mut self,
        messages: &[Outgoing],
        shutdown: &CancellationToken,
    ) -> Result<(), PublishError> {
        let mut next = 0;
        let mut delay = Duration::from_millis(100);
        while next < messages.len() {
            match self.publish_from(messages, next).await {
                Ok(()) => return Ok(()),
                Err((first_unconfirmed, reason)) => {
                    if first_unconfirmed > next {
                        delay = Duration::from_millis(100);
                    }
                    next = first_unconfirmed;
                    tracing::warn!(
                        reason = %reason,
                        ids_id = messages.get(next).and_then(|m| m.origin.ids_id()),
                        retry_in_ms = delay.as_millis() as u64,
                        "RabbitMQ did not confirm a message; backing off"
                    );
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(PublishError::Shutdown),
                        _ = tokio::time::sleep(delay) => {}
                    }
                    delay = (delay * 2).min(self.max_backoff);
                }
            }
        }
        Ok(())
    }

    /// Publishes `messages[from..]` keeping at most `window` unconfirmed (a sliding window: the
    /// next message goes out as soon as the oldest is confirmed, so the broker's confirm
    /// latency is paid once per run, not once per window); on failure returns the first index
    /// not confirmed.
    async fn publish_from(
        &mut self,
        messages: &[Outgoing],
        from: usize,
    ) -> Result<(), (usize, String)> {
        let queue = self.topology.queue.clone();
        let window = self.window;
        let channel = match self.channel().await {
            Ok(channel) => channel,
            Err(error) => return Err((from, error.to_string())),
        };
        let mut in_flight = VecDeque::with_capacity(window.min(messages.len()));
        for (index, message) in messages.iter().enumerate().skip(from) {
            if in_flight.len() >= window
                && let Some((oldest, confirm)) = in_flight.pop_front()
            {
                self.confirmed(oldest, confirm).await?;
            }
            let published = channel
                .basic_publish(
                    ShortString::from(""),
                    ShortString::from(queue.as_str()),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &message.body,
                    properties(message),
                )
                .await;
            match published {
                Ok(confirm) => in_flight.push_back((index, confirm)),
                Err(error) => {
                    self.connection = None;
                    // Those in flight may or may not be confirmed: start again from the oldest
                    // to keep order.
                    let first = in_flight.front().map_or(index, |(oldest, _)| *oldest);
                    return Err((first, error.to_string()));
                }
            }
        }
        while let Some((oldest, confirm)) = in_flight.pop_front() {
            self.confirmed(oldest, confirm).await?;
        }
        Ok(())
    }

    /// Waits for message `index`'s confirm: `Err((index, why))` unless the broker took it.
    async fn confirmed(
        &mut self,
        index: usize,
        confirm: lapin::PublisherConfirm,
    ) -> Result<(), (usize, String)> {
        let failure = match confirm.await {
            Ok(Confirmation::Ack(None)) => return Ok(()),
            Ok(Confirmation::Ack(Some(returned))) => format!("returned: {}", returned.reply_text),
            Ok(Confirmation::Nack(_)) => "refused by the broker (queue full?)".to_owned(),
            Ok(Confirmation::NotRequested) => "publisher confirms are off".to_owned(),
            Err(error) => {
                self.connection = None;
                error.to_string()
            }
        };
        Err((index, failure))
    }
}

fn properties(message: &Outgoing) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        ShortString::from(interchange::VERSION_HEADER),
        AMQPValue::LongString(LongString::from(interchange::FORMAT_VERSION)),
    );
    if let Some(ids_id) = message.origin.ids_id() {
        headers.insert(
            ShortString::from("x-ward-ids-id"),
            AMQPValue::LongLongInt(ids_id),
        );
    }
    headers.insert(
        ShortString::from("x-ward-partition-key"),
        AMQPValue::LongString(LongString::from(message.partition.as_str())),
    );
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_type(ShortString::from(message.class))
        .with_message_id(ShortString::from(message.origin.message_id().as_str()))
        .with_headers(headers)
}

/// Declares the queue, the dead-letter exchange and queue (idempotent).
pub async fn declare(channel: &Channel, topology: &Topology) -> Result<(), lapin::Error> {
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let mut queue_type = FieldTable::default();
    if topology.quorum {
        queue_type.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from("quorum")),
        );
    }
    if let Some(expires) = topology.expires_ms {
        queue_type.insert(
            ShortString::from("x-expires"),
            AMQPValue::LongInt(expires as i32),
        );
    }
    channel
        .exchange_declare(
            ShortString::from(topology.dead_letter_exchange.as_str()),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_declare(
            ShortString::from(topology.dead_letter_queue.as_str()),
            durable,
            queue_type.clone(),
        )
        .await?;
    channel
        .queue_bind(
            ShortString::from(topology.dead_letter_queue.as_str()),
            ShortString::from(topology.dead_letter_exchange.as_str()),
            ShortString::from(""),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut arguments = queue_type;
    arguments.insert(
        ShortString::from("x-max-length"),
        AMQPValue::LongInt(topology.max_length as i32),
    );
    arguments.insert(
        ShortString::from("x-overflow"),
        AMQPValue::LongString(LongString::from("reject-publish")),
    );
    arguments.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(LongString::from(topology.dead_letter_exchange.as_str())),
    );
    channel
        .queue_declare(
            ShortString::from(topology.queue.as_str()),
            durable,
            arguments,
        )
        .await?;
    Ok(())
}
