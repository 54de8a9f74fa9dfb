//! Reference rows shared by every patient (places, lab batteries, test definitions): where a
//! family creates them. In a lane a new reference row is created and committed at once on a
//! connection of its own, so no lane holds a reference row another lane's transaction might yet
//! roll back: lanes naming the same new row neither wait for nor deadlock with each other. A row
//! named by a message that is then refused stays, as every other reference row seen — the same
//! in the live schema and a replay. Outside a lane it is created in the message's transaction.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use super::Context;

/// The connection a reference row is created on.
pub(crate) enum Connection<'c> {
    /// Of its own, each statement committed at once (in a lane).
    Own(PoolConnection<Postgres>),
    /// The message's (outside a lane).
    Message(&'c mut PgConnection),
}

impl Connection<'_> {
    /// The connection for `context`'s message.
    pub(crate) async fn of<'c>(
        conn: &'c mut PgConnection,
        context: &Context<'_>,
    ) -> Result<Connection<'c>, sqlx::Error> {
        Ok(match context.places_pool {
            Some(pool) => Connection::Own(pool.acquire().await?),
            None => Connection::Message(conn),
        })
    }

    pub(crate) fn get(&mut self) -> &mut PgConnection {
        match self {
            Connection::Own(own) => own,
            Connection::Message(conn) => conn,
        }
    }
}
