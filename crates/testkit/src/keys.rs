//! RSA keys built from chosen primes, for the CSRs no library would make: weak moduli (a small
//! prime factor, primes close enough for Fermat's method), a 1024-bit modulus, and a CSR
//! signed with SHA-1. Signing is plain big-integer arithmetic (RFC 8017 PKCS#1 v1.5), so a
//! library's refusal to generate or load such a key does not stand in the way. Also a fresh
//! RSA-2048 key, for the CSRs a client usually sends.

use num_bigint::BigUint;

/// Fixture primes (Miller–Rabin, generated once; e = 65537 is invertible modulo each p − 1).
/// 9973 · `Q_9973` is a 2048-bit modulus with the largest prime below the trial-division bound.
const Q_9973: &str = "451b0d90a542cb16a930245fe9444ccd41b45b787b6a7ed353eb4d440ca241b0a777ac9869ad5c94d5778b7396c1499406d1609337cced5b45ad707142e71f3b4bbab6b21d2a2e05bcde18dae325daf87e6268fec0d7289e5040f344d2a16579a8c2f4206bb9ba87b3fc0bf90812d03688e21a0635d1babfaf3a0d862852f4716511f401687d988b53da7f1efdfdb846aabbddbb47a288f62db86f1658cb23f95d799302712297421813dae7d18b82c974cb0ecf81bb5187c4515ad3986d6a81b791c2f2543b5d258676262c330eab9b7682911dd5ffeb147d345469dba56f2fb430edeab9da47d511b432c2cbdc1ce70296d2e471706cd52128b34fadec9";
/// A 1024-bit prime; with `Q_CLOSE` below it makes a 2048-bit modulus. Public so that a test
/// can check that a refusal's detail never shows a factor.
pub const P_CLOSE: &str = "debe0de07f025a067f1137945a293465c9d3f805a137f0414d70b45bea24c2ebe758dd8f3a18ca0911ce3485dce3dd9a80268fdc2d6fea252e828c0c0b416595261a7117547603ec3d6c84719efb37a556322b93d01e0abd3f7180c63053e8f1436d6ba0c1611541c8d85ecbcf60d1bef86e53911221f1566bdcdc31eb91495b";
/// The next prime after `P_CLOSE` (with e invertible): Fermat's method finds it in round 1.
const Q_CLOSE: &str = "debe0de07f025a067f1137945a293465c9d3f805a137f0414d70b45bea24c2ebe758dd8f3a18ca0911ce3485dce3dd9a80268fdc2d6fea252e828c0c0b416595261a7117547603ec3d6c84719efb37a556322b93d01e0abd3f7180c63053e8f1436d6ba0c1611541c8d85ecbcf60d1bef86e53911221f1566bdcdc31eb914b47";
/// About 33·2^512 above `P_CLOSE`: Fermat's method needs 157 rounds, more than the default 100.
const Q_FAR: &str = "debe0de07f025a067f1137945a293465c9d3f805a137f0414d70b45bea24c2ebe758dd8f3a18ca0911ce3485dce3dd9a80268fdc2d6fea252e828c0c0b4165b6261a7117547603ec3d6c84719efb37a556322b93d01e0abd3f7180c63053e8f1436d6ba0c1611541c8d85ecbcf60d1bef86e53911221f1566bdcdc31eb914c9d";
/// Two 512-bit primes (openssl prime -generate): a 1024-bit modulus, below every RSA floor.
const P_512: &str = "e8088964584b2910e4e237301998ca444b0975e0d6060df57237fceda5838df597751c215fff1305cf9d8488294a7a2c7591824b8b5dd3269b7796135b5ed12b";
const Q_512: &str = "da08f62dc3795c13b48b9122a217fad3a8f6e4ec1a2595356f63a8d1a7ea95c5b4b1420900b24ff5345ef18a6707948323da5a86db89c9cd4f42dddd920483d9";

/// RFC 8017 §9.2 note 1: the DER DigestInfo prefix of a SHA-256 hash.
const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
/// The same for SHA-1.
const SHA1_PREFIX: [u8; 15] = [
    0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14,
];
/// The DER OID of sha256WithRSAEncryption (1.2.840.113549.1.1.11); sha1WithRSAEncryption
/// (1.2.840.113549.1.1.5) differs only in its last byte.
const SHA256_WITH_RSA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
];
const SHA1_WITH_RSA_LAST_BYTE: u8 = 0x05;

fn big(hex: &str) -> BigUint {
    BigUint::parse_bytes(hex.as_bytes(), 16).expect("fixture prime is hex")
}

/// The hash a [`ChosenRsaKey`] signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Digest {
    Sha256,
    Sha1,
}

/// An RSA key (e = 65537) from two chosen primes, signing PKCS#1 v1.5 (SHA-256 unless made
/// for [`ChosenRsaKey::sha1_csr`]). Usable wherever rcgen takes a signing key, e.g.
/// [`crate::ca::csr_der`].
#[derive(Clone)]
pub struct ChosenRsaKey {
    n: BigUint,
    d: BigUint,
    /// DER RSAPublicKey.
    public_der: Vec<u8>,
    digest: Digest,
}

impl ChosenRsaKey {
    fn new(p: &BigUint, q: &BigUint) -> ChosenRsaKey {
        let one = BigUint::from(1u8);
        let n = p * q;
        let phi = (p - &one) * (q - &one);
        let d = BigUint::from(65_537u32)
            .modinv(&phi)
            .expect("e is invertible modulo phi for the fixture primes");
        let public_der = der_seq(&[der_uint(&n.to_bytes_be()), der_uint(&[0x01, 0x00, 0x01])]);
        ChosenRsaKey {
            n,
            d,
            public_der,
            digest: Digest::Sha256,
        }
    }

    /// A 2048-bit modulus divisible by 9973, the largest prime below the trial-division bound.
    pub fn small_factor() -> ChosenRsaKey {
        Self::new(&BigUint::from(9973u32), &big(Q_9973))
    }

    /// Two primes next to each other: Fermat's method splits the modulus in its first round.
    pub fn close_primes() -> ChosenRsaKey {
        Self::new(&big(P_CLOSE), &big(Q_CLOSE))
    }

    /// Two primes 157 Fermat rounds apart: beyond the default 100 rounds, so an acceptable
    /// 2048-bit key unless `fermat_rounds` is raised.
    pub fn far_primes() -> ChosenRsaKey {
        Self::new(&big(P_CLOSE), &big(Q_FAR))
    }

    /// A 1024-bit modulus: below every RSA minimum.
    pub fn rsa_1024() -> ChosenRsaKey {
        Self::new(&big(P_512), &big(Q_512))
    }

    /// A CSR for `names` (subjectAltName dNSNames, empty subject) signed with SHA-1
    /// (sha1WithRSAEncryption), which rcgen does not offer: the request is signed over SHA-1
    /// and the algorithm rcgen wrote outside the signed part is changed to say so.
    pub fn sha1_csr(&self, names: &[&str]) -> Vec<u8> {
        let sha1 = ChosenRsaKey {
            digest: Digest::Sha1,
            ..self.clone()
        };
        let mut der = crate::ca::csr_der(names, &sha1);
        // The outer signatureAlgorithm follows the signed CertificationRequestInfo, whose
        // SubjectPublicKeyInfo names rsaEncryption (…1.1.1), never …1.1.11.
        let at = der
            .windows(SHA256_WITH_RSA_OID.len())
            .rposition(|w| w == SHA256_WITH_RSA_OID)
            .expect("rcgen wrote sha256WithRSAEncryption");
        der[at + SHA256_WITH_RSA_OID.len() - 1] = SHA1_WITH_RSA_LAST_BYTE;
        der
    }
}

impl rcgen::PublicKeyData for ChosenRsaKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public_der
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

impl rcgen::SigningKey for ChosenRsaKey {
    /// RFC 8017 §8.2.1 / §9.2: EM = 00 01 FF…FF 00 DigestInfo(hash, H), s = EM^d mod n.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let (prefix, hash): (&[u8], _) = match self.digest {
            Digest::Sha256 => (
                &SHA256_PREFIX,
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, msg),
            ),
            Digest::Sha1 => (
                &SHA1_PREFIX,
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, msg),
            ),
        };
        let k = self.n.to_bytes_be().len();
        let t_len = prefix.len() + hash.as_ref().len();
        let mut em = vec![0x00, 0x01];
        em.resize(k - t_len - 1, 0xff);
        em.push(0x00);
        em.extend_from_slice(prefix);
        em.extend_from_slice(hash.as_ref());
        let s = BigUint::from_bytes_be(&em)
            .modpow(&self.d, &self.n)
            .to_bytes_be();
        let mut out = vec![0u8; k - s.len()];
        out.extend_from_slice(&s);
        Ok(out)
    }
}

fn der_len(len: usize) -> Vec<u8> {
    match len {
        0..=0x7f => vec![len as u8],
        0x80..=0xff => vec![0x81, len as u8],
        _ => vec![0x82, (len >> 8) as u8, len as u8],
    }
}

fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let mut content = Vec::new();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(bytes);
    let mut out = vec![0x02];
    out.extend(der_len(content.len()));
    out.extend(content);
    out
}

fn der_seq(items: &[Vec<u8>]) -> Vec<u8> {
    let content: Vec<u8> = items.concat();
    let mut out = vec![0x30];
    out.extend(der_len(content.len()));
    out.extend(content);
    out
}

/// A fresh RSA-2048 key that signs CSRs with SHA-256: the RSA key a client usually sends.
pub fn rsa_2048() -> rcgen::KeyPair {
    use aws_lc_rs::encoding::AsDer;
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
    let pkcs8 = key.as_der().expect("PKCS#8");
    rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_ref().into(), &rcgen::PKCS_RSA_SHA256)
        .expect("rcgen key")
}
