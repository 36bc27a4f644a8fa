//! Ferrite's certificate authority core: CA keys, CSR parsing and policy, certificate
//! profiles, lint before sign, CRLs and serial numbers.
//!
//! What it does:
//! - creates the CA once (an ECDSA P-384 root, an ECDSA P-256 intermediate with path length 0,
//!   and a TLS certificate for the ACME listener) in a data directory, and loads it afterwards
//!   without regenerating anything ([`CaBundle::load_or_create`]);
//! - parses and checks RFC 8555 §7.4 finalize CSRs ([`Csr::parse`], [`CsrPolicy::check`]),
//!   including weak and known-compromised keys;
//! - signs with the issuing intermediate's key in a file or in a PKCS#11 token ([`CaSigner`],
//!   [`pkcs11`]): ECDSA P-256 as Ferrite creates it, or ECDSA P-384, or RSA of 2048 to 4096
//!   bits ([`CaKeyType`] names the kinds a key is generated as); certificates and CRLs carry
//!   that key's signature algorithm (sha256WithRSAEncryption for RSA);
//! - issues Baseline Requirements subscriber certificates from the CSR's exact
//!   SubjectPublicKeyInfo bytes ([`Issuer::issue_with`]), shaped by a [`Profile`] (a data
//!   value the operator can configure; [`Profile::tls_server`] by default, [`Issuer::issue`]),
//!   linting the to-be-signed certificate against the same profile first (Boulder's
//!   lint-before-sign, with a placeholder signature instead of a throwaway key);
//! - signs RFC 5280 CRLs with reason codes ([`Issuer::sign_crl`]);
//! - for Certificate Transparency (RFC 6962), signs precertificates
//!   ([`Issuer::issue_precertificate`]), verifies the logs' SCTs and embeds them
//!   ([`Issuer::issue_with_scts`], [`ct`]);
//! - parses certificates presented for revocation ([`parse_certificate`]).
//!
//! What it must never do:
//! - touch the network (file I/O is limited to the CA data directory);
//! - let key material reach `Debug` output, an error or a log line (keys are held in
//!   [`SecretPem`] or inside [`Issuer`], whose `Debug` redacts them);
//! - build a certificate through rcgen's CSR-to-params path (rustls/rcgen#448 mislabels a
//!   P-384 key in a SHA-256-signed CSR); the SPKI bytes are passed through untouched;
//! - sign anything with the CA key that failed the lint;
//! - use any crypto but aws-lc-rs (no `ring`, no OpenSSL).
//!
//! # Layout
//! - `bundle`: [`CaBundle`], the CA data directory (create once, then load).
//! - `options`: [`CaOptions`], [`IssuerUrls`].
//! - `profile`: [`Profile`], a subscriber certificate's shape as data (validity, key usages,
//!   EKUs, policies, CRL DP / AIA, key types, issuer) and its validation.
//! - `params`: rcgen parameters for root, intermediate and, from a [`Profile`], subscriber
//!   certificates.
//! - `issuer`: [`Issuer`], [`IssueRequest`], [`IssuedCertificate`]: lint, sign, chain.
//! - `lint`: the checks a certificate must pass against its [`Profile`] before the CA key
//!   signs it.
//! - `crl`: [`RevokedEntry`], [`Issuer::sign_crl`].
//! - `csr`: [`Csr`], [`CsrPolicy`].
//! - `weak_keys`: small factors, Fermat-close primes, [`KeyBlocklist`] (BR §6.1.1.3).
//! - `validity`: [`max_leaf_validity`], the Baseline Requirements §6.3.2 table by date;
//!   [`MAX_LEAF_VALIDITY`].
//! - `key`, `signature`: [`KeyKind`], [`SignatureAlgorithm`] and CSR signature checks.
//! - `parse`: [`parse_certificate`], [`ParsedCertificate`].
//! - `serial`: random serials and their hex form.
//! - `der`: the few extension encodings rcgen does not provide.
//! - `secret`: [`SecretPem`].
//! - `error`: [`PkiError`], [`CsrError`].
//! - `fuzzing` (only with `--cfg fuzzing`): entry points for the fuzz targets in `fuzz/`.
#![warn(missing_docs)]

mod bundle;
mod ceremony;
mod crl;
mod csr;
pub mod ct;
mod der;
mod error;
#[cfg(fuzzing)]
pub mod fuzzing;
mod issuer;
mod key;
mod lint;
mod options;
mod params;
mod parse;
pub mod pkcs11;
mod profile;
mod secret;
mod serial;
mod signature;
mod signer;
mod validity;
mod weak_keys;

pub use bundle::{
    CaBundle, ImportedKey, LISTENER_RENEW_BEFORE, ListenerCertificate, intermediate_file,
    intermediate_key_file, is_intermediate_name, listener_fault, other_intermediates,
    renew_listener,
};
pub use ceremony::{
    Ceremony, CeremonyRecord, INTERMEDIATE_KEY_ALGORITHM, INTERMEDIATE_KEY_TYPE, NewIntermediate,
    ROOT_KEY_ALGORITHM, ROOT_KEY_TYPE, RSA_INTERMEDIATE_KEY_TYPE, RSA_INTERMEDIATE_NAME,
    RecordCertificate, RecordKey, init_in_token, sha256_fingerprint,
};
pub use crl::{MAX_CRL_VALIDITY, RevokedEntry, crl_shard_of, is_subscriber_revocation_reason};
pub use csr::{Csr, CsrPolicy};
pub use ct::{Precertificate, Sct};
pub use error::{CsrError, PkiError};
pub use issuer::{
    IssueRequest, IssuedCertificate, Issuer, MAX_NAMES_PER_CERTIFICATE, PRIMARY_ISSUER_NAME,
    certificate_pem,
};
pub use key::KeyKind;
pub use options::{CaOptions, IssuerUrls, MAX_CRL_SHARDS};
pub use parse::{ParsedCertificate, parse_certificate};
pub use profile::{
    DEFAULT_ISSUER, ECDSA_ISSUERS, ExtendedKeyUsage, KeyType, KeyUsage, KeyUsages, PolicyOid,
    Profile, RSA_ISSUERS, issuer_selected,
};
pub use secret::SecretPem;
pub use serial::{from_hex as serial_from_hex, to_hex as serial_to_hex};
pub use signature::SignatureAlgorithm;
pub use signer::{CaKeyAlgorithm, CaKeyType, CaSigner, FileKey, KeyLocation, generate_file_key};
pub use validity::{MAX_LEAF_VALIDITY, max_leaf_validity};
pub use weak_keys::{DEFAULT_FERMAT_ROUNDS, KeyBlocklist, SMALL_PRIME_BOUND, spki_sha256};
