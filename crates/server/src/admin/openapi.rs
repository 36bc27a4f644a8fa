//! The admin API's OpenAPI 3.1 document, served at `GET /admin/v1/openapi.json`. It is built
//! from the handlers' `#[utoipa::path]` attributes and their request and response types as the
//! router is built (`utoipa_axum::routes!` registers a handler and its description together),
//! so a routed path cannot be missing from it and a type cannot differ from what is sent.

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// An RFC 8555 / RFC 7807 problem document, as every error of the admin API is sent
/// (`application/problem+json`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) struct ProblemDocument {
    /// `urn:ietf:params:acme:error:…` (`malformed`, `unauthorized`, `alreadyRevoked`, …).
    #[schema(rename = "type")]
    kind: String,
    /// What went wrong and what to do.
    detail: String,
    /// The HTTP status.
    status: u16,
    /// The request id to quote to the operator (also in the `X-Request-Id` header).
    #[schema(rename = "requestId")]
    request_id: String,
}

/// The document's frame: title, the path prefix every route is under, the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ferrite admin API",
        description = "A customer's API credentials, EAB MAC keys, ACME accounts, certificate profiles, certificates, domain validations and usage against its limits; for an operator credential, customers and the support trail too. Authenticate with `Authorization: Bearer ID:SECRET`: a customer's credential sees and changes only its own customer's data; an operator credential (`ferrite credential create --operator`) acts for any customer (`?customer=NAME`) and reaches the operator-only routes. Errors are problem documents."
    ),
    servers((url = "/admin/v1")),
    components(schemas(ProblemDocument)),
    modifiers(&BearerScheme)
)]
pub(super) struct ApiDoc;

/// Adds the `bearer` security scheme the handlers name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("ID:SECRET")
                    .build(),
            ),
        );
    }
}

/// The document as served, rendered once when the router is built.
static DOCUMENT: OnceLock<String> = OnceLock::new();

/// Keeps the rendered document for [`serve`] (the first router built sets it; every router
/// describes the same routes).
pub(super) fn publish(doc: &utoipa::openapi::OpenApi) {
    DOCUMENT.get_or_init(|| doc.to_json().unwrap_or_default());
}

/// `GET /openapi.json`: this document (no credential needed: it describes, it shows no data).
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)))]
pub(super) async fn serve() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        DOCUMENT.get().cloned().unwrap_or_default(),
    )
        .into_response()
}
