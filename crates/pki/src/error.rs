//! The crate's error types: [`PkiError`] for CA operations, [`CsrError`] for a client's CSR.

use std::path::PathBuf;

use crate::{KeyKind, KeyType, SignatureAlgorithm};

/// Everything that can go wrong in the CA itself: loading or creating the CA data directory,
/// issuing, revoking, parsing a presented certificate.
///
/// Every variant says whose fault it is, so the caller can pick a problem type (client fault) or
/// an internal error (operator / internal fault).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file of the CA data directory failed (operator: permissions, disk).
    #[error(
        "CA data directory: cannot {action} {path}: {source}; check the path and its permissions"
    )]
    Io {
        /// What was being done ("create", "read", "write", "rename").
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The CA data directory holds some but not all of the CA files (operator: a partial copy or
    /// an interrupted first start). Nothing is regenerated, because that would orphan the
    /// certificates already issued.
    #[error(
        "CA data directory {dir} is incomplete (missing: {}); restore the missing files from a backup, or move the directory away to create a new CA",
        missing.join(", ")
    )]
    IncompleteDataDir {
        /// The directory.
        dir: PathBuf,
        /// The file names that are missing.
        missing: Vec<String>,
    },

    /// The keys are in a token but the CA directory has no certificates for them yet
    /// (operator: the key ceremony has not been held, or `data_dir` points elsewhere).
    #[error(
        "{dir} has no {missing}: with ca.keys = \"pkcs11\" the CA is made by a key ceremony, not by the first start; run `ferrite ca init --config FILE` (or copy the certificates it wrote into {dir})"
    )]
    CaNotInitialized {
        /// The CA directory.
        dir: PathBuf,
        /// The certificate file that is missing.
        missing: &'static str,
    },

    /// A file of the CA data directory exists but is not what it should be: unparsable PEM, a
    /// key that does not match its certificate, a chain that does not verify (operator).
    #[error("CA file {path} is invalid: {reason}; restore it from a backup")]
    InvalidCaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A [`CaOptions`](crate::CaOptions) value cannot produce a valid CA (operator configuration).
    #[error("invalid CA option {field}: {reason}")]
    InvalidOptions {
        /// The option's name.
        field: &'static str,
        /// What is wrong and what is expected.
        reason: String,
    },

    /// A [`Profile`](crate::Profile) breaks a rule of the Baseline Requirements or names
    /// something this CA does not have (operator configuration).
    #[error("certificate profile {profile:?}: invalid {field}: {reason}")]
    InvalidProfile {
        /// The profile's name.
        profile: String,
        /// The field, as the configuration spells it (`"validity_seconds"`,
        /// `"key_usage.rsa"`).
        field: &'static str,
        /// What is wrong and what to write instead.
        reason: String,
    },

    /// The public key of an issuance request is of a kind the profile does not certify
    /// (client, when the caller lets such a CSR through; else operator: a profile without the
    /// key types its clients use).
    #[error(
        "certificate profile {profile:?} does not certify {key} keys; it certifies {}: use such a key, or a profile that lists this kind in key_types",
        key_type_list(allowed)
    )]
    KeyTypeNotInProfile {
        /// The profile's name.
        profile: String,
        /// The key found.
        key: KeyKind,
        /// The profile's key types.
        allowed: Vec<KeyType>,
    },

    /// The public key of an issuance request is not one this CA can certify (client: an
    /// unsupported key type reached issuance; normally the CSR policy rejects it first).
    #[error(
        "cannot certify this public key: {reason}; use an ECDSA P-256/P-384 key or an RSA key of 2048 to 4096 bits"
    )]
    UnsupportedPublicKey {
        /// Why the key was refused.
        reason: String,
    },

    /// Lint before sign: the certificate built for a request does not match the profile, so
    /// nothing was signed with the CA key (internal or caller bug: bad names, validity too long).
    #[error("certificate lint failed ({check}): {detail}; nothing was signed")]
    Lint {
        /// The name of the check that failed (e.g. `"validity"`, `"subjectAltName"`).
        check: &'static str,
        /// What was found.
        detail: String,
    },

    /// A serial number in a revocation entry is not a lowercase hex string of 1 to 20 octets
    /// (caller bug or corrupt store row).
    #[error("invalid certificate serial {serial_hex:?}: expected 1 to 40 hex digits")]
    InvalidSerial {
        /// The offending value.
        serial_hex: String,
    },

    /// A revocation reason is not an RFC 5280 §5.3.1 CRLReason value (caller: 7 and values
    /// above 10 are undefined).
    #[error("invalid revocation reason {reason}: RFC 5280 defines 0-6 and 8-10")]
    InvalidRevocationReason {
        /// The offending value.
        reason: u8,
    },

    /// A CRL window is empty or longer than the Baseline Requirements allow (caller).
    #[error("invalid CRL window: {reason}")]
    InvalidCrlWindow {
        /// What is wrong.
        reason: String,
    },

    /// A certificate presented for revocation is not a parsable X.509 certificate (client).
    #[error(
        "the certificate is not valid DER X.509: {detail}; send the certificate exactly as it was issued"
    )]
    MalformedCertificate {
        /// The parser's message.
        detail: String,
    },

    /// The PKCS#11 module (`ca.pkcs11_module`) cannot be loaded or initialized (operator).
    #[error(
        "PKCS#11 module {module} (ca.pkcs11_module): cannot load it: {detail}; install the HSM vendor's PKCS#11 library and point ca.pkcs11_module at it (SoftHSM: apt-get install softhsm2, /usr/lib/softhsm/libsofthsm2.so)"
    )]
    Pkcs11Module {
        /// The module's path.
        module: PathBuf,
        /// What failed.
        detail: String,
    },

    /// No token of the module has the label `ca.pkcs11_token` (operator).
    #[error(
        "PKCS#11 module {module} has no token labelled {token:?} (ca.pkcs11_token); tokens present: {}; fix ca.pkcs11_token, or initialize the token (SoftHSM: softhsm2-util --init-token --free --label {token:?})",
        if present.is_empty() { "none".to_owned() } else { format!("{present:?}") }
    )]
    TokenNotFound {
        /// The module's path.
        module: PathBuf,
        /// The label looked for.
        token: String,
        /// The labels of the tokens that are there.
        present: Vec<String>,
    },

    /// The token refused to log in with the configured PIN (operator).
    #[error("PKCS#11 token {token:?} refused the login: {reason}")]
    TokenLogin {
        /// The token's label.
        token: String,
        /// Why, and what to do.
        reason: String,
    },

    /// The token has no private key for a CA certificate (operator: wrong token, key deleted,
    /// or a certificate from another ceremony).
    #[error(
        "PKCS#11 token {token:?} has no private key with id {id_hex} (the subjectKeyIdentifier of {certificate}); point ca.pkcs11_token at the token that holds it, or make a new key and certificate with `ferrite ca init`"
    )]
    TokenKeyNotFound {
        /// The token's label.
        token: String,
        /// The CKA_ID looked for, hex.
        id_hex: String,
        /// The certificate whose key it is.
        certificate: String,
    },

    /// A PKCS#11 call failed (device, or operator: token full, session limit).
    #[error(
        "PKCS#11 token {token:?}: {action} failed: {detail}; check that the token is present and not full (softhsm2-util --show-slots, or the HSM's own tools) and that ca.pkcs11_module is the module of that device"
    )]
    Token {
        /// The token's label.
        token: String,
        /// What was being done.
        action: &'static str,
        /// The module's error (never the PIN).
        detail: String,
    },

    /// The signing library or the random number generator failed (internal).
    #[error("internal signing error while {action}: {detail}")]
    Signing {
        /// What was being done.
        action: &'static str,
        /// The library's message (never key material).
        detail: String,
    },

    /// Too few Certificate Transparency logs returned a valid SCT for the precertificate
    /// (internal: nothing was issued).
    #[error("Certificate Transparency: {detail}")]
    CertificateTransparency {
        /// Which logs answered what, and what the policy needs.
        detail: String,
    },
}

/// "P-256, P-384 and RSA".
fn key_type_list(types: &[KeyType]) -> String {
    let names: Vec<String> = types.iter().map(ToString::to_string).collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => "nothing".to_owned(),
    }
}

/// Why a CSR (RFC 8555 §7.4 finalize) was refused.
///
/// All of these are the client's fault. [`CsrError::is_bad_public_key`] tells the caller to
/// answer `badPublicKey` instead of `badCSR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// The bytes are not a DER PKCS#10 CertificationRequest (truncated, garbage, trailing data,
    /// unparsable extension).
    #[error(
        "The CSR is not a valid DER-encoded PKCS#10 request ({detail}); send the CSR as base64url of its DER bytes, not PEM."
    )]
    Malformed {
        /// The parser's message.
        detail: String,
    },

    /// The CSR's self-signature does not verify with the public key it contains.
    #[error(
        "The CSR's signature does not verify with the public key it contains; generate a fresh CSR signed by the certificate's private key."
    )]
    BadSignature,

    /// The CSR is signed with an algorithm the policy does not accept.
    #[error("The CSR is signed with {}, which this CA does not accept; use an ECDSA P-256 or RSA key with SHA-256 (lego: --key-type ec256 or rsa2048).", algorithm.name())]
    DisallowedSignatureAlgorithm {
        /// The algorithm found in the CSR.
        algorithm: SignatureAlgorithm,
    },

    /// The CSR requests an Extended Key Usage extension.
    #[error(
        "The CSR contains an Extended Key Usage extension; this CA sets key usages itself; generate the CSR without an Extended Key Usage extension (acme.sh users: do not reuse the auto-generated CSR)."
    )]
    ExtendedKeyUsagePresent,

    /// The public key is weak or of an unsupported kind (answer `badPublicKey`).
    #[error(
        "The CSR's public key ({key}) is not accepted: {reason}; use an ECDSA P-256 or P-384 key, or an RSA key of {rsa_min_bits} to {rsa_max_bits} bits with exponent 65537."
    )]
    BadPublicKey {
        /// The key found.
        key: KeyKind,
        /// Why it is refused.
        reason: String,
        /// The smallest RSA modulus the policy accepts.
        rsa_min_bits: usize,
        /// The largest RSA modulus the policy accepts.
        rsa_max_bits: usize,
    },

    /// The public key is of an accepted kind but weak: an RSA modulus with a small prime
    /// factor or with two primes close enough for Fermat's method (answer `badPublicKey`).
    #[error(
        "The CSR's public key is weak: {reason}; generate a new key pair with a current, unmodified tool (e.g. openssl genpkey, or your ACME client's default) and a new CSR."
    )]
    WeakPublicKey {
        /// What was found (never a factor).
        reason: String,
    },

    /// The public key is on the operator's list of known-compromised keys (answer
    /// `badPublicKey`).
    #[error(
        "The CSR's public key is known to be compromised (SHA-256 of its SubjectPublicKeyInfo: {spki_sha256}); its private key must be considered public: generate a new key pair and a new CSR, and replace the key wherever it is used."
    )]
    CompromisedPublicKey {
        /// Lower-case hex SHA-256 of the DER SubjectPublicKeyInfo.
        spki_sha256: String,
    },

    /// The CSR asks for IP address subject alternative names.
    #[error(
        "The CSR contains IP address subject alternative names, which this CA does not issue; request DNS names only."
    )]
    IpAddressesUnsupported,

    /// A requested name (a subjectAltName dNSName or the subject commonName) is not ASCII: a
    /// dNSName is an IA5String (RFC 5280 §4.2.1.6), and an internationalized name is requested
    /// in its A-label form.
    #[error(
        "The CSR requests the name {name:?} in its {field}, which is not ASCII; request internationalized domain names in their A-label (xn--) form, as in the order."
    )]
    NameNotAscii {
        /// `subjectAltName` or `commonName`.
        field: &'static str,
        /// The name as found (invalid UTF-8 replaced).
        name: String,
    },
}

impl CsrError {
    /// True when the right ACME problem type is `badPublicKey` (RFC 8555 §6.7) rather than
    /// `badCSR`.
    pub fn is_bad_public_key(&self) -> bool {
        matches!(
            self,
            CsrError::BadPublicKey { .. }
                | CsrError::WeakPublicKey { .. }
                | CsrError::CompromisedPublicKey { .. }
        )
    }
}
