//! The few DER encodings rcgen does not write for us: the contents of the basicConstraints
//! (CA:FALSE), certificatePolicies and authorityInfoAccess extensions.

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

const TAG_SEQUENCE: u8 = 0x30;
const TAG_OID: u8 = 0x06;
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

fn oid(arcs: &[u64]) -> Vec<u8> {
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

/// `certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation` with one policy and
/// no qualifiers.
pub(crate) fn certificate_policies(policy: &[u64]) -> Vec<u8> {
    tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &oid(policy)))
}

/// `AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF AccessDescription` with one
/// caIssuers URI.
pub(crate) fn authority_info_access_ca_issuers(uri: &str) -> Vec<u8> {
    let mut description = oid(OID_CA_ISSUERS);
    description.extend(tlv(TAG_GENERAL_NAME_URI, uri.as_bytes()));
    tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &description))
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
