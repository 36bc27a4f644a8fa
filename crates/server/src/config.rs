//! What the HTTP layer needs to know about where it is reachable.

/// URLs and directory metadata.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The ACME base URL as clients reach it, without a trailing slash, e.g.
    /// `https://127.0.0.1:14000`. Every resource URL and every JWS `url` check uses it.
    pub base_url: String,
    /// `meta.termsOfService`.
    pub terms_of_service: Option<String>,
    /// `meta.website`.
    pub website: Option<String>,
    /// The root certificate PEM served at `/ca/root.pem`.
    pub root_pem: String,
    /// Whether ACME clients must be told to trust [`ServerConfig::root_pem`] to reach the ACME
    /// listener (Ferrite issued the listener's certificate); `false` when the operator's or a
    /// proxy's certificate is served. The portal's client commands then name no root.
    pub clients_need_root: bool,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// How long a handler waits for a whole request body, from the request's start (the
    /// request-body guard); a client trickling a body is answered and cut off then.
    pub body_read_timeout: std::time::Duration,
    /// The ACME listener's certificate (its notAfter is shown in `/metrics`).
    pub listener: Option<std::sync::Arc<crate::tls::ListenerCertificate>>,
    /// Behind a TLS-terminating proxy: the proxies the ACME listener takes requests from (the
    /// listener then speaks plain HTTP); `None`: the listener terminates TLS itself.
    pub trusted_proxies: Option<std::sync::Arc<crate::proxy::TrustedProxies>>,
    /// The proxies in front of the admin listener whose forwarded client addresses are
    /// believed (the failed-authentication limit counts those clients); other callers still
    /// reach it directly. `None`: every caller is its connection's peer.
    pub admin_trusted_proxies: Option<std::sync::Arc<crate::proxy::TrustedProxies>>,
    /// Multi-perspective corroboration's per-perspective series, shown in `/metrics`;
    /// `None` when validations are not corroborated.
    pub mpic_metrics: Option<std::sync::Arc<ferrite_core::metrics::MpicMetrics>>,
    /// Certificate Transparency's per-log series, shown in `/metrics`; `None` without `[ct]`
    /// logs.
    pub ct_metrics: Option<std::sync::Arc<ferrite_core::metrics::CtMetrics>>,
}

impl ServerConfig {
    /// A config with defaults for everything but the base URL and root.
    pub fn new(base_url: impl Into<String>, root_pem: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            terms_of_service: None,
            website: None,
            root_pem: root_pem.into(),
            clients_need_root: true,
            max_body_bytes: 64 * 1024,
            body_read_timeout: std::time::Duration::from_secs(30),
            listener: None,
            trusted_proxies: None,
            admin_trusted_proxies: None,
            mpic_metrics: None,
            ct_metrics: None,
        }
    }

    /// The directory URL.
    pub fn directory_url(&self) -> String {
        format!("{}{}", self.base_url, crate::acme::paths::DIRECTORY)
    }

    /// Account URLs are this prefix followed by the account id: the `kid` of every request
    /// signed by an account, and what CAA `accounturi` parameters name (RFC 8657 §3).
    pub fn account_url_prefix(&self) -> String {
        format!("{}{}", self.base_url, crate::acme::paths::ACCOUNT)
    }
}
