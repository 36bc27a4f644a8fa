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
    /// `meta.caaIdentities`.
    pub caa_identities: Vec<String>,
    /// The root certificate PEM served at `/ca/root.pem`.
    pub root_pem: String,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
}

impl ServerConfig {
    /// A config with defaults for everything but the base URL and root.
    pub fn new(base_url: impl Into<String>, root_pem: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            terms_of_service: None,
            website: None,
            caa_identities: Vec::new(),
            root_pem: root_pem.into(),
            max_body_bytes: 64 * 1024,
        }
    }

    /// The directory URL.
    pub fn directory_url(&self) -> String {
        format!("{}/directory", self.base_url)
    }
}
