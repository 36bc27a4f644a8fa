//! `Authorization: Bearer ID:SECRET` → the caller: a customer's active API credential or an
//! active operator credential (`Registry::authenticate`, the same argon2 check and failed
//! authentication limit for both). A missing, malformed or wrong credential is 401 with one
//! message, whichever part failed; the right secret of a suspended customer's credential is
//! 403 `unauthorized`.
//!
//! The caller's role decides what a request reaches: a customer's credential its own customer
//! only (a `customer=` naming another is 404, as anything else of another customer is); an
//! operator credential any customer, named by `customer=` (or every customer where a listing
//! allows it), and the operator-only routes ([`Caller::operator`]).

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use ferrite_core::eab::{CustomerView, Principal};
use ferrite_proto::ProblemType;

use crate::AppState;
use crate::problem::ApiError;

/// The authenticated caller, and the request it made (for the operator's audit entry).
pub(super) struct Caller {
    /// Who it is.
    pub(super) principal: Principal,
    /// `METHOD /admin/v1/path?query`, as an operator's change is recorded.
    request: String,
}

/// "No such customer", the same for an unknown name and for another customer's.
fn no_such_customer(name: &str) -> ApiError {
    ApiError::new(
        ProblemType::Malformed,
        format!(
            "there is no customer {name:?} this credential can see; leave customer= out to mean your own customer"
        ),
    )
    .with_status(404)
}

impl Caller {
    /// The credential's id.
    pub(super) fn credential_id(&self) -> &str {
        self.principal.credential_id()
    }

    /// Whether the caller holds an operator credential.
    pub(super) fn is_operator(&self) -> bool {
        matches!(self.principal, Principal::Operator(_))
    }

    /// `Ok` for an operator credential; 403 `unauthorized` for a customer's.
    pub(super) fn operator(&self) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(ApiError::new(
                ProblemType::Unauthorized,
                "this route needs an operator credential (`ferrite credential create --operator`); a customer's credential manages its own customer's credentials, MAC keys, accounts, certificates and validations",
            )
            .with_status(403))
        }
    }

    /// The customer a request concerns: a customer credential's own (`customer` may name it;
    /// another name is 404), or for an operator the customer `customer` names (404 if none
    /// has that name) — `None` when it names none: every customer.
    pub(super) async fn scope(
        &self,
        state: &AppState,
        customer: Option<&str>,
    ) -> Result<Option<CustomerView>, ApiError> {
        let eab = state.ca.eab();
        match (&self.principal, customer) {
            (Principal::Customer(c), named) => {
                let own = eab.customer(&c.customer_id).await?;
                match named {
                    Some(name) if name != own.name => Err(no_such_customer(name)),
                    _ => Ok(Some(own)),
                }
            }
            (Principal::Operator(_), Some(name)) => Ok(Some(eab.customer_by_name(name).await?)),
            (Principal::Operator(_), None) => Ok(None),
        }
    }

    /// [`Caller::scope`] for a route that concerns one customer: an operator must name it
    /// (400 saying how otherwise).
    pub(super) async fn one_customer(
        &self,
        state: &AppState,
        customer: Option<&str>,
    ) -> Result<CustomerView, ApiError> {
        self.scope(state, customer).await?.ok_or_else(|| {
            ApiError::new(
                ProblemType::Malformed,
                "an operator credential acts for any customer: name the customer with ?customer=NAME (GET /admin/v1/customers lists them)",
            )
        })
    }

    /// [`Caller::scope`]'s customer id, for the registry's `within`.
    pub(super) async fn within(
        &self,
        state: &AppState,
        customer: Option<&str>,
    ) -> Result<Option<String>, ApiError> {
        Ok(self.scope(state, customer).await?.map(|c| c.id))
    }

    /// For an operator credential, records the change it asks for as `ferrite` records the
    /// operator's commands (`operator_command`, naming `command` and the credential);
    /// nothing for a customer's credential (its changes are audited by the store alone).
    pub(super) async fn record(&self, state: &AppState, command: &str) {
        if let Principal::Operator(o) = &self.principal {
            state
                .ca
                .eab()
                .record_operator_request(&o.id, command, &self.request, "admin_api")
                .await;
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let missing = || {
            ApiError::new(
                ProblemType::Unauthorized,
                "authenticate with an API credential: send \"Authorization: Bearer ID:SECRET\" (the operator creates one with `ferrite credential create --customer NAME`, or `--operator` for an operator credential)",
            )
            .with_status(401)
        };
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(missing)?;
        let (scheme, token) = value.split_once(' ').ok_or_else(missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(missing());
        }
        let (id, secret) = token.trim().split_once(':').ok_or_else(missing)?;
        // The client's address (behind `admin_trusted_proxies`, the one they forwarded):
        // failed authentications from it are limited
        // (`rate_limits.failed_admin_authentications_per_address`).
        let client = crate::proxy::client_ip(&parts.extensions);
        let principal = state.ca.eab().authenticate_from(id, secret, client).await?;
        if let Principal::Customer(c) = &principal {
            // A refusal from here on is kept in the support trail under this customer, which
            // may then look it up (`GET /requests/{id}`).
            crate::request_id::record_customer(&c.customer_id);
        }
        // The router is nested under the prefix, which the path here no longer has.
        let uri = &parts.uri;
        let request = format!(
            "{} {}{}",
            parts.method,
            super::PREFIX,
            uri.path_and_query().map_or(uri.path(), |p| p.as_str())
        );
        Ok(Caller { principal, request })
    }
}
