//! Weak and compromised public keys (Baseline Requirements §6.1.1.3: the CA SHALL reject a
//! certificate request whose public key is known to be weak or compromised).
//!
//! Three checks, Boulder's `goodkey` in spirit:
//! - an RSA modulus divisible by a prime below [`SMALL_PRIME_BOUND`] (trial division);
//! - an RSA modulus whose two prime factors are so close that Fermat's method finds them in a
//!   bounded number of rounds (Böck 2022, "Fermat factorization in the wild");
//! - a [`KeyBlocklist`] of known-compromised keys, by SHA-256 of the DER SubjectPublicKeyInfo.
//!
//! Nothing here does I/O: the caller reads the blocklist file and hands its text to
//! [`KeyBlocklist::parse`].

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, OnceLock};

use num_bigint::BigUint;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Trial division tries every prime below this bound (1229 primes). Boulder divides by the
/// primes up to 751; a larger bound costs well under a millisecond per CSR.
pub const SMALL_PRIME_BOUND: u32 = 10_000;

/// Fermat rounds Boulder runs by default (`goodkey.FermatRounds = 100` in Let's Encrypt's
/// configuration). Close primes from broken key generators are found in the first round or
/// two; each round costs one big-integer square root.
pub const DEFAULT_FERMAT_ROUNDS: u32 = 100;

/// Why a key is weak, for the `badPublicKey` detail. Never contains a factor: the detail goes
/// to the client and the log, and a factor is a private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Weakness {
    /// The modulus is divisible by a prime below [`SMALL_PRIME_BOUND`].
    SmallFactor,
    /// Fermat's method factored the modulus in `round` rounds.
    ClosePrimes {
        /// The round (1-based) in which the factors were found.
        round: u32,
    },
}

impl fmt::Display for Weakness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Weakness::SmallFactor => write!(
                f,
                "the RSA modulus has a prime factor below {SMALL_PRIME_BOUND}"
            ),
            Weakness::ClosePrimes { round } => write!(
                f,
                "the RSA modulus was factored with Fermat's method in {round} round(s): its two primes are too close together (a broken key generator)"
            ),
        }
    }
}

/// The RSA modulus (big-endian, no sign byte) of a DER SubjectPublicKeyInfo, if it is an RSA
/// key that parses.
pub(crate) fn rsa_modulus(spki_der: &[u8]) -> Option<Vec<u8>> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    match spki.parsed().ok()? {
        PublicKey::RSA(rsa) => {
            let mut m = rsa.modulus;
            while let [0, rest @ ..] = m {
                m = rest;
            }
            Some(m.to_vec())
        }
        _ => None,
    }
}

/// Checks an RSA modulus (big-endian) for small factors, then for close primes with at most
/// `fermat_rounds` rounds (0 skips the Fermat check).
pub(crate) fn check_rsa_modulus(modulus: &[u8], fermat_rounds: u32) -> Result<(), Weakness> {
    if has_small_factor(modulus) {
        return Err(Weakness::SmallFactor);
    }
    match fermat_factor_round(&BigUint::from_bytes_be(modulus), fermat_rounds) {
        Some(round) => Err(Weakness::ClosePrimes { round }),
        None => Ok(()),
    }
}

/// The primes below [`SMALL_PRIME_BOUND`] (sieve of Eratosthenes, computed once).
fn small_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| {
        let bound = SMALL_PRIME_BOUND as usize;
        let mut composite = vec![false; bound];
        let mut primes = Vec::new();
        for i in 2..bound {
            if composite[i] {
                continue;
            }
            primes.push(i as u32);
            let mut j = i * i;
            while j < bound {
                composite[j] = true;
                j += i;
            }
        }
        primes
    })
}

/// True if a prime below [`SMALL_PRIME_BOUND`] divides `modulus` (and `modulus` is not that
/// prime itself). Long division byte by byte: the remainder stays below 2^14 · 2^8.
fn has_small_factor(modulus: &[u8]) -> bool {
    small_primes().iter().any(|&p| {
        let p = u64::from(p);
        let rem = modulus
            .iter()
            .fold(0u64, |r, &b| ((r << 8) | u64::from(b)) % p);
        rem == 0 && BigUint::from_bytes_be(modulus) != BigUint::from(p)
    })
}

/// Fermat's method (Boulder's `checkPrimeFactorsTooClose`): any odd `n = p·q` is `a² − b²`
/// with `a = (p+q)/2`, `b = (p−q)/2`. Starting from `a = ⌈√n⌉` and stepping `a` by one, the
/// round in which `a² − n` is a perfect square gives the factors. Returns that round
/// (1-based) if it is at most `rounds`.
fn fermat_factor_round(n: &BigUint, rounds: u32) -> Option<u32> {
    if rounds == 0 || *n < BigUint::from(4u8) {
        return None;
    }
    let mut a = n.sqrt();
    if &a * &a < *n {
        a += 1u8;
    }
    let mut b2 = &a * &a - n;
    for round in 1..=rounds {
        let b = b2.sqrt();
        if &b * &b == b2 {
            // p = a + b, q = a − b; a trivial split (q = 1) is not a factorization.
            return (&a - &b > BigUint::from(1u8)).then_some(round);
        }
        // (a+1)² − n = a² − n + 2a + 1.
        b2 += &a << 1;
        b2 += 1u8;
        a += 1u8;
    }
    None
}

/// Known-compromised public keys, by SHA-256 of their DER SubjectPublicKeyInfo (the form
/// Boulder's blocked-keys list and `badkeys` use). Cheap to clone.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeyBlocklist {
    hashes: Arc<BTreeSet<[u8; 32]>>,
}

impl fmt::Debug for KeyBlocklist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyBlocklist({} keys)", self.hashes.len())
    }
}

impl KeyBlocklist {
    /// Parses a blocklist file: one SHA-256 per line as 64 hex digits (either case); blank
    /// lines and everything after `#` are ignored. An error names the line and what is wrong.
    pub fn parse(text: &str) -> Result<KeyBlocklist, String> {
        let mut hashes = BTreeSet::new();
        for (i, line) in text.lines().enumerate() {
            let entry = line.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            let hash = parse_hex32(entry).ok_or_else(|| {
                format!(
                    "line {}: {entry:?} is not a SHA-256 hash (64 hex digits of the DER SubjectPublicKeyInfo's digest, e.g. from `openssl pkey -pubin -outform DER | sha256sum`)",
                    i + 1
                )
            })?;
            hashes.insert(hash);
        }
        Ok(KeyBlocklist {
            hashes: Arc::new(hashes),
        })
    }

    /// A blocklist of exactly these SPKIs (tests, and operators building one in code).
    pub fn from_spkis<'a>(spkis: impl IntoIterator<Item = &'a [u8]>) -> KeyBlocklist {
        KeyBlocklist {
            hashes: Arc::new(spkis.into_iter().map(spki_sha256).collect()),
        }
    }

    /// How many keys are blocked.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when no key is blocked.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The hex SHA-256 of `spki_der` if it is on the list.
    pub(crate) fn blocked(&self, spki_der: &[u8]) -> Option<String> {
        let hash = spki_sha256(spki_der);
        self.hashes.contains(&hash).then(|| hex(&hash))
    }
}

/// SHA-256 of a DER SubjectPublicKeyInfo.
pub fn spki_sha256(spki_der: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki_der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Lower-case hex of every octet (leading zero octets kept: key ids, digests).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Fixture primes (generated once with Miller–Rabin; e = 65537 is invertible for each).
    const Q_9973: &str = "451b0d90a542cb16a930245fe9444ccd41b45b787b6a7ed353eb4d440ca241b0a777ac9869ad5c94d5778b7396c1499406d1609337cced5b45ad707142e71f3b4bbab6b21d2a2e05bcde18dae325daf87e6268fec0d7289e5040f344d2a16579a8c2f4206bb9ba87b3fc0bf90812d03688e21a0635d1babfaf3a0d862852f4716511f401687d988b53da7f1efdfdb846aabbddbb47a288f62db86f1658cb23f95d799302712297421813dae7d18b82c974cb0ecf81bb5187c4515ad3986d6a81b791c2f2543b5d258676262c330eab9b7682911dd5ffeb147d345469dba56f2fb430edeab9da47d511b432c2cbdc1ce70296d2e471706cd52128b34fadec9";
    const Q_10007: &str = "5f1e48f3ebb5fa20973d80246eef22c081556bfa9c579244d9a27b69defc80a0c8d1d8b496b4789a15a5d849ed395551172747d011407367db1a18002b394b10a0a34e6deae04d18c0ae17518d2aa92ce3e74cfb2881ab1183ef2a148efcab6763785b2030b1ccbbf4d640019d8ed37e955742c87a1a6e26e818e4794b712f0b8a4d538555ca6c66d58acf01bdaed86c673079e1bdb508611f1afd4a02e9994872b67ee2b29af62689d3df5311d653bd36fac828381a627a354e692241bef1f472b4fa44c5e9ad1a587a8ceff9b57ce8d291857bd5bf5f03104344c6fea219fc65f47f4bd3ecfa9a9df78e5cd14558755ec9d01bd38d932300ba4a80ffab3";
    const P_CLOSE: &str = "debe0de07f025a067f1137945a293465c9d3f805a137f0414d70b45bea24c2ebe758dd8f3a18ca0911ce3485dce3dd9a80268fdc2d6fea252e828c0c0b416595261a7117547603ec3d6c84719efb37a556322b93d01e0abd3f7180c63053e8f1436d6ba0c1611541c8d85ecbcf60d1bef86e53911221f1566bdcdc31eb91495b";
    /// The next prime after `P_CLOSE`: Fermat finds it in round 1.
    const Q_CLOSE: &str = "debe0de07f025a067f1137945a293465c9d3f805a137f0414d70b45bea24c2ebe758dd8f3a18ca0911ce3485dce3dd9a80268fdc2d6fea252e828c0c0b416595261a7117547603ec3d6c84719efb37a556322b93d01e0abd3f7180c63053e8f1436d6ba0c1611541c8d85ecbcf60d1bef86e53911221f1566bdcdc31eb914b47";
    /// About 33·2^512 above `P_CLOSE`: Fermat needs 157 rounds.
    const Q_FAR: &str = "debe0de07f025a067f1137945a293465c9d3f805a137f0414d70b45bea24c2ebe758dd8f3a18ca0911ce3485dce3dd9a80268fdc2d6fea252e828c0c0b4165b6261a7117547603ec3d6c84719efb37a556322b93d01e0abd3f7180c63053e8f1436d6ba0c1611541c8d85ecbcf60d1bef86e53911221f1566bdcdc31eb914c9d";

    fn big(hex: &str) -> BigUint {
        BigUint::parse_bytes(hex.as_bytes(), 16).unwrap()
    }

    fn modulus(a: &BigUint, b: &BigUint) -> Vec<u8> {
        (a * b).to_bytes_be()
    }

    #[test]
    fn sieve_finds_the_primes_below_the_bound() {
        let primes = small_primes();
        assert_eq!(primes.len(), 1229);
        assert_eq!(primes[..5], [2, 3, 5, 7, 11]);
        assert_eq!(primes.last(), Some(&9973));
    }

    #[test]
    fn small_factors_up_to_the_bound_are_found() {
        let n = modulus(&BigUint::from(9973u32), &big(Q_9973));
        assert_eq!(n.len() * 8, 2048);
        assert_eq!(check_rsa_modulus(&n, 0), Err(Weakness::SmallFactor));
        // An even modulus.
        let even = modulus(&BigUint::from(2u32), &big(Q_CLOSE));
        assert_eq!(check_rsa_modulus(&even, 0), Err(Weakness::SmallFactor));
        // 10007 is the first prime above the bound: trial division does not see it (and
        // Fermat does not either, the factors are far apart). This pins the bound.
        let n = modulus(&BigUint::from(10_007u32), &big(Q_10007));
        assert_eq!(check_rsa_modulus(&n, DEFAULT_FERMAT_ROUNDS), Ok(()));
    }

    #[test]
    fn close_primes_are_found_within_the_round_bound() {
        let n = modulus(&big(P_CLOSE), &big(Q_CLOSE));
        assert_eq!(
            check_rsa_modulus(&n, DEFAULT_FERMAT_ROUNDS),
            Err(Weakness::ClosePrimes { round: 1 })
        );
        // Switched off with 0 rounds.
        assert_eq!(check_rsa_modulus(&n, 0), Ok(()));

        let far = modulus(&big(P_CLOSE), &big(Q_FAR));
        assert_eq!(check_rsa_modulus(&far, DEFAULT_FERMAT_ROUNDS), Ok(()));
        assert_eq!(
            check_rsa_modulus(&far, 200),
            Err(Weakness::ClosePrimes { round: 157 })
        );
        // A perfect square (p = q) is found in round 1.
        let square = modulus(&big(P_CLOSE), &big(P_CLOSE));
        assert_eq!(
            check_rsa_modulus(&square, 1),
            Err(Weakness::ClosePrimes { round: 1 })
        );
    }

    #[test]
    fn weakness_details_never_show_a_factor() {
        let n = modulus(&big(P_CLOSE), &big(Q_CLOSE));
        let detail = check_rsa_modulus(&n, 100).unwrap_err().to_string();
        assert!(detail.contains("Fermat"), "{detail}");
        assert!(!detail.contains("debe0de0"), "{detail}");
        let decimal = big(P_CLOSE).to_string();
        assert!(!detail.contains(&decimal[..20]), "{detail}");
    }

    #[test]
    fn blocklist_file_format() {
        let spki = b"not really an SPKI, only bytes to hash";
        let hash = hex(&spki_sha256(spki));
        let text = format!(
            "# compromised keys\n\n{}  # from a leaked repository\n{}\n",
            hash.to_ascii_uppercase(),
            "00".repeat(32)
        );
        let list = KeyBlocklist::parse(&text).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list.blocked(spki), Some(hash));
        assert_eq!(list.blocked(b"another key"), None);
        assert!(
            KeyBlocklist::from_spkis([&spki[..]])
                .blocked(spki)
                .is_some()
        );

        let err = KeyBlocklist::parse("# ok\nabc\n").unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(err.contains("64 hex digits"), "{err}");
        assert!(KeyBlocklist::parse(&"zz".repeat(32)).is_err());
        assert!(KeyBlocklist::default().is_empty());
        assert_eq!(format!("{:?}", list), "KeyBlocklist(2 keys)");
    }
}
