//! tls-alpn-01 (RFC 8737).

use std::net::SocketAddr;

use rustls_pki_types::ServerName;
use tokio_rustls::TlsConnector;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

use crate::dial;
use crate::key_authorization::{ACME_TLS_1_ALPN, ID_PE_ACME_IDENTIFIER, tlsalpn01_extension_value};
use crate::record::{FailureKind, Problem, ValidationRecord, excerpt};
use crate::va::Inner;

pub(crate) const METHOD: &str = "tls-alpn-01";

pub(crate) async fn validate(
    va: &Inner,
    record: &mut ValidationRecord,
    domain: &str,
    key_authorization: &str,
) -> Result<(), Problem> {
    let port = va.config.tlsalpn01_port;
    record.port = Some(port);
    let addresses = va.resolve.addresses(domain).await?;
    let (tcp, target) = dial::connect(
        record,
        domain,
        &addresses,
        port,
        va.config.allow_private_addresses,
        va.connect_timeout,
    )
    .await?;

    // RFC 8737 §3: "the ACME server [...] initiates a TLS connection [...]
    // The ACME server MUST provide an ALPN extension with the single protocol
    // name "acme-tls/1" and an SNI extension containing only the domain name
    // being validated".
    let server_name = ServerName::try_from(domain.to_owned()).map_err(|err| {
        Problem::new(
            FailureKind::Dns,
            format!("{domain:?} cannot be used as a TLS server name: {err}"),
        )
    })?;
    let tls = TlsConnector::from(va.tlsalpn01.clone())
        .connect(server_name, tcp)
        .await
        .map_err(|err| {
            Problem::new(
                FailureKind::Tls,
                format!(
                    "TLS handshake with {domain} at {target} failed: {err}; the server must accept ALPN \"acme-tls/1\" and present the challenge certificate for SNI {domain}"
                ),
            )
        })?;
    let (_, connection) = tls.get_ref();

    // RFC 8737 §5: "the ACME server [...] MUST verify that the server
    // negotiated the "acme-tls/1" protocol".
    if connection.alpn_protocol() != Some(ACME_TLS_1_ALPN) {
        let got = connection
            .alpn_protocol()
            .map_or_else(|| "none".to_owned(), excerpt);
        return Err(Problem::new(
            FailureKind::Tls,
            format!(
                "The server for {domain} at {target} did not negotiate ALPN protocol \"acme-tls/1\" (negotiated: {got}); configure it to answer tls-alpn-01"
            ),
        ));
    }
    let Some(certificate) = connection.peer_certificates().and_then(|c| c.first()) else {
        return Err(Problem::new(
            FailureKind::Tls,
            format!("The server for {domain} at {target} presented no certificate"),
        ));
    };
    check_certificate(certificate.as_ref(), domain, key_authorization)
        .map_err(|why| incorrect(domain, target, &why))
}

fn incorrect(domain: &str, target: SocketAddr, why: &str) -> Problem {
    Problem::new(
        FailureKind::IncorrectResponse,
        format!("The tls-alpn-01 certificate for {domain} at {target} {why}"),
    )
}

/// RFC 8737 §3 checks on the challenge certificate; the error completes the
/// sentence "The tls-alpn-01 certificate for D at A ...".
pub(crate) fn check_certificate(
    der: &[u8],
    domain: &str,
    key_authorization: &str,
) -> Result<(), String> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|err| format!("cannot be parsed as X.509: {err}"))?;

    // RFC 8737 §3: "The certificate MUST contain a subjectAltName extension
    // containing the dNSName being validated and no other entries."
    let san = cert
        .subject_alternative_name()
        .map_err(|err| format!("has an unparsable subjectAltName: {err}"))?
        .ok_or_else(|| {
            format!("has no subjectAltName; it must have exactly one, the dNSName {domain}")
        })?;
    let names = &san.value.general_names;
    let exactly_domain = matches!(
        names.as_slice(),
        [GeneralName::DNSName(name)] if name.eq_ignore_ascii_case(domain.trim_end_matches('.'))
    );
    if !exactly_domain {
        let seen = names
            .iter()
            .map(|n| format!("{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(format!(
            "has subjectAltName [{seen}]; it must have exactly one entry, the dNSName {domain}"
        ));
    }

    // RFC 8737 §3: "The certificate MUST include the acmeIdentifier extension
    // [...] The extension MUST be marked critical", and its extnValue is the
    // DER OCTET STRING of SHA-256(key authorization).
    let Some(extension) = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == ID_PE_ACME_IDENTIFIER)
    else {
        return Err(format!(
            "has no acmeIdentifier extension ({ID_PE_ACME_IDENTIFIER})"
        ));
    };
    if !extension.critical {
        return Err(
            "has an acmeIdentifier extension that is not marked critical; RFC 8737 requires it critical"
                .to_owned(),
        );
    }
    let expected = tlsalpn01_extension_value(key_authorization);
    if extension.value != expected.as_slice() {
        return Err(format!(
            "has acmeIdentifier {}, expected {} (DER OCTET STRING of SHA-256 of the key authorization)",
            hex(extension.value),
            hex(&expected)
        ));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
