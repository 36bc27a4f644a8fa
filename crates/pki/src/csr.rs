//! RFC 8555 §7.4 finalize: parsing the client's PKCS#10 CSR (RFC 2986) and the CA's policy on it.

use aws_lc_rs::signature::VerificationAlgorithm;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::signature::verify;
use crate::weak_keys::{self, DEFAULT_FERMAT_ROUNDS, KeyBlocklist};
use crate::{CsrError, KeyKind, SignatureAlgorithm};

/// `id-ce-extKeyUsage` (RFC 5280 §4.2.1.12).
const OID_EXT_KEY_USAGE: &str = "2.5.29.37";

/// A CSR whose self-signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    /// The requested names: subjectAltName dNSNames plus the subject commonName, lowercased,
    /// sorted, deduplicated. RFC 8555 §7.4: the caller compares them to the order's identifiers.
    pub names: Vec<String>,
    /// The exact DER SubjectPublicKeyInfo; the certificate carries these very bytes.
    pub spki_der: Vec<u8>,
    /// The algorithm the CSR is signed with.
    pub signature_algorithm: SignatureAlgorithm,
    /// The kind of public key.
    pub key: KeyKind,
    /// Whether the CSR requests an Extended Key Usage extension (refused by [`CsrPolicy`]).
    pub has_extended_key_usage: bool,
    /// Whether the CSR requests IP address subjectAltNames (refused by [`CsrPolicy`]).
    pub has_ip_addresses: bool,
}

impl Csr {
    /// Parses a DER CSR and verifies its self-signature.
    ///
    /// Never panics on hostile input. Besides `Malformed` and `BadSignature` it returns
    /// `BadPublicKey` for RSA keys outside 2048..=8192 bits and for key kinds no policy
    /// can accept when their signature cannot be checked, and `DisallowedSignatureAlgorithm`
    /// for algorithms it cannot check at all (RSA-PSS, unknown OIDs): the caller does not need
    /// to tell those apart from a policy refusal.
    pub fn parse(der: &[u8]) -> Result<Csr, CsrError> {
        let request = SignedRequest::read(der)?;
        request.verify_signature()?;
        request.into_csr()
    }

    /// [`Csr::parse`] without the signature check, so that the fuzz targets reach the reading
    /// of names and extensions with inputs they cannot sign.
    #[cfg(fuzzing)]
    pub(crate) fn parse_ignoring_signature(der: &[u8]) -> Result<Csr, CsrError> {
        SignedRequest::read(der)?.into_csr()
    }
}

/// A CSR whose structure, key and signature algorithm have been read, in the three steps of
/// [`Csr::parse`]: read, verify the signature, read the requested names and extensions.
struct SignedRequest<'a> {
    csr: X509CertificationRequest<'a>,
    key: KeyKind,
    signature_algorithm: SignatureAlgorithm,
    verifier: &'static dyn VerificationAlgorithm,
}

impl<'a> SignedRequest<'a> {
    fn read(der: &'a [u8]) -> Result<Self, CsrError> {
        let (rest, csr) =
            X509CertificationRequest::from_der(der).map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} bytes after the CSR", rest.len())));
        }
        let info = &csr.certification_request_info;
        // RFC 2986 §4.1: version is 0 (v1).
        if info.version.0 != 0 {
            return Err(malformed(format!("version {} (must be 0)", info.version.0)));
        }

        let key = KeyKind::of(&info.subject_pki).map_err(malformed)?;
        let signature_algorithm = SignatureAlgorithm::from_identifier(&csr.signature_algorithm);

        if let KeyKind::Rsa { bits, .. } = key
            && !(2048..=8192).contains(&bits)
        {
            return Err(CsrError::BadPublicKey {
                key,
                reason: format!("a {bits}-bit RSA modulus is outside 2048..=8192 bits"),
                rsa_min_bits: CsrPolicy::default().rsa_min_bits,
                rsa_max_bits: CsrPolicy::default().rsa_max_bits,
            });
        }

        let Some(verifier) = signature_algorithm.verifier(&key) else {
            return Err(match key {
                KeyKind::Rsa { .. } | KeyKind::EcP256 | KeyKind::EcP384 => {
                    CsrError::DisallowedSignatureAlgorithm {
                        algorithm: signature_algorithm,
                    }
                }
                other => CsrError::BadPublicKey {
                    key: other,
                    reason: "this key type is not supported".into(),
                    rsa_min_bits: CsrPolicy::default().rsa_min_bits,
                    rsa_max_bits: CsrPolicy::default().rsa_max_bits,
                },
            });
        };
        Ok(SignedRequest {
            csr,
            key,
            signature_algorithm,
            verifier,
        })
    }

    /// RFC 2986 §4.2: the signature is over the DER CertificationRequestInfo, made with the
    /// private key that belongs to subjectPKInfo.
    fn verify_signature(&self) -> Result<(), CsrError> {
        let info = &self.csr.certification_request_info;
        if verify(
            self.verifier,
            &info.subject_pki.subject_public_key.data,
            info.raw,
            &self.csr.signature_value.data,
        ) {
            Ok(())
        } else {
            Err(CsrError::BadSignature)
        }
    }

    /// The requested names and the extensions the policy looks at.
    fn into_csr(self) -> Result<Csr, CsrError> {
        let info = &self.csr.certification_request_info;
        let mut names = Vec::new();
        for cn in info.subject.iter_common_name() {
            let cn = cn
                .as_str()
                .map_err(|e| malformed(format!("subject commonName: {e}")))?;
            names.push(requested_name("commonName", cn)?);
        }

        let mut has_extended_key_usage = false;
        let mut has_ip_addresses = false;
        for attr in info.iter_attributes() {
            let ParsedCriAttribute::ExtensionRequest(request) = attr.parsed_attribute() else {
                continue;
            };
            for ext in &request.extensions {
                if ext.oid.to_id_string() == OID_EXT_KEY_USAGE {
                    has_extended_key_usage = true;
                }
                match ext.parsed_extension() {
                    ParsedExtension::ParseError { error } => {
                        return Err(malformed(format!(
                            "requested extension {}: {error}",
                            ext.oid.to_id_string()
                        )));
                    }
                    ParsedExtension::SubjectAlternativeName(san) => {
                        for name in &san.general_names {
                            match name {
                                GeneralName::DNSName(dns) => {
                                    names.push(requested_name("subjectAltName", dns)?);
                                }
                                GeneralName::IPAddress(_) => has_ip_addresses = true,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        names.sort();
        names.dedup();

        Ok(Csr {
            names,
            spki_der: info.subject_pki.raw.to_vec(),
            signature_algorithm: self.signature_algorithm,
            key: self.key,
            has_extended_key_usage,
            has_ip_addresses,
        })
    }
}

fn malformed(detail: String) -> CsrError {
    CsrError::Malformed { detail }
}

/// A name the CSR requests in `field`, lower-cased; refused unless it is ASCII (x509-parser
/// reads a dNSName as UTF-8, where RFC 5280 §4.2.1.6 makes it an IA5String).
fn requested_name(field: &'static str, name: &str) -> Result<String, CsrError> {
    if !name.is_ascii() {
        return Err(CsrError::NameNotAscii {
            field,
            name: name.to_owned(),
        });
    }
    Ok(name.to_ascii_lowercase())
}

/// What the CA accepts in a CSR, beyond a valid self-signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrPolicy {
    /// Also accept SHA-384 and SHA-512 signatures (RSA and ECDSA). Default false: SHA-256 only.
    pub allow_sha384_sha512: bool,
    /// Accept (and ignore) an Extended Key Usage extension in the CSR. Default false: refused,
    /// because a client asking for EKUs expects them and the CA sets serverAuth only.
    pub allow_extended_key_usage: bool,
    /// Smallest RSA modulus in bits (default 2048, the Baseline Requirements §6.1.5 minimum).
    pub rsa_min_bits: usize,
    /// Largest RSA modulus in bits (default 4096).
    pub rsa_max_bits: usize,
    /// Rounds of Fermat factorization tried on every RSA modulus (default
    /// [`DEFAULT_FERMAT_ROUNDS`](crate::DEFAULT_FERMAT_ROUNDS)); 0 switches the check off.
    /// Trial division by the primes below [`SMALL_PRIME_BOUND`](crate::SMALL_PRIME_BOUND) is
    /// always done.
    pub fermat_rounds: u32,
    /// Known-compromised keys (default: none).
    pub blocked_keys: KeyBlocklist,
}

impl Default for CsrPolicy {
    fn default() -> Self {
        CsrPolicy {
            allow_sha384_sha512: false,
            allow_extended_key_usage: false,
            rsa_min_bits: 2048,
            rsa_max_bits: 4096,
            fermat_rounds: DEFAULT_FERMAT_ROUNDS,
            blocked_keys: KeyBlocklist::default(),
        }
    }
}

impl CsrPolicy {
    /// Applies the policy: key first (`badPublicKey`: kind and size, blocklist, weak RSA
    /// moduli), then signature algorithm, Extended Key Usage and IP address names (`badCSR`).
    /// The names are the caller's to compare with the order (RFC 8555 §7.4).
    pub fn check(&self, csr: &Csr) -> Result<(), CsrError> {
        self.check_key(&csr.key)?;
        self.check_weak_key(&csr.spki_der)?;
        use SignatureAlgorithm as S;
        let allowed = match csr.signature_algorithm {
            S::RsaPkcs1Sha256 | S::EcdsaSha256 => true,
            S::RsaPkcs1Sha384 | S::RsaPkcs1Sha512 | S::EcdsaSha384 | S::EcdsaSha512 => {
                self.allow_sha384_sha512
            }
            _ => false,
        };
        if !allowed {
            return Err(CsrError::DisallowedSignatureAlgorithm {
                algorithm: csr.signature_algorithm.clone(),
            });
        }
        if csr.has_extended_key_usage && !self.allow_extended_key_usage {
            return Err(CsrError::ExtendedKeyUsagePresent);
        }
        if csr.has_ip_addresses {
            return Err(CsrError::IpAddressesUnsupported);
        }
        Ok(())
    }

    /// Baseline Requirements §6.1.1.3 (4): reject a key that is on the blocklist of
    /// compromised keys, or an RSA key that is demonstrably weak (small prime factors, primes
    /// close enough for Fermat's method).
    pub fn check_weak_key(&self, spki_der: &[u8]) -> Result<(), CsrError> {
        if let Some(spki_sha256) = self.blocked_keys.blocked(spki_der) {
            return Err(CsrError::CompromisedPublicKey { spki_sha256 });
        }
        if let Some(modulus) = weak_keys::rsa_modulus(spki_der) {
            weak_keys::check_rsa_modulus(&modulus, self.fermat_rounds).map_err(|w| {
                CsrError::WeakPublicKey {
                    reason: w.to_string(),
                }
            })?;
        }
        Ok(())
    }

    /// Baseline Requirements §6.1.5: RSA modulus ≥ 2048 bits and divisible by 8; ECDSA on
    /// P-256 or P-384 (P-521 is allowed by the BRs but not by the Mozilla Root Store Policy
    /// §5.1, so it is refused). The public exponent must be 65537 (stricter than §6.1.6).
    pub fn check_key(&self, key: &KeyKind) -> Result<(), CsrError> {
        let reason = match key {
            KeyKind::EcP256 | KeyKind::EcP384 => return Ok(()),
            KeyKind::Rsa { bits, .. } if *bits < self.rsa_min_bits || *bits > self.rsa_max_bits => {
                format!(
                    "the RSA modulus is {bits} bits, outside {}..={}",
                    self.rsa_min_bits, self.rsa_max_bits
                )
            }
            KeyKind::Rsa { bits, .. } if bits % 8 != 0 => {
                format!("the RSA modulus is {bits} bits, not a multiple of 8")
            }
            KeyKind::Rsa {
                exponent_is_65537: false,
                ..
            } => "the RSA public exponent is not 65537".to_owned(),
            KeyKind::Rsa { .. } => return Ok(()),
            KeyKind::EcP521 => "the P-521 curve is not supported".to_owned(),
            KeyKind::Ed25519 => {
                "Ed25519 keys are not allowed in TLS server certificates".to_owned()
            }
            KeyKind::Other(_) => "this key type is not supported".to_owned(),
        };
        Err(CsrError::BadPublicKey {
            key: key.clone(),
            reason,
            rsa_min_bits: self.rsa_min_bits,
            rsa_max_bits: self.rsa_max_bits,
        })
    }
}
