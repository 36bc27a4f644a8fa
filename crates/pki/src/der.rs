//! The few DER encodings rcgen does not write for us: the contents of the basicConstraints
//! (CA:FALSE), certificatePolicies and authorityInfoAccess extensions, a signed certificate or
//! CRL put together from its parts ([`signed`]), an ECDSA-Sig-Value's integers, and EC and RSA
//! SubjectPublicKeyInfos; and the DER readings that need no full parse: a certificate's three
//! parts ([`certificate_parts`]), the signature algorithm inside its TBS
//! ([`tbs_signature_algorithm`]) and an OCTET STRING's contents ([`octet_string_contents`]).

/// `id-ce-basicConstraints` (RFC 5280 §4.2.1.9).
pub(crate) const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
/// `id-ce-certificatePolicies` (RFC 5280 §4.2.1.4).
pub(crate) const OID_CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];
/// `id-pe-authorityInfoAccess` (RFC 5280 §4.2.2.1).
pub(crate) const OID_AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
/// `id-ad-caIssuers` (RFC 5280 §4.2.2.1).
pub(crate) const OID_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
/// CA/Browser Forum domain-validated policy (Baseline Requirements §7.1.6.1).
pub(crate) const OID_BR_DOMAIN_VALIDATED: &[u64] = &[2, 23, 140, 1, 2, 1];

/// `id-ecPublicKey` (RFC 5480 §2.1.1).
const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
/// `rsaEncryption` (RFC 8017 Appendix A.1, RFC 3279 §2.3.1).
const OID_RSA_ENCRYPTION: &[u64] = &[1, 2, 840, 113549, 1, 1, 1];

const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
/// `[6] IMPLICIT IA5String`: the uniformResourceIdentifier choice of GeneralName.
const TAG_GENERAL_NAME_URI: u8 = 0x86;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn oid(arcs: &[u64]) -> Vec<u8> {
    let mut content = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => (0, arcs),
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        content.extend(groups.iter().rev());
    }
    tlv(TAG_OID, &content)
}

/// `BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, ... }` with cA FALSE: the DER
/// encoding of the default is an empty sequence.
pub(crate) fn basic_constraints_end_entity() -> Vec<u8> {
    tlv(TAG_SEQUENCE, &[])
}

/// `certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation`: the policies in
/// order, no qualifiers.
pub(crate) fn certificate_policies(policies: &[&[u64]]) -> Vec<u8> {
    let infos: Vec<u8> = policies
        .iter()
        .flat_map(|policy| tlv(TAG_SEQUENCE, &oid(policy)))
        .collect();
    tlv(TAG_SEQUENCE, &infos)
}

/// `AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription` with one
/// caIssuers URI.
pub(crate) fn authority_info_access_ca_issuers(uri: &str) -> Vec<u8> {
    let mut description = oid(OID_CA_ISSUERS);
    description.extend(tlv(TAG_GENERAL_NAME_URI, uri.as_bytes()));
    tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &description))
}

/// A DER SEQUENCE of `contents`.
pub(crate) fn sequence(contents: &[u8]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, contents)
}

/// A non-negative DER INTEGER from its big-endian magnitude: leading zero octets dropped, one
/// zero octet put back when the high bit is set (X.690 §8.3).
pub(crate) fn unsigned_integer(magnitude: &[u8]) -> Vec<u8> {
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let digits = &magnitude[skip..];
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    tlv(TAG_INTEGER, &content)
}

/// `SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature }`: a Certificate (RFC 5280
/// §4.1) or a CertificateList (§5.1) from its TBS and algorithm identifier, whole DER
/// elements, and the signature's bytes.
pub(crate) fn signed(tbs: &[u8], signature_algorithm: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut bits = Vec::with_capacity(signature.len() + 1);
    bits.push(0);
    bits.extend_from_slice(signature);
    tlv(
        TAG_SEQUENCE,
        &[tbs, signature_algorithm, &tlv(TAG_BIT_STRING, &bits)].concat(),
    )
}

/// An EC SubjectPublicKeyInfo (RFC 5480 §2): id-ecPublicKey, the named curve (its DER OID) and
/// the uncompressed point.
pub(crate) fn ec_subject_public_key_info(curve_oid_der: &[u8], point: &[u8]) -> Vec<u8> {
    let algorithm = tlv(
        TAG_SEQUENCE,
        &[oid(OID_EC_PUBLIC_KEY).as_slice(), curve_oid_der].concat(),
    );
    let mut bits = Vec::with_capacity(point.len() + 1);
    bits.push(0);
    bits.extend_from_slice(point);
    tlv(
        TAG_SEQUENCE,
        &[algorithm, tlv(TAG_BIT_STRING, &bits)].concat(),
    )
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017
/// Appendix A.1.1) from the big-endian magnitudes PKCS#11's CKA_MODULUS and
/// CKA_PUBLIC_EXPONENT hold: an RSA SubjectPublicKeyInfo's subjectPublicKey.
pub(crate) fn rsa_public_key(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    tlv(
        TAG_SEQUENCE,
        &[unsigned_integer(modulus), unsigned_integer(exponent)].concat(),
    )
}

/// An RSA SubjectPublicKeyInfo (RFC 3279 §2.3.1): rsaEncryption with NULL parameters and the
/// [`rsa_public_key`] of `modulus` and `exponent`.
pub(crate) fn rsa_subject_public_key_info(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let algorithm = tlv(
        TAG_SEQUENCE,
        &[oid(OID_RSA_ENCRYPTION), tlv(TAG_NULL, &[])].concat(),
    );
    let key = rsa_public_key(modulus, exponent);
    let mut bits = Vec::with_capacity(key.len() + 1);
    bits.push(0);
    bits.extend_from_slice(&key);
    tlv(
        TAG_SEQUENCE,
        &[algorithm, tlv(TAG_BIT_STRING, &bits)].concat(),
    )
}

/// A DER OCTET STRING of `contents`.
pub(crate) fn octet_string(contents: &[u8]) -> Vec<u8> {
    tlv(TAG_OCTET_STRING, contents)
}

/// The contents of `der` when it is exactly one DER OCTET STRING.
pub(crate) fn octet_string_contents(der: &[u8]) -> Option<&[u8]> {
    element(der)
        .filter(|e| e.tag == TAG_OCTET_STRING && e.rest.is_empty())
        .map(|e| e.contents)
}

/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }`
/// (RFC 5280 §4.1), split without parsing the parts: the TBS and the algorithm identifier as
/// their whole DER elements, the signature as the bit string's bytes. `None` unless `der` is
/// exactly that shape.
pub(crate) struct CertificateParts<'a> {
    pub(crate) tbs: &'a [u8],
    pub(crate) signature_algorithm: &'a [u8],
    pub(crate) signature: &'a [u8],
}

pub(crate) fn certificate_parts(der: &[u8]) -> Option<CertificateParts<'_>> {
    let certificate = element(der).filter(|e| e.tag == TAG_SEQUENCE && e.rest.is_empty())?;
    let tbs = element(certificate.contents).filter(|e| e.tag == TAG_SEQUENCE)?;
    let algorithm = element(tbs.rest).filter(|e| e.tag == TAG_SEQUENCE)?;
    let bits = element(algorithm.rest).filter(|e| e.tag == TAG_BIT_STRING && e.rest.is_empty())?;
    // A signature is a whole number of octets: no unused bits.
    let [0, signature @ ..] = bits.contents else {
        return None;
    };
    Some(CertificateParts {
        tbs: tbs.whole,
        signature_algorithm: algorithm.whole,
        signature,
    })
}

/// The `signature` AlgorithmIdentifier inside the TBSCertificate `tbs` (RFC 5280 §4.1.2.3),
/// as its whole DER element: after the optional `[0]` version and the serial number. `None`
/// unless `tbs` has that shape.
pub(crate) fn tbs_signature_algorithm(tbs: &[u8]) -> Option<&[u8]> {
    const TAG_VERSION: u8 = 0xa0;
    let tbs = element(tbs).filter(|e| e.tag == TAG_SEQUENCE)?;
    let mut field = element(tbs.contents)?;
    if field.tag == TAG_VERSION {
        field = element(field.rest)?;
    }
    if field.tag != TAG_INTEGER {
        return None;
    }
    element(field.rest)
        .filter(|e| e.tag == TAG_SEQUENCE)
        .map(|e| e.whole)
}

/// The tbsCertificate of the certificate `der` with the extension `extension_oid` taken out of
/// its extensions, re-encoded (RFC 6962 §3.2: what a log signs for a precertificate is its TBS
/// without the poison extension, and a final certificate's TBS without its SCT list must be
/// that same TBS). `None` unless `der` is a certificate whose TBS ends with `[3]` extensions
/// holding `extension_oid` exactly once.
pub(crate) fn tbs_without_extension(der: &[u8], extension_oid: &[u64]) -> Option<Vec<u8>> {
    const TAG_EXTENSIONS: u8 = 0xa3;
    let parts = certificate_parts(der)?;
    let tbs = element(parts.tbs).filter(|e| e.tag == TAG_SEQUENCE)?;
    let wanted = oid(extension_oid);
    // The TBS's fields up to the extensions, kept byte for byte.
    let mut fields = Vec::new();
    let mut rest = tbs.contents;
    let mut extensions = None;
    while !rest.is_empty() {
        let field = element(rest)?;
        rest = field.rest;
        if field.tag == TAG_EXTENSIONS {
            if !rest.is_empty() {
                return None;
            }
            extensions = Some(field);
        } else {
            fields.extend_from_slice(field.whole);
        }
    }
    let list =
        element(extensions?.contents).filter(|e| e.tag == TAG_SEQUENCE && e.rest.is_empty())?;
    let mut kept = Vec::with_capacity(list.contents.len());
    let mut removed = 0;
    let mut rest = list.contents;
    while !rest.is_empty() {
        let extension = element(rest).filter(|e| e.tag == TAG_SEQUENCE)?;
        rest = extension.rest;
        let id = element(extension.contents).filter(|e| e.tag == TAG_OID)?;
        if id.whole == wanted.as_slice() {
            removed += 1;
        } else {
            kept.extend_from_slice(extension.whole);
        }
    }
    if removed != 1 {
        return None;
    }
    if !kept.is_empty() {
        fields.extend(tlv(TAG_EXTENSIONS, &tlv(TAG_SEQUENCE, &kept)));
    }
    Some(tlv(TAG_SEQUENCE, &fields))
}

/// One DER element: its tag, the whole element (header and contents), its contents, and
/// what follows it in the input.
struct Element<'a> {
    tag: u8,
    whole: &'a [u8],
    contents: &'a [u8],
    rest: &'a [u8],
}

/// The first DER element of `input`. Single-byte tags and definite lengths of at most four
/// length octets, in their shortest form (DER), only.
fn element(input: &[u8]) -> Option<Element<'_>> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, after_first) = after_tag.split_first()?;
    let (len, after_len) = match first {
        0..=0x7f => (usize::from(first), after_first),
        0x81..=0x84 => {
            let (octets, after) = after_first.split_at_checked(usize::from(first & 0x7f))?;
            let len = octets
                .iter()
                .fold(0usize, |len, &b| (len << 8) | usize::from(b));
            // No leading zero octet, and no long form for what the short form holds.
            if octets.first() == Some(&0) || len < 0x80 {
                return None;
            }
            (len, after)
        }
        _ => return None,
    };
    let (contents, rest) = after_len.split_at_checked(len)?;
    let header = input.len() - after_len.len();
    Some(Element {
        tag,
        whole: &input[..header + len],
        contents,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_match_known_bytes() {
        // 2.23.140.1.2.1 as in every Let's Encrypt certificate.
        assert_eq!(
            oid(OID_BR_DOMAIN_VALIDATED),
            [0x06, 0x06, 0x67, 0x81, 0x0c, 0x01, 0x02, 0x01]
        );
        assert_eq!(
            oid(&[1, 2, 840, 10045, 2, 1])[2..],
            [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]
        );
        assert_eq!(basic_constraints_end_entity(), [0x30, 0x00]);
        let long = tlv(0x04, &[0u8; 300]);
        assert_eq!(long[..4], [0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn certificate_parts_split_only_a_certificate() {
        let tbs = tlv(TAG_SEQUENCE, &[0x02, 0x01, 0x07]);
        let alg = tlv(TAG_SEQUENCE, &oid(&[1, 2, 840, 10045, 4, 3, 2]));
        let sig = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01];
        let mut bits = vec![0];
        bits.extend(sig);
        let body = [tbs.clone(), alg.clone(), tlv(TAG_BIT_STRING, &bits)].concat();
        let cert = tlv(TAG_SEQUENCE, &body);
        let parts = certificate_parts(&cert).unwrap();
        assert_eq!(
            (parts.tbs, parts.signature_algorithm, parts.signature),
            (&tbs[..], &alg[..], &sig[..])
        );
        // Long-form lengths, as in every real certificate.
        let long_tbs = tlv(TAG_SEQUENCE, &[0x05; 300]);
        let body = [long_tbs.clone(), alg.clone(), tlv(TAG_BIT_STRING, &bits)].concat();
        let long = tlv(TAG_SEQUENCE, &body);
        assert_eq!(certificate_parts(&long).unwrap().tbs, &long_tbs[..]);
        let huge_tbs = tlv(TAG_SEQUENCE, &vec![0x05; 70_000]);
        let body = [huge_tbs.clone(), alg.clone(), tlv(TAG_BIT_STRING, &bits)].concat();
        let huge = tlv(TAG_SEQUENCE, &body);
        assert_eq!(huge[1], 0x83, "three length octets");
        assert_eq!(certificate_parts(&huge).unwrap().tbs, &huge_tbs[..]);

        let mut trailing = cert.clone();
        trailing.push(0);
        let mut unused_bits = bits.clone();
        unused_bits[0] = 1;
        let odd = tlv(
            TAG_SEQUENCE,
            &[tbs.clone(), alg.clone(), tlv(TAG_BIT_STRING, &unused_bits)].concat(),
        );
        let two_parts = tlv(TAG_SEQUENCE, &[tbs.clone(), alg.clone()].concat());
        let short = &cert[..cert.len() - 1];
        // The indefinite form (BER, not DER) around a valid body, ended by two zero octets.
        let indefinite = [&[0x30, 0x80][..], &cert[2..], &[0, 0]].concat();
        // Non-minimal lengths: long form for a short length, a leading zero octet.
        let long_short = [&[0x30, 0x81][..], &cert[1..]].concat();
        let leading_zero = [&long[..1], &[0x83, 0x00], &long[2..]].concat();
        // Five length octets.
        let five = [&[0x30, 0x85, 0, 0, 0, 0][..], &cert[1..]].concat();
        for bad in [
            &trailing[..],
            &odd,
            &two_parts,
            short,
            &[],
            &indefinite,
            &long_short,
            &leading_zero,
            &five,
        ] {
            assert!(certificate_parts(bad).is_none(), "{bad:02x?}");
        }
    }

    #[test]
    fn integers_and_signed_structures_round_trip() {
        assert_eq!(unsigned_integer(&[0, 0, 0x7f]), [0x02, 0x01, 0x7f]);
        assert_eq!(unsigned_integer(&[0x80]), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(unsigned_integer(&[0, 0]), [0x02, 0x01, 0x00]);
        let tbs = tlv(TAG_SEQUENCE, &[0x02, 0x01, 0x07]);
        let alg = tlv(TAG_SEQUENCE, &oid(&[1, 2, 840, 10045, 4, 3, 2]));
        let whole = signed(&tbs, &alg, &[1, 2, 3]);
        let parts = certificate_parts(&whole).unwrap();
        assert_eq!(
            (parts.tbs, parts.signature_algorithm, parts.signature),
            (&tbs[..], &alg[..], &[1u8, 2, 3][..])
        );
        assert_eq!(
            octet_string_contents(&[0x04, 0x02, 9, 9]),
            Some(&[9u8, 9][..])
        );
        assert_eq!(octet_string_contents(&[0x04, 0x02, 9]), None);
    }

    /// An RSA SubjectPublicKeyInfo built from a modulus and exponent, as a token gives them
    /// (with or without a leading zero octet), is byte for byte the one rcgen writes for the
    /// same key, and its BIT STRING holds the RSAPublicKey.
    #[test]
    fn rsa_public_keys_match_rcgen() {
        use rcgen::PublicKeyData;
        use x509_parser::prelude::FromDer;
        use x509_parser::public_key::PublicKey;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let spki_der = key.subject_public_key_info();
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&spki_der).unwrap();
        let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
            panic!("not RSA")
        };
        // x509-parser keeps the DER INTEGER's sign octet; PKCS#11 tokens do not.
        assert_eq!(rsa.modulus[0], 0);
        for modulus in [rsa.modulus, &rsa.modulus[1..]] {
            assert_eq!(rsa_subject_public_key_info(modulus, rsa.exponent), spki_der);
            assert_eq!(rsa_public_key(modulus, &[1, 0, 1]), key.der_bytes());
        }
    }

    #[test]
    fn aia_parses_back() {
        use x509_parser::extensions::{GeneralName, ParsedExtension};
        use x509_parser::prelude::FromDer;
        let content = authority_info_access_ca_issuers("http://ca.example/i.der");
        // Wrap into an Extension to reuse x509-parser's extension parser.
        let mut ext = oid(OID_AUTHORITY_INFO_ACCESS);
        ext.extend(tlv(0x04, &content));
        let ext = tlv(TAG_SEQUENCE, &ext);
        let (_, parsed) = x509_parser::extensions::X509Extension::from_der(&ext).unwrap();
        let ParsedExtension::AuthorityInfoAccess(aia) = parsed.parsed_extension() else {
            panic!("not AIA: {parsed:?}")
        };
        assert_eq!(aia.accessdescs.len(), 1);
        assert_eq!(
            aia.accessdescs[0].access_location,
            GeneralName::URI("http://ca.example/i.der")
        );
    }
}
