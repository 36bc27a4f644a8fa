//! [`CaOptions`] and [`IssuerUrls`]: what the operator decides about the CA.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::PkiError;

/// Where relying parties fetch the issuer certificate and the CRLs (plain `http://` URLs;
/// chosen by the server).
///
/// `ca_issuers` (the intermediate certificate, DER) goes into every leaf and into the
/// intermediate. A leaf's CRL distribution point is one of its issuer's `crl_shards` CRL
/// shards, [`IssuerUrls::crl_shard_url`]: the shard is fixed by the serial
/// ([`crl_shard_of`](crate::crl_shard_of)), so each CRL stays small however many
/// certificates are revoked. `crl` itself is the intermediate's distribution point and the
/// one CRL of certificates issued before there were shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerUrls {
    /// Authority Information Access `caIssuers` URL (RFC 5280 §4.2.2.1).
    pub ca_issuers: String,
    /// CRL Distribution Point URL (RFC 5280 §4.2.1.13) of the unsharded CRL, and the base of
    /// the shards' URLs.
    pub crl: String,
    /// How many CRL shards each issuer's certificates are spread over (1 to
    /// [`MAX_CRL_SHARDS`]).
    pub crl_shards: u32,
}

/// At most this many CRL shards per issuer: each is signed again every refresh, so the
/// number bounds the CA's signing work however many certificates there are.
pub const MAX_CRL_SHARDS: u32 = 1024;

/// What the operator chooses about the CA. Only read when the CA is created, except `urls`,
/// which every issuance uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaOptions {
    /// Subject organizationName of the root and the intermediate ("Ferrite").
    pub organization: String,
    /// Subject countryName: a two-letter ISO 3166 code ("US").
    pub country: String,
    /// The root's commonName; `None`: "{organization} Root CA {random id}".
    pub root_common_name: Option<String>,
    /// The intermediate's commonName; `None`: "{organization} Issuing CA {random id}".
    pub intermediate_common_name: Option<String>,
    /// DNS names of the ACME listener's TLS certificate.
    pub tls_dns_names: Vec<String>,
    /// IP addresses of the ACME listener's TLS certificate.
    pub tls_ips: Vec<IpAddr>,
    /// URLs written into issued certificates.
    pub urls: IssuerUrls,
}

impl CaOptions {
    /// Defaults: organization "Ferrite", country "US", CA names from the organization, TLS names `localhost`, `127.0.0.1`, `::1`.
    pub fn new(urls: IssuerUrls) -> Self {
        CaOptions {
            organization: "Ferrite".to_owned(),
            country: "US".to_owned(),
            root_common_name: None,
            intermediate_common_name: None,
            tls_dns_names: vec!["localhost".to_owned()],
            tls_ips: vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
            urls,
        }
    }

    /// Checks what can be checked before anything is generated.
    pub fn validate(&self) -> Result<(), PkiError> {
        if self.organization.trim().is_empty() || self.organization.len() > 64 {
            return Err(PkiError::InvalidOptions {
                field: "organization",
                reason: "must be 1 to 64 characters".into(),
            });
        }
        // RFC 5280 Appendix A: countryName is a PrintableString of exactly two letters (ISO 3166).
        if self.country.len() != 2 || !self.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PkiError::InvalidOptions {
                field: "country",
                reason: format!(
                    "{:?} is not a two-letter upper-case ISO 3166 code such as \"US\"",
                    self.country
                ),
            });
        }
        for (field, name) in [
            ("root_common_name", &self.root_common_name),
            ("intermediate_common_name", &self.intermediate_common_name),
        ] {
            if let Some(name) = name
                && (name.trim().is_empty() || name.len() > 64)
            {
                return Err(PkiError::InvalidOptions {
                    field,
                    reason: "must be 1 to 64 characters (RFC 5280 ub-common-name)".into(),
                });
            }
        }
        if self.root_common_name.is_some() && self.root_common_name == self.intermediate_common_name
        {
            return Err(PkiError::InvalidOptions {
                field: "intermediate_common_name",
                reason: "must differ from root_common_name (a CA's name identifies it in a chain)"
                    .into(),
            });
        }
        if self.tls_dns_names.is_empty() && self.tls_ips.is_empty() {
            return Err(PkiError::InvalidOptions {
                field: "tls_dns_names",
                reason: "the listener certificate needs at least one DNS name or IP address".into(),
            });
        }
        self.urls.validate()
    }
}

impl IssuerUrls {
    /// The URL of CRL shard `shard` of the issuer whose [`Issuer::id`](crate::Issuer::id) is
    /// `issuer_id`: `{crl}/{issuer_id}/{shard}.crl`.
    pub fn crl_shard_url(&self, issuer_id: &str, shard: u32) -> String {
        format!("{}/{issuer_id}/{shard}.crl", self.crl)
    }

    /// Baseline Requirements §7.1.2.7.7 / §7.1.2.11.2: AIA and CRL DP are `http://` URLs.
    pub(crate) fn validate(&self) -> Result<(), PkiError> {
        if !(1..=MAX_CRL_SHARDS).contains(&self.crl_shards) {
            return Err(PkiError::InvalidOptions {
                field: "urls.crl_shards",
                reason: format!(
                    "{} CRL shards: choose 1 to {MAX_CRL_SHARDS}",
                    self.crl_shards
                ),
            });
        }
        for (field, url) in [
            ("urls.ca_issuers", &self.ca_issuers),
            ("urls.crl", &self.crl),
        ] {
            let ok = url.starts_with("http://")
                && url.len() > "http://".len()
                && url.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return Err(PkiError::InvalidOptions {
                    field,
                    reason: format!("{url:?} must be a plain http:// URL without spaces"),
                });
            }
        }
        Ok(())
    }
}
