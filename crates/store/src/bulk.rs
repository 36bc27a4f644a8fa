//! Bulk loading: many rows in one transaction, outside the ACME flow. For seeding a database
//! (the growth benchmark of `ferrite-seed`: a million certificates without a million ACME
//! issuances) and, later, for importing another CA's records.

use ferrite_core::StoreError;
use ferrite_core::model::{Account, Authorization, Certificate, DomainValidation, Order};

use crate::open::SqliteStore;
use crate::{accounts, certificates, domain_validations, orders};

/// Rows for [`SqliteStore::bulk_insert`], inserted in this order: accounts, orders (each with
/// the authorizations it creates), certificates, domain validations. References must point to
/// rows inserted earlier in the same batch or already stored (foreign keys are enforced).
#[derive(Debug, Default)]
pub struct BulkRows {
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Orders with their new authorizations (and their challenges).
    pub orders: Vec<(Order, Vec<Authorization>)>,
    /// Certificates with the id of the order that issued them.
    pub certificates: Vec<(String, Certificate)>,
    /// Domain validations.
    pub domain_validations: Vec<DomainValidation>,
}

impl SqliteStore {
    /// Inserts every row of `rows` in one transaction (all or nothing) through the same
    /// statements the ACME flow uses, without its state checks: the caller vouches that the
    /// rows are consistent (e.g. an order `valid` with its certificate serial set). A
    /// duplicate key is [`StoreError::Conflict`] and inserts nothing.
    ///
    /// Keep batches to some tens of thousands of rows: the writer thread runs the whole batch
    /// as one job, and other writers wait for it.
    pub async fn bulk_insert(&self, rows: BulkRows) -> Result<(), StoreError> {
        self.db
            .write(move |conn| {
                for account in &rows.accounts {
                    accounts::insert_in(conn, account)?;
                }
                for (order, authorizations) in &rows.orders {
                    orders::insert_in(conn, order, authorizations)?;
                }
                for (order_id, cert) in &rows.certificates {
                    certificates::insert_in(conn, order_id, cert)?;
                }
                for v in &rows.domain_validations {
                    domain_validations::insert_in(conn, v)?;
                }
                Ok(())
            })
            .await
    }
}
