//! Certificate Transparency (RFC 6962) without the network: the precertificate poison and the
//! embedded SCT list extensions, signed certificate timestamps (parsed, encoded, verified
//! under a log's key), and the TBS a log signs. The submission to logs is `ferrite-ct`'s; this
//! module decides what is signed and checked, so the issuer can refuse a certificate whose
//! SCTs do not cover it.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::{IssueRequest, Profile, der};

/// The precertificate poison extension (RFC 6962 §3.1), critical, value ASN.1 NULL.
pub const OID_CT_POISON: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 3];
/// The embedded SCT list extension (RFC 6962 §3.3).
pub const OID_SCT_LIST: &[u64] = &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];

/// The poison extension's value: DER NULL.
pub(crate) const POISON_VALUE: [u8; 2] = [0x05, 0x00];

/// `HashAlgorithm.sha256` (RFC 5246 §7.4.1.4.1).
const HASH_SHA256: u8 = 4;
/// `SignatureAlgorithm.rsa`.
const SIGNATURE_RSA: u8 = 1;
/// `SignatureAlgorithm.ecdsa`.
const SIGNATURE_ECDSA: u8 = 3;

/// What the certificate being built carries for Certificate Transparency.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CtExtension<'a> {
    /// Nothing: CT is off.
    None,
    /// The poison: a precertificate, for logs only.
    Poison,
    /// The SCT list (TLS-encoded `SignedCertificateTimestampList`).
    SctList(&'a [u8]),
}

/// A precertificate (RFC 6962 §3.1) signed by the issuer, and what the final certificate is
/// built from: the same serial, names, key, validity and profile.
#[derive(Debug, Clone)]
pub struct Precertificate {
    /// The precertificate, DER: what is submitted to the logs, with the issuer after it.
    pub der: Vec<u8>,
    pub(crate) serial: Vec<u8>,
    pub(crate) profile: Profile,
    /// The request with its names deduplicated and its times in whole seconds.
    pub(crate) request: IssueRequest,
}

impl Precertificate {
    /// The serial number: lowercase hex, as [`IssuedCertificate`](crate::IssuedCertificate)
    /// writes it.
    pub fn serial_hex(&self) -> String {
        crate::serial::to_hex(&self.serial)
    }

    /// The validity period's length, both ends included: what the CT policies count.
    pub fn validity(&self) -> time::Duration {
        self.request.not_after - self.request.not_before + time::Duration::seconds(1)
    }
}

/// One signed certificate timestamp (RFC 6962 §3.2), version 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    /// SHA-256 of the log's public key (its SubjectPublicKeyInfo, DER).
    pub log_id: [u8; 32],
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// `CtExtensions` (empty in version 1).
    pub extensions: Vec<u8>,
    /// `HashAlgorithm` of the `digitally-signed` struct.
    pub hash_algorithm: u8,
    /// `SignatureAlgorithm` of the `digitally-signed` struct.
    pub signature_algorithm: u8,
    /// The signature (DER ECDSA-Sig-Value, or RSASSA-PKCS1-v1_5).
    pub signature: Vec<u8>,
}

impl Sct {
    /// An SCT from the fields of a log's `add-pre-chain` answer (RFC 6962 §4.1): the log id,
    /// the timestamp, the extensions and the TLS `digitally-signed` struct, each decoded from
    /// base64 by the caller.
    pub fn from_parts(
        log_id: &[u8],
        timestamp: u64,
        extensions: Vec<u8>,
        digitally_signed: &[u8],
    ) -> Result<Sct, String> {
        let log_id: [u8; 32] = log_id
            .try_into()
            .map_err(|_| format!("the log id is {} bytes, not 32", log_id.len()))?;
        let mut reader = Reader(digitally_signed);
        let (hash_algorithm, signature_algorithm) = (reader.u8()?, reader.u8()?);
        let signature = reader.vector(2)?.to_vec();
        reader.end("the digitally-signed struct")?;
        Ok(Sct {
            log_id,
            timestamp,
            extensions,
            hash_algorithm,
            signature_algorithm,
            signature,
        })
    }

    /// The `SignedCertificateTimestamp` structure, TLS-encoded (RFC 6962 §3.2).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(47 + self.extensions.len() + 4 + self.signature.len());
        out.push(0); // sct_version v1
        out.extend_from_slice(&self.log_id);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        push_vector(&mut out, 2, &self.extensions);
        out.push(self.hash_algorithm);
        out.push(self.signature_algorithm);
        push_vector(&mut out, 2, &self.signature);
        out
    }

    /// One TLS-encoded `SignedCertificateTimestamp`, exactly: version 1, then what
    /// [`Sct::from_parts`] takes, in that order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Sct, String> {
        let mut reader = Reader(bytes);
        let version = reader.u8()?;
        if version != 0 {
            return Err(format!("SCT version {version}, only v1 (0) is known"));
        }
        let log_id = reader.take(32)?;
        let timestamp = u64::from_be_bytes(reader.array::<8>()?);
        let extensions = reader.vector(2)?.to_vec();
        Sct::from_parts(log_id, timestamp, extensions, reader.0)
    }

    /// Checks this SCT for a precertificate whose TBS without the poison is `tbs`, issued by
    /// the key whose SubjectPublicKeyInfo hashes to `issuer_key_hash`, under the log key
    /// `log_spki_der` (ECDSA P-256 or RSA, SHA-256, as RFC 6962 §2.1.4 allows).
    pub fn verify_precertificate(
        &self,
        log_spki_der: &[u8],
        issuer_key_hash: &[u8; 32],
        tbs: &[u8],
    ) -> Result<(), String> {
        if self.log_id != log_id(log_spki_der) {
            return Err("the SCT's log id is not this log's key".into());
        }
        if self.hash_algorithm != HASH_SHA256 {
            return Err(format!(
                "hash algorithm {}, want SHA-256 (4)",
                self.hash_algorithm
            ));
        }
        let (kind, key) = log_key(log_spki_der)?;
        let algorithm: &'static dyn aws_lc_rs::signature::VerificationAlgorithm =
            match (self.signature_algorithm, kind) {
                (SIGNATURE_ECDSA, LogKey::EcdsaP256) => &ECDSA_P256_SHA256_ASN1,
                (SIGNATURE_RSA, LogKey::Rsa) => &RSA_PKCS1_2048_8192_SHA256,
                (alg, kind) => {
                    return Err(format!(
                        "signature algorithm {alg} does not go with the log's {kind:?} key"
                    ));
                }
            };
        let signed =
            precertificate_signed_data(self.timestamp, issuer_key_hash, tbs, &self.extensions);
        UnparsedPublicKey::new(algorithm, key)
            .verify(&signed, &self.signature)
            .map_err(|_| "the SCT's signature does not verify under the log's key".to_string())
    }
}

/// The kinds of log key RFC 6962 §2.1.4 allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogKey {
    EcdsaP256,
    Rsa,
}

/// The kind of a log's key and its public key bits, from its SubjectPublicKeyInfo.
fn log_key(spki_der: &[u8]) -> Result<(LogKey, &[u8]), String> {
    let (rest, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| format!("the log's public key does not parse: {e}"))?;
    if !rest.is_empty() {
        return Err("trailing bytes after the log's public key".into());
    }
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|oid| oid.to_id_string());
    let kind = match (algorithm.as_str(), curve.as_deref()) {
        ("1.2.840.10045.2.1", Some("1.2.840.10045.3.1.7")) => LogKey::EcdsaP256,
        ("1.2.840.113549.1.1.1", _) => LogKey::Rsa,
        _ => {
            return Err(format!(
                "a log key must be ECDSA P-256 or RSA, not {algorithm} ({curve:?})"
            ));
        }
    };
    let bits = &spki_der[spki_der.len() - spki.subject_public_key.data.len()..];
    Ok((kind, bits))
}

/// Checks that `spki_der` is a log key SCTs can be verified with (ECDSA P-256 or RSA).
pub fn check_log_key(spki_der: &[u8]) -> Result<(), String> {
    log_key(spki_der).map(|_| ())
}

/// What a log signs for a precertificate entry (RFC 6962 §3.2, `digitally-signed struct`
/// with `signature_type = certificate_timestamp` and `entry_type = precert_entry`).
pub fn precertificate_signed_data(
    timestamp: u64,
    issuer_key_hash: &[u8; 32],
    tbs: &[u8],
    extensions: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 32 + 3 + tbs.len() + 2 + extensions.len());
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    push_vector(&mut out, 3, tbs);
    push_vector(&mut out, 2, extensions);
    out
}

/// The log id of a log key: SHA-256 of its SubjectPublicKeyInfo (RFC 6962 §3.2).
pub fn log_id(spki_der: &[u8]) -> [u8; 32] {
    sha256(spki_der)
}

/// SHA-256 of the issuer certificate's SubjectPublicKeyInfo: the `issuer_key_hash` of a
/// precertificate entry. `None` when `issuer_der` is not a certificate.
pub fn issuer_key_hash(issuer_der: &[u8]) -> Option<[u8; 32]> {
    let (_, cert) = x509_parser::parse_x509_certificate(issuer_der).ok()?;
    Some(sha256(cert.public_key().raw))
}

/// The TBS a log signs for the precertificate `der`: its TBS without the poison extension.
pub fn precertificate_tbs(der: &[u8]) -> Option<Vec<u8>> {
    der::tbs_without_extension(der, OID_CT_POISON)
}

/// The TBS of the final certificate `der` without its SCT list: equal to the
/// [`precertificate_tbs`] of the precertificate its SCTs were issued for.
pub fn final_certificate_tbs(der: &[u8]) -> Option<Vec<u8>> {
    der::tbs_without_extension(der, OID_SCT_LIST)
}

/// The TLS-encoded `SignedCertificateTimestampList` of `scts` (RFC 6962 §3.3).
pub fn sct_list(scts: &[Sct]) -> Vec<u8> {
    let mut items = Vec::new();
    for sct in scts {
        push_vector(&mut items, 2, &sct.to_bytes());
    }
    let mut out = Vec::with_capacity(items.len() + 2);
    push_vector(&mut out, 2, &items);
    out
}

/// The SCTs of a TLS-encoded `SignedCertificateTimestampList`.
pub fn parse_sct_list(bytes: &[u8]) -> Result<Vec<Sct>, String> {
    let mut outer = Reader(bytes);
    let mut list = Reader(outer.vector(2)?);
    outer.end("the SCT list")?;
    let mut scts = Vec::new();
    while !list.0.is_empty() {
        scts.push(Sct::from_bytes(list.vector(2)?)?);
    }
    Ok(scts)
}

/// The SCTs embedded in the certificate `der` (none when it has no SCT list extension).
pub fn embedded_scts(der: &[u8]) -> Result<Vec<Sct>, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the certificate does not parse: {e}"))?;
    let oid = crate::lint::oid_string(OID_SCT_LIST);
    let Some(ext) = cert
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == oid)
    else {
        return Ok(Vec::new());
    };
    let list = der::octet_string_contents(ext.value)
        .ok_or("the SCT list extension is not an OCTET STRING")?;
    parse_sct_list(list)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Appends `bytes` with a big-endian length prefix of `width` octets (a TLS `opaque<..>`).
fn push_vector(out: &mut Vec<u8>, width: usize, bytes: &[u8]) {
    let len = (bytes.len() as u64).to_be_bytes();
    out.extend_from_slice(&len[8 - width..]);
    out.extend_from_slice(bytes);
}

/// Reads TLS-encoded fields in order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let (head, rest) = self
            .0
            .split_at_checked(n)
            .ok_or_else(|| format!("truncated: wanted {n} more bytes, {} left", self.0.len()))?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    /// An `opaque<..>` with a length prefix of `width` octets.
    fn vector(&mut self, width: usize) -> Result<&'a [u8], String> {
        let len = self
            .take(width)?
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        self.take(len)
    }

    fn end(&self, what: &str) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("{} trailing bytes after {what}", self.0.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sct(signature: Vec<u8>) -> Sct {
        Sct {
            log_id: [7; 32],
            timestamp: 1_700_000_000_123,
            extensions: Vec::new(),
            hash_algorithm: HASH_SHA256,
            signature_algorithm: SIGNATURE_ECDSA,
            signature,
        }
    }

    #[test]
    fn scts_and_lists_round_trip() {
        let one = sct(vec![0x30, 0x01, 0x02]);
        let two = sct(vec![9; 70]);
        assert_eq!(Sct::from_bytes(&one.to_bytes()).unwrap(), one);
        let list = sct_list(&[one.clone(), two.clone()]);
        assert_eq!(parse_sct_list(&list).unwrap(), vec![one.clone(), two]);
        // Version, log id, timestamp, empty extensions, algorithms, signature.
        let bytes = one.to_bytes();
        assert_eq!(bytes.len(), 1 + 32 + 8 + 2 + 2 + 2 + 3);
        assert_eq!(&bytes[41..43], &[0, 0]);
        let mut truncated = list.clone();
        truncated.pop();
        assert!(parse_sct_list(&truncated).is_err());
        let mut trailing = list;
        trailing.push(0);
        assert!(parse_sct_list(&trailing).is_err());
        let mut v2 = one.to_bytes();
        v2[0] = 1;
        assert!(Sct::from_bytes(&v2).unwrap_err().contains("version"));
    }

    #[test]
    fn parts_of_an_add_chain_answer_make_an_sct() {
        let signed = [4, 3, 0, 2, 0xaa, 0xbb];
        let sct = Sct::from_parts(&[1; 32], 5, Vec::new(), &signed).unwrap();
        assert_eq!((sct.hash_algorithm, sct.signature_algorithm), (4, 3));
        assert_eq!(sct.signature, [0xaa, 0xbb]);
        assert!(Sct::from_parts(&[1; 31], 5, Vec::new(), &signed).is_err());
        assert!(Sct::from_parts(&[1; 32], 5, Vec::new(), &signed[..5]).is_err());
    }

    #[test]
    fn precertificate_signed_data_has_the_rfc_layout() {
        let data = precertificate_signed_data(0x0102, &[9; 32], &[0x30, 0x00], &[]);
        assert_eq!(&data[..2], &[0, 0]);
        assert_eq!(&data[2..10], &0x0102u64.to_be_bytes());
        assert_eq!(&data[10..12], &[0, 1]);
        assert_eq!(&data[12..44], &[9; 32]);
        assert_eq!(&data[44..49], &[0, 0, 2, 0x30, 0x00]);
        assert_eq!(&data[49..], &[0, 0]);
    }
}
