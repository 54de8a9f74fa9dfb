//! Places: the `location` rows every family that names a location shares (G4), and the cache
//! of their ids by string (and strings by id) that spares a round trip per place named.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::PgConnection;

use super::Context;

/// A location: ordered by its string so that ties sort the same in every database.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Place {
    pub name: String,
    pub id: i64,
}

/// Location ids by string, and strings by id. A location row never changes or goes, so an id
/// once read stays right — unless the transaction that created it rolls back. So a message notes
/// the places it created ([`super::Effects`]): if it is rejected (its savepoint rolled back) the
/// processor forgets them; should a whole transaction roll back, the caller clears the cache
/// ([`super::Processor::forget_cached`]). Strings by id let a visit's facts be read with their
/// location ids alone (as ADT reads a visit's facts).
#[derive(Debug, Clone, Default)]
pub(crate) struct PlaceCache(Arc<Mutex<Places>>);

#[derive(Debug, Default)]
struct Places {
    by_name: HashMap<String, i64>,
    by_id: HashMap<i64, String>,
}

impl PlaceCache {
    pub(crate) fn get(&self, name: &str) -> Option<i64> {
        self.0.lock().ok()?.by_name.get(name).copied()
    }

    pub(crate) fn put(&self, name: &str, id: i64) {
        if let Ok(mut places) = self.0.lock() {
            places.by_name.insert(name.to_owned(), id);
            places.by_id.insert(id, name.to_owned());
        }
    }

    /// Forgets these places (created by a message that was then rolled back).
    pub(crate) fn forget(&self, names: &[String]) {
        if let Ok(mut places) = self.0.lock() {
            for name in names {
                if let Some(id) = places.by_name.remove(name) {
                    places.by_id.remove(&id);
                }
            }
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut places) = self.0.lock() {
            places.by_name.clear();
            places.by_id.clear();
        }
    }

    /// The place with this id, if known.
    pub(crate) fn named(&self, id: i64) -> Option<Place> {
        let places = self.0.lock().ok()?;
        let name = places.by_id.get(&id)?;
        Some(Place {
            name: name.clone(),
            id,
        })
    }

    /// Which of `ids` are not known.
    pub(crate) fn unknown(&self, ids: impl Iterator<Item = i64>) -> Vec<i64> {
        let Ok(places) = self.0.lock() else {
            return ids.collect();
        };
        let mut unknown: Vec<i64> = ids.filter(|id| !places.by_id.contains_key(id)).collect();
        unknown.sort_unstable();
        unknown.dedup();
        unknown
    }
}

/// The location with this string, created on first sight (G4).
///
/// In a lane a new place is created and committed at once on a connection of its own, so no
/// lane ever holds a place id another lane's transaction might yet roll back: lanes naming the
/// same new place neither wait for nor deadlock with each other, and a replay can load without
/// the foreign keys to `location` (`replay::deferred`). A place named by a message that is then
/// refused stays, as every other place seen: reference data, the same in the live schema and a
/// replay. Outside a lane the place is created in the message's transaction.
pub(crate) async fn place(
    conn: &mut PgConnection,
    name: &str,
    context: &Context<'_>,
) -> Result<Place, sqlx::Error> {
    let cache = context.places;
    let place = |id| Place {
        name: name.to_owned(),
        id,
    };
    if let Some(id) = cache.get(name) {
        return Ok(place(id));
    }
    let mut own;
    let (conn, committed) = match context.places_pool {
        Some(pool) => {
            own = pool.acquire().await?;
            (&mut *own, true)
        }
        None => (conn, false),
    };
    // Another transaction may be creating the same location: insert-or-nothing, then read in a
    // new statement (a new snapshot) to see its row once it commits.
    for _ in 0..2 {
        let found: Option<(i64, bool)> = sqlx::query_as(
            "WITH found AS (
                 SELECT location_id FROM location WHERE location_string = $1),
             created AS (
                 INSERT INTO location (location_string)
                 SELECT $1 WHERE NOT EXISTS (SELECT FROM found)
                 ON CONFLICT (location_string) DO NOTHING RETURNING location_id)
             SELECT location_id, false FROM found
             UNION ALL SELECT location_id, true FROM created",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((id, created)) = found {
            if created
                && !committed
                && let Ok(mut effects) = context.effects.lock()
            {
                effects.created_places.push(name.to_owned());
            }
            cache.put(name, id);
            return Ok(place(id));
        }
    }
    Err(sqlx::Error::RowNotFound)
}
