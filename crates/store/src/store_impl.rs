//! `impl Store` for both stores: each method delegates to the module that owns its table.
//! Both backends name their modules and functions alike (`accounts::insert`,
//! `mac_keys::bind`, …), so one macro writes both impls: [`store_impl`] is invoked where the
//! backend's modules are in scope (here for SQLite, in `postgres::store_impl` for PostgreSQL).

use ferrite_core::StoreError;
use ferrite_core::model::{
    Account, Activity, ApiCredential, Authorization, BindingRefusal, BlockedKey, CaCertificates,
    CaRecord, Certificate, CertificateFilter, CertificateQuery, CredentialStatus, CrlScope,
    CrlStatus, Customer, DomainValidation, DomainValidationQuery, MacKey, OperatorCredential,
    Order, PortalSession, RefusedRequest, Scope, SharedCrl, StoredCrl, Suspension, ValidationOwner,
    ValidationResult,
};
use ferrite_core::rate_limit::Gcra;
use ferrite_proto::{AuthorizationStatus, Problem};
use time::OffsetDateTime;

use crate::open::SqliteStore;
use crate::{
    accounts, audit, authorizations, blocked_keys, ca_certificates, certificates, credentials, crl,
    customers, domain_validations, mac_keys, nonces, orders, portal, rate_limits, refused_requests,
    validations,
};

/// `impl Store for $store`, each method calling the function of the same job in the module
/// of the same name, resolved where the macro is invoked.
macro_rules! store_impl {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl ferrite_core::Store for $store {
            fn metrics(&self) -> Option<&ferrite_core::metrics::StoreMetrics> {
                Some(self.store_metrics())
            }

            async fn record_ca_certificates(
                &self,
                offered: &CaCertificates,
                now: OffsetDateTime,
            ) -> Result<CaRecord, StoreError> {
                ca_certificates::record(self, offered, now).await
            }

            async fn shared_crl(&self, scope: &CrlScope) -> Result<SharedCrl, StoreError> {
                crl::shared(self, scope).await
            }

            async fn crl_generation(&self, scope: &CrlScope) -> Result<u64, StoreError> {
                crl::generation(self, scope).await
            }

            async fn crl_statuses(
                &self,
                issuer_id: &str,
            ) -> Result<Vec<(CrlScope, CrlStatus)>, StoreError> {
                crl::statuses(self, issuer_id).await
            }

            async fn take_crl_lease(
                &self,
                scope: &CrlScope,
                holder: &str,
                now: OffsetDateTime,
                until: OffsetDateTime,
            ) -> Result<Option<u64>, StoreError> {
                crl::take_lease(self, scope, holder, now, until).await
            }

            async fn store_crl(
                &self,
                scope: &CrlScope,
                holder: &str,
                stored: &StoredCrl,
            ) -> Result<bool, StoreError> {
                crl::store(self, scope, holder, stored).await
            }

            async fn append_audit(
                &self,
                at: OffsetDateTime,
                event: &str,
                subject: &str,
                details: &str,
            ) -> Result<(), StoreError> {
                audit::append(self, at, event, subject, details).await
            }

            async fn seal_audit_log(&self, limit: u32) -> Result<u64, StoreError> {
                audit::seal(self, limit).await
            }

            async fn audit_chain(
                &self,
                after_chain: i64,
                limit: u32,
            ) -> Result<Vec<ferrite_core::audit::AuditEntry>, StoreError> {
                audit::chain(self, after_chain, limit).await
            }

            async fn audit_entries(
                &self,
                since: OffsetDateTime,
                after_seq: i64,
                limit: u32,
            ) -> Result<Vec<ferrite_core::audit::AuditEntry>, StoreError> {
                audit::entries(self, since, after_seq, limit).await
            }

            async fn audit_unsealed(&self) -> Result<u64, StoreError> {
                audit::unsealed(self).await
            }

            async fn nonce_key(&self, candidate: &[u8]) -> Result<Vec<u8>, StoreError> {
                nonces::key(self, candidate).await
            }

            async fn consume_nonce(
                &self,
                nonce: &str,
                expires: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                nonces::consume(self, nonce, expires).await
            }

            async fn purge_nonces(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
                nonces::purge(self, now).await
            }

            async fn record_refused_requests(
                &self,
                refused: &[RefusedRequest],
            ) -> Result<(), StoreError> {
                refused_requests::record(self, refused).await
            }

            async fn refused_request(
                &self,
                request_id: &str,
            ) -> Result<Option<RefusedRequest>, StoreError> {
                refused_requests::get(self, request_id).await
            }

            async fn purge_refused_requests(
                &self,
                before: OffsetDateTime,
            ) -> Result<u64, StoreError> {
                refused_requests::purge(self, before).await
            }

            async fn rate_limit_tats(
                &self,
                keys: &[String],
            ) -> Result<Vec<(String, OffsetDateTime)>, StoreError> {
                rate_limits::tats(self, keys).await
            }

            async fn spend_rate_limit(
                &self,
                key: &str,
                now: OffsetDateTime,
                gcra: &Gcra,
            ) -> Result<Result<OffsetDateTime, OffsetDateTime>, StoreError> {
                rate_limits::spend(self, key, now, gcra).await
            }

            async fn purge_rate_limits(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
                rate_limits::purge(self, now).await
            }

            async fn set_rate_limit_override(
                &self,
                customer_id: &str,
                limit: &str,
                value: Option<u32>,
            ) -> Result<(), StoreError> {
                rate_limits::set_override(self, customer_id, limit, value).await
            }

            async fn rate_limit_overrides(
                &self,
                customer_id: &str,
            ) -> Result<Vec<(String, u32)>, StoreError> {
                rate_limits::overrides(self, customer_id).await
            }

            async fn pending_authorizations(
                &self,
                account_id: &str,
                now: OffsetDateTime,
            ) -> Result<(u64, Option<OffsetDateTime>), StoreError> {
                rate_limits::pending_authorizations(self, account_id, now).await
            }

            async fn insert_account(&self, account: &Account) -> Result<(), StoreError> {
                accounts::insert(self, account).await
            }

            async fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
                accounts::by_id(self, id).await
            }

            async fn account_with_customer(
                &self,
                id: &str,
            ) -> Result<Option<(Account, Option<Customer>)>, StoreError> {
                accounts::with_customer(self, id).await
            }

            async fn account_by_thumbprint(
                &self,
                thumbprint: &str,
            ) -> Result<Option<Account>, StoreError> {
                accounts::by_thumbprint(self, thumbprint).await
            }

            async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
                accounts::update(self, account).await
            }

            async fn change_account_key(
                &self,
                id: &str,
                old_thumbprint: &str,
                new_thumbprint: &str,
                new_jwk: &serde_json::Value,
            ) -> Result<(), StoreError> {
                accounts::change_key(self, id, old_thumbprint, new_thumbprint, new_jwk).await
            }

            async fn insert_order_checked(
                &self,
                order: &Order,
                authorizations: &[Authorization],
                checks: ferrite_core::OrderChecks,
            ) -> Result<ferrite_core::OrderInsert, StoreError> {
                orders::insert(self, order, authorizations, checks).await
            }

            async fn order(&self, id: &str) -> Result<Option<Order>, StoreError> {
                orders::by_id(self, id).await
            }

            async fn order_with_authorizations(
                &self,
                id: &str,
            ) -> Result<Option<(Order, Vec<Authorization>)>, StoreError> {
                orders::with_authorizations(self, id).await
            }

            async fn order_ids_by_account(
                &self,
                account_id: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<String>, StoreError> {
                orders::ids_by_account(self, account_id, after, limit).await
            }

            async fn authorization(&self, id: &str) -> Result<Option<Authorization>, StoreError> {
                authorizations::by_id(self, id).await
            }

            async fn authorizations(
                &self,
                ids: &[String],
            ) -> Result<Vec<Authorization>, StoreError> {
                authorizations::by_ids(self, ids).await
            }

            async fn set_authorization_status(
                &self,
                id: &str,
                from: AuthorizationStatus,
                to: AuthorizationStatus,
            ) -> Result<bool, StoreError> {
                authorizations::set_status(self, id, from, to).await
            }

            async fn start_validation(
                &self,
                challenge_id: &str,
                lease_until: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                validations::start(self, challenge_id, lease_until).await
            }

            async fn finish_validation(
                &self,
                result: &ValidationResult,
            ) -> Result<bool, StoreError> {
                validations::finish(self, result).await
            }

            async fn reap_stale_validations(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
                validations::reap(self, now).await
            }

            async fn begin_finalize(
                &self,
                order_id: &str,
                now: OffsetDateTime,
                lease_until: OffsetDateTime,
            ) -> Result<bool, StoreError> {
                orders::begin_finalize(self, order_id, now, lease_until).await
            }

            async fn complete_order(
                &self,
                order_id: &str,
                cert: &Certificate,
                lease_until: OffsetDateTime,
                counts: &[ferrite_core::RateStep],
            ) -> Result<(), StoreError> {
                certificates::complete_order(self, order_id, cert, lease_until, counts).await
            }

            async fn fail_finalize(
                &self,
                order_id: &str,
                lease_until: OffsetDateTime,
                error: &Problem,
            ) -> Result<(), StoreError> {
                orders::fail_finalize(self, order_id, lease_until, error).await
            }

            async fn reap_stale_finalizations(
                &self,
                now: OffsetDateTime,
            ) -> Result<u64, StoreError> {
                orders::reap_stale_finalizations(self, now).await
            }

            async fn certificate(&self, serial: &str) -> Result<Option<Certificate>, StoreError> {
                certificates::by_serial(self, serial).await
            }

            async fn revoke_certificate(
                &self,
                serial: &str,
                at: OffsetDateTime,
                reason: u8,
            ) -> Result<bool, StoreError> {
                certificates::revoke(self, serial, at, reason).await
            }

            async fn revoked_certificates(
                &self,
                scope: &CrlScope,
                now: OffsetDateTime,
            ) -> Result<Vec<(String, OffsetDateTime, u8)>, StoreError> {
                certificates::revoked(self, scope, now).await
            }

            async fn next_crl_number(&self) -> Result<u64, StoreError> {
                certificates::next_crl_number(self).await
            }

            async fn certificates_matching(
                &self,
                filter: &CertificateFilter,
                now: OffsetDateTime,
                limit: u32,
            ) -> Result<Vec<Certificate>, StoreError> {
                certificates::matching(self, filter, now, limit).await
            }

            async fn advance_renewal(
                &self,
                serials: &[String],
                at: OffsetDateTime,
                explanation_url: Option<&str>,
            ) -> Result<u64, StoreError> {
                certificates::advance_renewal(self, serials, at, explanation_url).await
            }

            async fn certificates_page(
                &self,
                query: &CertificateQuery,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<Certificate>, StoreError> {
                certificates::page(self, query, after, limit).await
            }

            async fn revoke_certificate_blocking_key(
                &self,
                serial: &str,
                at: OffsetDateTime,
                reason: u8,
                block: &BlockedKey,
            ) -> Result<bool, StoreError> {
                certificates::revoke_blocking_key(self, serial, at, reason, block).await
            }

            async fn block_key(&self, key: &BlockedKey) -> Result<bool, StoreError> {
                blocked_keys::block(self, key).await
            }

            async fn unblock_key(&self, spki_sha256: &str) -> Result<bool, StoreError> {
                blocked_keys::unblock(self, spki_sha256).await
            }

            async fn blocked_key(
                &self,
                spki_sha256: &str,
            ) -> Result<Option<BlockedKey>, StoreError> {
                blocked_keys::by_hash(self, spki_sha256).await
            }

            async fn blocked_keys(&self) -> Result<Vec<BlockedKey>, StoreError> {
                blocked_keys::all(self).await
            }

            async fn insert_customer(&self, customer: &Customer) -> Result<(), StoreError> {
                customers::insert(self, customer).await
            }

            async fn customer(&self, id: &str) -> Result<Option<Customer>, StoreError> {
                customers::by_id(self, id).await
            }

            async fn customer_by_name(&self, name: &str) -> Result<Option<Customer>, StoreError> {
                customers::by_name(self, name).await
            }

            async fn customers(&self) -> Result<Vec<Customer>, StoreError> {
                customers::all(self).await
            }

            async fn set_customer_profiles(
                &self,
                customer_id: &str,
                profiles: Option<&[String]>,
            ) -> Result<bool, StoreError> {
                customers::set_profiles(self, customer_id, profiles).await
            }

            async fn set_customer_suspension(
                &self,
                customer_id: &str,
                suspension: Option<&Suspension>,
            ) -> Result<bool, StoreError> {
                customers::set_suspension(self, customer_id, suspension).await
            }

            async fn insert_credential(
                &self,
                credential: &ApiCredential,
            ) -> Result<(), StoreError> {
                credentials::insert(self, credential).await
            }

            async fn credential(&self, id: &str) -> Result<Option<ApiCredential>, StoreError> {
                credentials::by_id(self, id).await
            }

            async fn credentials(
                &self,
                customer_id: Option<&str>,
            ) -> Result<Vec<ApiCredential>, StoreError> {
                credentials::list(self, customer_id).await
            }

            async fn set_credential_status(
                &self,
                id: &str,
                status: CredentialStatus,
            ) -> Result<bool, StoreError> {
                credentials::set_status(self, id, status).await
            }

            async fn insert_operator_credential(
                &self,
                credential: &OperatorCredential,
            ) -> Result<(), StoreError> {
                credentials::insert_operator(self, credential).await
            }

            async fn operator_credential(
                &self,
                id: &str,
            ) -> Result<Option<OperatorCredential>, StoreError> {
                credentials::operator_by_id(self, id).await
            }

            async fn operator_credentials(&self) -> Result<Vec<OperatorCredential>, StoreError> {
                credentials::operators(self).await
            }

            async fn set_operator_credential_status(
                &self,
                id: &str,
                status: CredentialStatus,
            ) -> Result<bool, StoreError> {
                credentials::set_operator_status(self, id, status).await
            }

            async fn insert_mac_key(&self, key: &MacKey) -> Result<(), StoreError> {
                mac_keys::insert(self, key).await
            }

            async fn disable_mac_key(&self, kid: &str) -> Result<bool, StoreError> {
                mac_keys::disable(self, kid).await
            }

            async fn mac_key(&self, kid: &str) -> Result<Option<MacKey>, StoreError> {
                mac_keys::by_kid(self, kid).await
            }

            async fn mac_keys(&self, scope: &Scope) -> Result<Vec<MacKey>, StoreError> {
                mac_keys::list(self, scope).await
            }

            async fn insert_account_with_binding(
                &self,
                account: &Account,
                kid: &str,
                now: OffsetDateTime,
            ) -> Result<Result<(), BindingRefusal>, StoreError> {
                mac_keys::bind(self, account, kid, now).await
            }

            async fn accounts_in_scope(&self, scope: &Scope) -> Result<Vec<Account>, StoreError> {
                accounts::in_scope(self, scope).await
            }

            async fn reusable_domain_validations(
                &self,
                owner: &ValidationOwner,
                domains: &[String],
                since: OffsetDateTime,
            ) -> Result<Vec<DomainValidation>, StoreError> {
                domain_validations::reusable(self, owner, domains, since).await
            }

            async fn domain_validations(
                &self,
                scope: &Scope,
            ) -> Result<Vec<DomainValidation>, StoreError> {
                domain_validations::list(self, scope).await
            }

            async fn order_profiles(
                &self,
                order_ids: &[String],
            ) -> Result<Vec<(String, Option<String>)>, StoreError> {
                orders::profiles(self, order_ids).await
            }

            async fn domain_validations_page(
                &self,
                query: &DomainValidationQuery,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<DomainValidation>, StoreError> {
                domain_validations::page(self, query, after, limit).await
            }

            async fn insert_portal_session(
                &self,
                session: &PortalSession,
            ) -> Result<(), StoreError> {
                portal::insert(self, session).await
            }

            async fn portal_session(
                &self,
                token_hash: &str,
                now: OffsetDateTime,
            ) -> Result<Option<PortalSession>, StoreError> {
                portal::get(self, token_hash, now).await
            }

            async fn delete_portal_session(&self, token_hash: &str) -> Result<bool, StoreError> {
                portal::delete(self, token_hash).await
            }

            async fn end_portal_sessions(&self, scope: &Scope) -> Result<u64, StoreError> {
                portal::end(self, scope).await
            }

            async fn purge_portal_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
                portal::purge(self, now).await
            }

            async fn activity(
                &self,
                customer_id: Option<&str>,
                since: OffsetDateTime,
            ) -> Result<Activity, StoreError> {
                portal::activity(self, customer_id, since).await
            }
        }
    };
}
pub(crate) use store_impl;

store_impl!(SqliteStore);
