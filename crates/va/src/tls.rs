//! TLS client settings for tls-alpn-01 and for https redirects of http-01.
//!
//! Both accept any server certificate, as Let's Encrypt does: tls-alpn-01's
//! certificate is self-signed by design (RFC 8737 §3), and an https redirect
//! target proves nothing by its certificate, only by the body it serves. The
//! handshake signatures are still verified with the provider's algorithms, so
//! the peer must hold the key of the certificate it shows.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::key_authorization::ACME_TLS_1_ALPN;

/// Accepts every certificate chain; checks handshake signatures.
#[derive(Debug)]
struct AnyServerCert {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_with_certificate_key(&self.algorithms, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // RFC 8446 §4.2.3: no PKCS#1 v1.5 and no SHA-1 in TLS 1.3.
        let tls13 = matches!(
            dss.scheme,
            SignatureScheme::ECDSA_NISTP256_SHA256
                | SignatureScheme::ECDSA_NISTP384_SHA384
                | SignatureScheme::ECDSA_NISTP521_SHA512
                | SignatureScheme::RSA_PSS_SHA256
                | SignatureScheme::RSA_PSS_SHA384
                | SignatureScheme::RSA_PSS_SHA512
                | SignatureScheme::ED25519
                | SignatureScheme::ED448
        );
        if !tls13 {
            return Err(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into());
        }
        verify_with_certificate_key(&self.algorithms, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Verifies a handshake signature with the public key of `cert`.
///
/// Not `rustls::crypto::verify_tls1x_signature`: those parse the certificate
/// with webpki, which refuses an unknown critical extension, and RFC 8737's
/// acmeIdentifier is exactly that. Here the certificate is parsed with
/// x509-parser and only its SubjectPublicKeyInfo is used; the algorithm is
/// one the provider maps to `dss.scheme` whose key type matches the SPKI.
fn verify_with_certificate_key(
    algorithms: &WebPkiSupportedAlgorithms,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let bad_encoding = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
    let (_, parsed) = X509Certificate::from_der(cert.as_ref()).map_err(|_| bad_encoding())?;
    let spki = &parsed.tbs_certificate.subject_pki;
    let key_algorithm = algorithm_identifier_contents(spki.raw).ok_or_else(bad_encoding)?;
    let public_key = spki.subject_public_key.data.as_ref();
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, algs)| *algs)
        .ok_or(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
    let mut any_matching_key = false;
    for alg in candidates {
        if alg.public_key_alg_id().as_ref() != key_algorithm {
            continue;
        }
        any_matching_key = true;
        if alg
            .verify_signature(public_key, message, dss.signature())
            .is_ok()
        {
            return Ok(HandshakeSignatureValid::assertion());
        }
    }
    Err(rustls::Error::InvalidCertificate(if any_matching_key {
        CertificateError::BadSignature
    } else {
        CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
            signature_algorithm_id: Vec::new(),
            public_key_algorithm_id: key_algorithm.to_vec(),
        }
    }))
}

/// The contents of the AlgorithmIdentifier SEQUENCE at the start of a DER
/// SubjectPublicKeyInfo (the form `SignatureVerificationAlgorithm` uses).
fn algorithm_identifier_contents(spki: &[u8]) -> Option<&[u8]> {
    let (tag, outer, _) = der_tlv(spki)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, algorithm, _) = der_tlv(outer)?;
    (tag == 0x30).then_some(algorithm)
}

/// One DER TLV: (tag, contents, rest). Short and long definite lengths.
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A client config that accepts every server certificate and still verifies the handshake
/// signature with the certificate's key, offering the single ALPN protocol `alpn`.
///
/// The VA's own clients use it (tls-alpn-01, https redirects); so do tests that look at what a
/// server presents rather than whether a client would trust it.
pub fn any_certificate_client_config(alpn: &[u8]) -> Result<ClientConfig, rustls::Error> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let verifier = Arc::new(AnyServerCert {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// RFC 8737 §3: offer exactly the "acme-tls/1" protocol.
pub(crate) fn tlsalpn01_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    any_certificate_client_config(ACME_TLS_1_ALPN).map(Arc::new)
}

/// An https redirect target speaks HTTP/1.1 (the hyper client we drive).
pub(crate) fn https_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    any_certificate_client_config(b"http/1.1").map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_tlv_reads_short_and_long_lengths() {
        assert_eq!(
            der_tlv(&[0x04, 0x02, 1, 2, 9]),
            Some((0x04, &[1u8, 2][..], &[9u8][..]))
        );
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let (tag, contents, rest) = der_tlv(&long).unwrap();
        assert_eq!((tag, contents.len(), rest.len()), (0x04, 0x80, 0));
        assert_eq!(der_tlv(&[0x04, 0x05, 1]), None, "truncated");
        assert_eq!(der_tlv(&[0x04, 0x80]), None, "indefinite length");
    }

    #[test]
    fn algorithm_identifier_of_a_p256_spki() {
        // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING }
        let alg = [
            0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
            0xce, 0x3d, 0x03, 0x01, 0x07,
        ];
        let mut spki = vec![0x30, 0x00, 0x30, alg.len() as u8];
        spki.extend_from_slice(&alg);
        spki.extend_from_slice(&[0x03, 0x02, 0x00, 0x04]);
        spki[1] = (spki.len() - 2) as u8;
        assert_eq!(algorithm_identifier_contents(&spki), Some(&alg[..]));
        assert_eq!(
            alg.as_slice(),
            rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms
                .all
                .iter()
                .map(|a| a.public_key_alg_id())
                .find(|id| id.as_ref() == alg.as_slice())
                .unwrap()
                .as_ref()
        );
    }
}
