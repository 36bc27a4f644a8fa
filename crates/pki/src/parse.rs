//! [`parse_certificate`]: reading a certificate presented for revocation (RFC 8555 §7.6).

use time::OffsetDateTime;
use x509_parser::extensions::{GeneralName, ParsedExtension};

use x509_parser::prelude::FromDer;

use crate::PkiError;
use crate::serial::to_hex;

/// The fields of a presented certificate the revocation flow needs. Parsing only: nothing here
/// says the certificate is ours or valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCertificate {
    /// Serial number, lowercase hex (same form as [`IssuedCertificate::serial_hex`](crate::IssuedCertificate)).
    pub serial_hex: String,
    /// DER SubjectPublicKeyInfo (for revocation signed by the certificate's key).
    pub spki_der: Vec<u8>,
    /// SAN dNSNames, as written.
    pub dns_names: Vec<String>,
    /// DER issuer Name.
    pub issuer_der: Vec<u8>,
    /// The issuer Name as an RFC 4514 string (`CN=…, O=…`), for people.
    pub issuer: String,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// The authorityKeyIdentifier's keyIdentifier (RFC 5280 §4.2.1.1), if present: with the
    /// serial, the certificate's RFC 9773 certID.
    pub authority_key_id: Option<Vec<u8>>,
    /// The subjectKeyIdentifier (RFC 5280 §4.2.1.2), if present: what certificates this one
    /// issues carry as their authorityKeyIdentifier.
    pub subject_key_id: Option<Vec<u8>>,
}

/// Why the certificate `der` does not verify under the key `spki_der` (a DER
/// SubjectPublicKeyInfo), or `None` when it does.
pub(crate) fn signature_fault(der: &[u8], spki_der: &[u8]) -> Option<String> {
    let (_, cert) = match x509_parser::parse_x509_certificate(der) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("does not parse: {e}")),
    };
    let spki = match x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der) {
        Ok((_, spki)) => spki,
        Err(e) => return Some(format!("the key does not parse: {e}")),
    };
    cert.verify_signature(Some(&spki))
        .err()
        .map(|e| format!("does not verify: {e}"))
}

/// Parses one DER certificate (no trailing bytes).
pub fn parse_certificate(der: &[u8]) -> Result<ParsedCertificate, PkiError> {
    let malformed = |detail: String| PkiError::MalformedCertificate { detail };
    let (rest, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes after the certificate",
            rest.len()
        )));
    }
    let san = cert
        .subject_alternative_name()
        .map_err(|e| malformed(format!("subjectAltName: {e}")))?;
    let dns_names = san
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(d) => Some((*d).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut authority_key_id = None;
    let mut subject_key_id = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
            ParsedExtension::SubjectKeyIdentifier(ski) => subject_key_id = Some(ski.0.to_vec()),
            _ => {}
        }
    }
    Ok(ParsedCertificate {
        serial_hex: to_hex(cert.raw_serial()),
        spki_der: cert.public_key().raw.to_vec(),
        dns_names,
        issuer_der: cert.issuer().as_raw().to_vec(),
        issuer: cert.issuer().to_string(),
        not_after: cert.validity().not_after.to_datetime(),
        authority_key_id,
        subject_key_id,
    })
}
