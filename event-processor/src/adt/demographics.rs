//! Core demographics (rules D1, D2, D5 with the generic G1–G3, G5).
//!
//! D1: the first message of any source creates the row. D2: an existing row changes only for a
//! trusted message strictly newer than the row's valid-from. G1: an unknown field changes
//! nothing, a delete clears it, a value replaces it. G2: when nothing differs nothing is written.
//! G3/D5: a change first copies the previous state to the audit table, with `valid_until` = the
//! message's valid-from and `stored_until` = this processing time. D3/D4 (death indicator,
//! ethnicity names) are the reader's; here the values are taken as given.

use chrono::{DateTime, NaiveDate, Utc};
use interchange::adt::AdtFields;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres};

use crate::engine::writes::Value;
use crate::engine::{Context, ProcessError};

#[derive(Debug, Clone, PartialEq, Default, sqlx::FromRow)]
pub(crate) struct Demographics {
    firstname: Option<String>,
    middlename: Option<String>,
    lastname: Option<String>,
    date_of_birth: Option<NaiveDate>,
    date_of_death: Option<NaiveDate>,
    datetime_of_birth: Option<DateTime<Utc>>,
    datetime_of_death: Option<DateTime<Utc>>,
    alive: Option<bool>,
    home_postcode: Option<String>,
    sex: Option<String>,
    ethnicity: Option<String>,
}

impl Demographics {
    /// Its values in [`COLUMNS`] order, for the set-wise writer ([`super::tables`]).
    pub(crate) fn values(&self) -> [Value; 11] {
        [
            self.firstname.clone().into(),
            self.middlename.clone().into(),
            self.lastname.clone().into(),
            self.date_of_birth.into(),
            self.date_of_death.into(),
            self.datetime_of_birth.into(),
            self.datetime_of_death.into(),
            self.alive.into(),
            self.home_postcode.clone().into(),
            self.sex.clone().into(),
            self.ethnicity.clone().into(),
        ]
    }

    /// A new patient's demographics: what the message says (D1).
    pub(crate) fn first(adt: &AdtFields) -> Demographics {
        Demographics::default().updated_by(adt)
    }

    /// `self` with what the message says applied (G1).
    fn updated_by(&self, adt: &AdtFields) -> Demographics {
        let death = adt.patient_death_date_time.clone();
        Demographics {
            firstname: adt
                .patient_given_name
                .clone()
                .apply_to(self.firstname.clone()),
            middlename: adt
                .patient_middle_name
                .clone()
                .apply_to(self.middlename.clone()),
            lastname: adt
                .patient_family_name
                .clone()
                .apply_to(self.lastname.clone()),
            date_of_birth: adt.patient_birth_date.clone().apply_to(self.date_of_birth),
            date_of_death: death
                .clone()
                .map(|t| t.date_naive())
                .apply_to(self.date_of_death),
            datetime_of_birth: adt
                .patient_birth_date_time
                .clone()
                .apply_to(self.datetime_of_birth),
            datetime_of_death: death.apply_to(self.datetime_of_death),
            alive: adt.patient_is_alive.clone().apply_to(self.alive),
            home_postcode: adt
                .patient_zip_or_postal_code
                .clone()
                .apply_to(self.home_postcode.clone()),
            sex: adt.patient_sex.clone().apply_to(self.sex.clone()),
            ethnicity: adt.ethnic_group.clone().apply_to(self.ethnicity.clone()),
        }
    }
}

/// A live demographics row.
#[derive(sqlx::FromRow)]
pub(crate) struct Current {
    core_demographic_id: i64,
    valid_from: DateTime<Utc>,
    #[sqlx(flatten)]
    values: Demographics,
}

/// A demographics row read through an outer join: all columns null when there is none.
#[derive(sqlx::FromRow)]
pub(crate) struct MaybeCurrent {
    core_demographic_id: Option<i64>,
    valid_from: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    values: Demographics,
}

impl MaybeCurrent {
    pub(crate) fn current(self) -> Option<Current> {
        Some(Current {
            core_demographic_id: self.core_demographic_id?,
            valid_from: self.valid_from?,
            values: self.values,
        })
    }
}

pub(crate) const COLUMNS: &str = "firstname, middlename, lastname, date_of_birth, date_of_death, \
    datetime_of_birth, datetime_of_death, alive, home_postcode, sex, ethnicity";

/// Creates or updates the live MRN's demographics from an ADT message.
pub(crate) async fn update(
    conn: &mut PgConnection,
    mrn_id: i64,
    adt: &AdtFields,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    let current: Option<Current> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT core_demographic_id, valid_from, {COLUMNS} FROM core_demographic WHERE mrn_id = $1 FOR UPDATE"
    )))
    .bind(mrn_id)
    .fetch_optional(&mut *conn)
    .await?;
    update_from(conn, mrn_id, current, adt, context).await
}

/// [`update`] with the live row already read (and locked) by [`super::patient::patient_or_new`].
pub(crate) async fn update_from(
    conn: &mut PgConnection,
    mrn_id: i64,
    current: Option<Current>,
    adt: &AdtFields,
    context: &Context<'_>,
) -> Result<(), ProcessError> {
    match current {
        None => {
            let values = Demographics::first(adt);
            write(conn, None, mrn_id, &values, context).await?;
        }
        Some(current) => {
            if !context.trusted || context.valid_from <= current.valid_from {
                return Ok(());
            }
            let values = current.values.updated_by(adt);
            if values == current.values {
                return Ok(());
            }
            write(
                conn,
                Some(current.core_demographic_id),
                mrn_id,
                &values,
                context,
            )
            .await?;
        }
    }
    Ok(())
}

async fn write(
    conn: &mut PgConnection,
    existing: Option<i64>,
    mrn_id: i64,
    values: &Demographics,
    context: &Context<'_>,
) -> Result<(), sqlx::Error> {
    let sql = match existing {
        None => {
            "INSERT INTO core_demographic
                     (mrn_id, firstname, middlename, lastname, date_of_birth, date_of_death,
                      datetime_of_birth, datetime_of_death, alive, home_postcode, sex, ethnicity,
                      valid_from, stored_from, source_ids_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        }
        // G3: the previous state to the audit table, in the same statement.
        Some(_) => {
            "WITH audited AS (
                 INSERT INTO core_demographic_audit
                     (core_demographic_id, mrn_id, firstname, middlename, lastname, date_of_birth,
                      date_of_death, datetime_of_birth, datetime_of_death, alive, home_postcode,
                      sex, ethnicity, valid_from, valid_until, stored_from, stored_until,
                      source_ids_id)
                 SELECT core_demographic_id, mrn_id, firstname, middlename, lastname,
                        date_of_birth, date_of_death, datetime_of_birth, datetime_of_death, alive,
                        home_postcode, sex, ethnicity, valid_from, $13, stored_from, $14,
                        source_ids_id
                 FROM core_demographic WHERE mrn_id = $1)
             UPDATE core_demographic SET
                     firstname = $2, middlename = $3, lastname = $4, date_of_birth = $5,
                     date_of_death = $6, datetime_of_birth = $7, datetime_of_death = $8,
                     alive = $9, home_postcode = $10, sex = $11, ethnicity = $12,
                     valid_from = $13, stored_from = $14, source_ids_id = $15
                 WHERE mrn_id = $1"
        }
    };
    bind_values(sqlx::query(sql).bind(mrn_id), values)
        .bind(context.valid_from)
        .bind(context.stored_from)
        .bind(context.source_ids_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Binds the eleven values in [`COLUMNS`] order.
pub(crate) fn bind_values<'q>(
    query: Query<'q, Postgres, PgArguments>,
    values: &'q Demographics,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(&values.firstname)
        .bind(&values.middlename)
        .bind(&values.lastname)
        .bind(values.date_of_birth)
        .bind(values.date_of_death)
        .bind(values.datetime_of_birth)
        .bind(values.datetime_of_death)
        .bind(values.alive)
        .bind(&values.home_postcode)
        .bind(&values.sex)
        .bind(&values.ethnicity)
}
