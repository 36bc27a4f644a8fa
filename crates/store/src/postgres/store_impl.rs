//! `impl Store for PostgresStore`: the SQLite store's delegation (`crate::store_impl`), on
//! this backend's modules.

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

use super::{
    PostgresStore, accounts, audit, authorizations, blocked_keys, ca_certificates, certificates,
    credentials, crl, customers, domain_validations, mac_keys, nonces, orders, portal, rate_limits,
    refused_requests, validations,
};
use crate::store_impl::store_impl;

store_impl!(PostgresStore);
