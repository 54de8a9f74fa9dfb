//! RabbitMQ as every Ward stage uses it: [`Endpoint`] says where the broker is and which CA to
//! trust when the URL is `amqps://`, and connects; [`publisher`] declares the queue topology and
//! publishes with confirms, in order, backing off when the broker refuses. The readers (HL7 and
//! tables) publish through it and the processor connects through it, so a site's TLS settings
//! and queue arguments live in one place.

mod endpoint;
pub mod publisher;

pub use endpoint::{Endpoint, EndpointError};
pub use publisher::{Origin, Outgoing, PublishError, Publisher, Topology};
