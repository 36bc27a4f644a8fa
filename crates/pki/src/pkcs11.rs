//! CA keys in a PKCS#11 token (an HSM, or SoftHSM for tests), through the `cryptoki` crate.
//!
//! [`Token::open`] loads the vendor's module, finds the token by its label and logs in with
//! the user PIN. Signing goes through a pool of sessions that grows with the load up to
//! [`TokenSettings::max_sessions`], so concurrent requests sign in parallel rather than one
//! after another behind a single session. A token error does not stick: a session that was
//! logged out is logged in again, a closed session is replaced, and when the token or the
//! library went away (device removed, library finalized) the pool starts over — the library
//! initialized again, the slot found again by label, the key found again by its id — so the
//! request that met the error retries once and later requests work as soon as the token is
//! back. A wrong or locked PIN is never retried (a token locks after a few wrong PINs).
//!
//! Keys made here ([`Token::generate_key`]: ECDSA P-256 or P-384, or RSA of 2048 to 4096 bits)
//! are token objects that are private, sensitive and never extractable; a key is found by its
//! CKA_ID, which is the certificate's subjectKeyIdentifier (RFC 7093 method 1), or else through
//! its public key object's point (EC) or modulus and public exponent (RSA). ECDSA keys sign
//! with CKM_ECDSA over a digest computed here, RSA keys with CKM_SHA256_RSA_PKCS over the
//! message.
//!
//! The PIN ([`Pkcs11Pin`]) never reaches `Debug`, an error or a log line.

use crate::weak_keys::hex;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::{AuthPin, Ulong};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::der;
use crate::signer::{
    CaKeyAlgorithm, CaKeyType, CaSigner, KeyLocation, ecdsa_raw_to_der, key_identifier,
};
use crate::{KeyKind, PkiError};

/// How long a signature waits for a free session when all [`TokenSettings::max_sessions`]
/// are busy.
const SESSION_WAIT: Duration = Duration::from_secs(30);

/// What a token's user PIN is: `Debug` prints `[redacted]`.
#[derive(Clone)]
pub struct Pkcs11Pin(AuthPin);

impl Pkcs11Pin {
    /// Wraps a PIN (trailing newlines, as a PIN file has them, are dropped).
    pub fn new(pin: &str) -> Pkcs11Pin {
        Pkcs11Pin(AuthPin::from(pin.trim_end_matches(['\n', '\r'])))
    }
}

impl fmt::Debug for Pkcs11Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where the token is and how to use it.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The vendor's PKCS#11 module (`ca.pkcs11_module`).
    pub module: PathBuf,
    /// The token's label (`ca.pkcs11_token`).
    pub token: String,
    /// The user PIN.
    pub pin: Pkcs11Pin,
    /// Most sessions open at once for signing (`ca.pkcs11_sessions`); they are opened as
    /// concurrent signatures need them.
    pub max_sessions: usize,
}

/// Whether a private key can leave the token: what an auditor checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyProtection {
    /// CKA_SENSITIVE: the key's value cannot be read.
    pub sensitive: bool,
    /// CKA_EXTRACTABLE: the key can be wrapped out of the token.
    pub extractable: bool,
    /// CKA_ALWAYS_SENSITIVE: the key has been sensitive since it was made.
    pub always_sensitive: bool,
    /// CKA_NEVER_EXTRACTABLE: the key has never been extractable.
    pub never_extractable: bool,
}

impl KeyProtection {
    /// Sensitive, not extractable, and so since the key was made.
    pub fn is_locked_in(&self) -> bool {
        self.sensitive && !self.extractable && self.always_sensitive && self.never_extractable
    }
}

/// A private key object of the token, as listed by [`Token::private_keys`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKeyInfo {
    /// CKA_LABEL.
    pub label: String,
    /// CKA_ID, lower-case hex.
    pub id_hex: String,
    /// Its protection attributes.
    pub protection: KeyProtection,
}

/// An open token: the module, the slot holding the token, and the session pool.
#[derive(Clone)]
pub struct Token {
    inner: Arc<TokenInner>,
}

struct TokenInner {
    settings: TokenSettings,
    /// Manufacturer, model and serial number, for the log.
    description: String,
    state: Mutex<PoolState>,
    /// Signalled when a session comes back to the pool or a place to open one frees up.
    returned: Condvar,
}

struct PoolState {
    ctx: Pkcs11,
    slot: Slot,
    /// Increases each time the pool starts over; sessions and key handles of an older
    /// generation are not used again.
    generation: u64,
    idle: Vec<Session>,
    /// Sessions of this generation open, idle or in use.
    open: usize,
    /// The pool started over and the token has not been found since: the next session looks
    /// for it first.
    slot_lost: bool,
    /// The token refused the PIN: no more logins until restart.
    pin_refused: Option<String>,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("module", &self.inner.settings.module)
            .field("token", &self.inner.settings.token)
            .field("max_sessions", &self.inner.settings.max_sessions)
            .finish_non_exhaustive()
    }
}

/// A failed signing attempt: the error to report, and, when another attempt may work, how to
/// recover first and the pool generation the attempt ran in.
struct Failed {
    error: PkiError,
    retry: Option<(Recovery, u64)>,
}

/// How a failed call is recovered from.
#[derive(Clone, Copy)]
enum Recovery {
    /// Log in again (the token logged the application out).
    LogIn,
    /// Drop this session (closed or invalid) and take another.
    DropSession,
    /// Find the key again (its handle is no longer valid).
    FindKey,
    /// Start over: initialize the library, find the slot, open new sessions.
    Reset,
    /// Nothing to do: report it.
    None,
}

fn recovery(e: &CkError) -> Recovery {
    match e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::UserNotLoggedIn => Recovery::LogIn,
            RvError::SessionHandleInvalid | RvError::SessionClosed => Recovery::DropSession,
            RvError::KeyHandleInvalid | RvError::ObjectHandleInvalid => Recovery::FindKey,
            RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::SlotIdInvalid
            | RvError::CryptokiNotInitialized
            | RvError::GeneralError => Recovery::Reset,
            _ => Recovery::None,
        },
        _ => Recovery::None,
    }
}

/// Loads `module` and initializes it; an already initialized library (another token of the
/// same module in this process) is fine.
fn load_module(module: &Path) -> Result<Pkcs11, PkiError> {
    let failed = |detail: String| PkiError::Pkcs11Module {
        module: module.to_owned(),
        detail,
    };
    if !module.exists() {
        return Err(failed("no such file".into()));
    }
    let ctx = Pkcs11::new(module).map_err(|e| failed(e.to_string()))?;
    initialize(&ctx).map_err(|e| failed(e.to_string()))?;
    Ok(ctx)
}

fn initialize(ctx: &Pkcs11) -> Result<(), CkError> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) | Ok(()) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The slot whose token is labelled `label`, and the token's description.
fn find_slot(ctx: &Pkcs11, module: &Path, label: &str) -> Result<(Slot, String), PkiError> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| PkiError::Pkcs11Module {
            module: module.to_owned(),
            detail: format!("cannot list its slots: {e}"),
        })?;
    let mut present = Vec::new();
    for slot in slots {
        let Ok(info) = ctx.get_token_info(slot) else {
            continue;
        };
        let found = info.label().trim_end();
        if found == label {
            let description = format!(
                "{} {} serial {}",
                info.manufacturer_id().trim_end(),
                info.model().trim_end(),
                info.serial_number().trim_end()
            );
            return Ok((slot, description));
        }
        if !found.is_empty() {
            present.push(found.to_owned());
        }
    }
    Err(PkiError::TokenNotFound {
        module: module.to_owned(),
        token: label.to_owned(),
        present,
    })
}

impl Token {
    /// Loads the module, finds the token by label and logs in (one session, opened now, so
    /// a wrong PIN is the caller's error at start and not a request's later).
    pub fn open(settings: TokenSettings) -> Result<Token, PkiError> {
        let ctx = load_module(&settings.module)?;
        let (slot, description) = find_slot(&ctx, &settings.module, &settings.token)?;
        let token = Token {
            inner: Arc::new(TokenInner {
                description,
                state: Mutex::new(PoolState {
                    ctx,
                    slot,
                    generation: 0,
                    idle: Vec::new(),
                    open: 0,
                    slot_lost: false,
                    pin_refused: None,
                }),
                returned: Condvar::new(),
                settings: TokenSettings {
                    max_sessions: settings.max_sessions.max(1),
                    ..settings
                },
            }),
        };
        let session = token.session()?;
        drop(session);
        Ok(token)
    }

    /// The token's label.
    pub fn label(&self) -> &str {
        &self.inner.settings.token
    }

    /// The module's path.
    pub fn module(&self) -> &Path {
        &self.inner.settings.module
    }

    /// The token's manufacturer, model and serial number.
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// Sessions open now (idle or in use).
    pub fn open_sessions(&self) -> usize {
        self.lock().open
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // A panic while holding the lock leaves a consistent pool (every change is one
        // assignment): keep using it.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn token_error(&self, action: &'static str, e: impl fmt::Display) -> PkiError {
        PkiError::Token {
            token: self.inner.settings.token.clone(),
            action,
            detail: e.to_string(),
        }
    }

    /// A logged-in session from the pool: an idle one, a new one while fewer than
    /// `max_sessions` are open, or the first one returned within [`SESSION_WAIT`].
    fn session(&self) -> Result<Pooled<'_>, PkiError> {
        let deadline = Instant::now() + SESSION_WAIT;
        let mut state = self.lock();
        loop {
            if let Some(reason) = &state.pin_refused {
                return Err(PkiError::TokenLogin {
                    token: self.inner.settings.token.clone(),
                    reason: reason.clone(),
                });
            }
            if state.slot_lost {
                drop(state);
                self.find_slot_again()?;
                state = self.lock();
                continue;
            }
            if let Some(session) = state.idle.pop() {
                return Ok(Pooled {
                    token: self,
                    session: Some(session),
                    generation: state.generation,
                });
            }
            if state.open < self.inner.settings.max_sessions {
                state.open += 1;
                let (ctx, slot, generation) = (state.ctx.clone(), state.slot, state.generation);
                drop(state);
                return match self.open_session(&ctx, slot) {
                    Ok(session) => Ok(Pooled {
                        token: self,
                        session: Some(session),
                        generation,
                    }),
                    Err(e) => {
                        self.forget_session(generation);
                        Err(e)
                    }
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.token_error(
                    "waiting for a free session",
                    format!(
                        "all {} sessions stayed busy for {} s; raise ca.pkcs11_sessions if the token allows more",
                        self.inner.settings.max_sessions,
                        SESSION_WAIT.as_secs()
                    ),
                ));
            }
            state = self
                .inner
                .returned
                .wait_timeout(state, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Opens a read-only session and logs the application in unless it already is (login
    /// state is shared by all the application's sessions).
    fn open_session(&self, ctx: &Pkcs11, slot: Slot) -> Result<Session, PkiError> {
        let session = ctx
            .open_ro_session(slot)
            .map_err(|e| self.token_error("opening a session", e))?;
        self.log_in(&session)?;
        Ok(session)
    }

    fn log_in(&self, session: &Session) -> Result<(), PkiError> {
        let logged_in = session
            .get_session_info()
            .map(|i| {
                matches!(
                    i.session_state(),
                    SessionState::RoUser | SessionState::RwUser
                )
            })
            .unwrap_or(false);
        if logged_in {
            return Ok(());
        }
        match session.login(UserType::User, Some(&self.inner.settings.pin.0)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(CkError::Pkcs11(
                rv @ (RvError::PinIncorrect
                | RvError::PinLocked
                | RvError::PinExpired
                | RvError::PinInvalid
                | RvError::PinLenRange),
                _,
            )) => {
                let reason = match rv {
                    RvError::PinLocked => "the user PIN is locked (too many wrong PINs); the token's security officer must unlock it".to_owned(),
                    RvError::PinExpired => "the user PIN has expired; set a new one with the token's tools".to_owned(),
                    _ => "the PIN is wrong; check ca.pkcs11_pin_file or FERRITE_CA__PKCS11_PIN (a token locks after a few wrong PINs, so Ferrite does not try again until it restarts)".to_owned(),
                };
                self.lock().pin_refused = Some(reason.clone());
                Err(PkiError::TokenLogin {
                    token: self.inner.settings.token.clone(),
                    reason,
                })
            }
            Err(e) => Err(self.token_error("logging in", e)),
        }
    }

    /// A session of `generation` that will not come back.
    fn forget_session(&self, generation: u64) {
        let mut state = self.lock();
        if state.generation == generation {
            state.open = state.open.saturating_sub(1);
        }
        drop(state);
        self.inner.returned.notify_one();
    }

    /// Starts over after the token or the library went away: sessions of the old generation
    /// are dropped, the library is initialized again and the token found again by label.
    fn reset(&self, seen_generation: u64) -> Result<(), PkiError> {
        let mut state = self.lock();
        if state.generation != seen_generation {
            // Another signature already started over.
            return Ok(());
        }
        state.generation += 1;
        state.open = 0;
        state.slot_lost = true;
        let stale = std::mem::take(&mut state.idle);
        drop(state);
        drop(stale);
        self.inner.returned.notify_all();
        self.find_slot_again()
    }

    /// Initializes the module again (unless it is) and finds the token by label: after the
    /// pool started over, and on every later request until it is found, so that service
    /// resumes when the token is back.
    fn find_slot_again(&self) -> Result<(), PkiError> {
        let ctx = self.lock().ctx.clone();
        initialize(&ctx).map_err(|e| self.token_error("initializing the module again", e))?;
        let (slot, _) = find_slot(
            &ctx,
            &self.inner.settings.module,
            &self.inner.settings.token,
        )?;
        let mut state = self.lock();
        state.slot = slot;
        if state.slot_lost {
            state.slot_lost = false;
            tracing::info!(token = %self.inner.settings.token, "found the token again");
        }
        Ok(())
    }

    /// The private key whose public key is `spki_der` (a CA certificate's: ECDSA P-256 or
    /// P-384, or RSA of 2048 to 4096 bits), found by CKA_ID = the RFC 7093 key identifier, or
    /// else through a public key object with the same point (EC) or modulus and exponent
    /// (RSA); then checked by signing a test message and verifying it with `spki_der`.
    /// `certificate` names the certificate in errors.
    pub fn find_key(&self, spki_der: &[u8], certificate: &str) -> Result<Pkcs11Key, PkiError> {
        let public = ca_public_key(spki_der)?;
        let algorithm = public.algorithm;
        let session = self.session()?;
        let Some(found) = self.locate(session.get(), &public)? else {
            return Err(PkiError::TokenKeyNotFound {
                token: self.inner.settings.token.clone(),
                id_hex: hex(&key_identifier(&public.raw)),
                certificate: certificate.to_owned(),
            });
        };
        let generation = session.generation;
        drop(session);
        let key = Pkcs11Key {
            token: self.clone(),
            id: found.id,
            label: found.label,
            algorithm,
            public_key_der: spki_der.to_vec(),
            handle: Mutex::new(Some((generation, found.handle))),
        };
        key.check_belongs(certificate)?;
        Ok(key)
    }

    /// The private key object of the key whose public key is `spki_der`, if the token holds
    /// it: its label, id and protection. Nothing is signed.
    pub fn key_info(&self, spki_der: &[u8]) -> Result<Option<TokenKeyInfo>, PkiError> {
        let public = ca_public_key(spki_der)?;
        let session = self.session()?;
        let Some(found) = self.locate(session.get(), &public)? else {
            return Ok(None);
        };
        Ok(Some(TokenKeyInfo {
            label: found.label,
            id_hex: hex(&found.id),
            protection: protection(session.get(), found.handle)
                .map_err(|e| self.token_error("reading a key's attributes", e))?,
        }))
    }

    /// Finds the private key of the public key `public`.
    fn locate(&self, s: &Session, public: &CaPublicKey) -> Result<Option<Located>, PkiError> {
        let failed = |e| self.token_error("finding a key", e);
        // The private key objects of id `id` that can be this key: of its type, and with its
        // modulus (RSA) or curve (EC), so that an id a vendor's tool gave several keys never
        // finds another one.
        let private_with = |id: &[u8]| -> Result<Vec<ObjectHandle>, PkiError> {
            let key_type = match public.parts {
                PublicParts::Rsa { .. } => KeyType::RSA,
                PublicParts::Ec { .. } => KeyType::EC,
            };
            let candidates = s
                .find_objects(&[
                    Attribute::Class(ObjectClass::PRIVATE_KEY),
                    Attribute::KeyType(key_type),
                    Attribute::Id(id.to_vec()),
                ])
                .map_err(failed)?;
            Ok(candidates
                .into_iter()
                .filter(|&handle| match &public.parts {
                    PublicParts::Rsa { modulus, .. } => {
                        attribute_bytes(s, handle, AttributeType::Modulus)
                            .is_some_and(|m| magnitude(&m) == &modulus[..])
                    }
                    PublicParts::Ec { .. } => {
                        match (
                            attribute_bytes(s, handle, AttributeType::EcParams),
                            public.algorithm.curve_oid_der(),
                        ) {
                            (Some(params), Some(curve)) => params == curve,
                            // A token that does not show the curve: the signature check
                            // after the lookup decides.
                            (None, _) => true,
                            (Some(_), None) => false,
                        }
                    }
                })
                .collect())
        };
        let mut id = key_identifier(&public.raw);
        let mut found = private_with(&id)?;
        if found.is_empty() {
            // A key made elsewhere: its public key object has the same public key, and the
            // same id as the private key (an empty id names nothing).
            for handle in self.public_key_objects(s, &public.parts)? {
                if let Some(other) = attribute_bytes(s, handle, AttributeType::Id)
                    && !other.is_empty()
                {
                    found = private_with(&other)?;
                    id = other;
                    if !found.is_empty() {
                        break;
                    }
                }
            }
        }
        Ok(found.first().map(|&handle| Located {
            handle,
            label: attribute_bytes(s, handle, AttributeType::Label)
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default(),
            id,
        }))
    }

    /// The public key objects holding `parts`: for EC the point, DER-wrapped in an OCTET
    /// STRING as PKCS#11 specifies it or bare as some tokens keep it; for RSA the modulus
    /// (with or without a leading zero octet) and the same public exponent.
    fn public_key_objects(
        &self,
        s: &Session,
        parts: &PublicParts,
    ) -> Result<Vec<ObjectHandle>, PkiError> {
        let failed = |e| self.token_error("finding a key", e);
        let mut handles = Vec::new();
        match parts {
            PublicParts::Ec { point } => {
                for point_value in [der::octet_string(point), point.clone()] {
                    handles.extend(
                        s.find_objects(&[
                            Attribute::Class(ObjectClass::PUBLIC_KEY),
                            Attribute::EcPoint(point_value),
                        ])
                        .map_err(failed)?,
                    );
                }
            }
            PublicParts::Rsa { modulus, exponent } => {
                for modulus_value in [modulus.clone(), [&[0], &modulus[..]].concat()] {
                    for handle in s
                        .find_objects(&[
                            Attribute::Class(ObjectClass::PUBLIC_KEY),
                            Attribute::KeyType(KeyType::RSA),
                            Attribute::Modulus(modulus_value),
                        ])
                        .map_err(failed)?
                    {
                        let same_exponent =
                            attribute_bytes(s, handle, AttributeType::PublicExponent)
                                .is_some_and(|e| magnitude(&e) == &exponent[..]);
                        if same_exponent {
                            handles.push(handle);
                        }
                    }
                }
            }
        }
        Ok(handles)
    }

    /// Generates a key pair of `key_type` in the token, labelled `label`: the private key
    /// private, sensitive, never extractable, for signing only (an RSA key neither decrypts nor
    /// unwraps); both objects get CKA_ID = the RFC 7093 key identifier of the public key. An
    /// RSA key has the public exponent 65537.
    pub fn generate_key(&self, key_type: CaKeyType, label: &str) -> Result<Pkcs11Key, PkiError> {
        let algorithm = key_type.algorithm();
        let (ctx, slot) = {
            let state = self.lock();
            (state.ctx.clone(), state.slot)
        };
        let session = ctx
            .open_rw_session(slot)
            .map_err(|e| self.token_error("opening a read-write session", e))?;
        self.log_in(&session)?;
        // A random id until the public key is known.
        let mut temporary_id = [0u8; 20];
        aws_lc_rs::rand::fill(&mut temporary_id[..])
            .map_err(|_| self.token_error("generating a key", "the random generator failed"))?;
        let label_bytes = label.as_bytes().to_vec();
        let mut public_template = vec![
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Wrap(false),
            Attribute::Derive(false),
            Attribute::Label(label_bytes.clone()),
            Attribute::Id(temporary_id.to_vec()),
        ];
        let mechanism = match (key_type.rsa_bits(), algorithm.curve_oid_der()) {
            (Some(bits), _) => {
                let bits = Ulong::try_from(bits)
                    .map_err(|e| self.token_error("generating a key pair", e))?;
                public_template.push(Attribute::ModulusBits(bits));
                public_template.push(Attribute::PublicExponent(RSA_PUBLIC_EXPONENT.to_vec()));
                Mechanism::RsaPkcsKeyPairGen
            }
            (None, Some(curve)) => {
                public_template.push(Attribute::EcParams(curve));
                Mechanism::EccKeyPairGen
            }
            (None, None) => {
                return Err(self.token_error(
                    "generating a key pair",
                    format!("{key_type} is neither RSA nor on a named curve"),
                ));
            }
        };
        let private_template = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Decrypt(false),
            Attribute::Derive(false),
            Attribute::Unwrap(false),
            Attribute::Label(label_bytes),
            Attribute::Id(temporary_id.to_vec()),
        ];
        let (public, private) = session
            .generate_key_pair(&mechanism, &public_template, &private_template)
            .map_err(|e| self.token_error("generating a key pair", e))?;
        let read = |kind: AttributeType, name: &str| {
            attribute_bytes(&session, public, kind)
                .ok_or_else(|| self.token_error("reading the new public key", format!("no {name}")))
        };
        // The subjectPublicKey BIT STRING's contents: an EC point, or a DER RSAPublicKey.
        let (raw, spki) = match algorithm.curve_oid_der() {
            Some(curve) => {
                let point = read(AttributeType::EcPoint, "CKA_EC_POINT")?;
                let point = der::octet_string_contents(&point)
                    .map(<[u8]>::to_vec)
                    .unwrap_or(point);
                let spki = der::ec_subject_public_key_info(&curve, &point);
                (point, spki)
            }
            None => {
                let modulus = read(AttributeType::Modulus, "CKA_MODULUS")?;
                let exponent = read(AttributeType::PublicExponent, "CKA_PUBLIC_EXPONENT")?;
                (
                    der::rsa_public_key(&modulus, &exponent),
                    der::rsa_subject_public_key_info(&modulus, &exponent),
                )
            }
        };
        let id = key_identifier(&raw);
        let mut key_id = temporary_id.to_vec();
        let set_id = [Attribute::Id(id.clone())];
        if session.update_attributes(public, &set_id).is_ok()
            && session.update_attributes(private, &set_id).is_ok()
        {
            key_id = id;
        } else {
            tracing::warn!(token = %self.label(), label, "the token does not let CKA_ID be set; the key keeps a random id and is found by its public key");
        }
        drop(session);
        Ok(Pkcs11Key {
            token: self.clone(),
            id: key_id,
            label: label.to_owned(),
            algorithm,
            public_key_der: spki,
            handle: Mutex::new(Some((self.lock().generation, private))),
        })
    }

    /// Every private key object in the token, with its protection attributes.
    pub fn private_keys(&self) -> Result<Vec<TokenKeyInfo>, PkiError> {
        let session = self.session()?;
        let s = session.get();
        let handles = s
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
            .map_err(|e| self.token_error("listing keys", e))?;
        let mut keys = Vec::with_capacity(handles.len());
        for handle in handles {
            keys.push(TokenKeyInfo {
                label: attribute_bytes(s, handle, AttributeType::Label)
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default(),
                id_hex: attribute_bytes(s, handle, AttributeType::Id)
                    .map(|id| hex(&id))
                    .unwrap_or_default(),
                protection: protection(s, handle)
                    .map_err(|e| self.token_error("reading a key's attributes", e))?,
            });
        }
        Ok(keys)
    }
}

/// A private key object found by [`Token::locate`].
struct Located {
    handle: ObjectHandle,
    id: Vec<u8>,
    label: String,
}

/// A pooled session: goes back to the pool when dropped, unless it failed in a way that
/// makes it useless ([`Pooled::discard`]).
struct Pooled<'a> {
    token: &'a Token,
    session: Option<Session>,
    generation: u64,
}

impl Pooled<'_> {
    fn get(&self) -> &Session {
        // Only `discard` and `drop` take the session, and both consume the guard.
        #[allow(clippy::expect_used)]
        self.session
            .as_ref()
            .expect("a pooled session is present until dropped")
    }

    fn discard(mut self) {
        if let Some(session) = self.session.take() {
            drop(session);
            self.token.forget_session(self.generation);
        }
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let mut state = self.token.lock();
        if state.generation == self.generation {
            state.idle.push(session);
            drop(state);
        } else {
            drop(state);
            drop(session);
        }
        self.token.inner.returned.notify_one();
    }
}

fn attribute_bytes(
    session: &Session,
    handle: ObjectHandle,
    kind: AttributeType,
) -> Option<Vec<u8>> {
    let attributes = session.get_attributes(handle, &[kind]).ok()?;
    attributes.into_iter().find_map(|a| match a {
        Attribute::Id(v)
        | Attribute::Label(v)
        | Attribute::EcPoint(v)
        | Attribute::Modulus(v)
        | Attribute::PublicExponent(v) => Some(v),
        _ => None,
    })
}

/// The public exponent of the RSA keys made here: 65537 (F4), big-endian.
const RSA_PUBLIC_EXPONENT: [u8; 3] = [0x01, 0x00, 0x01];

/// A big-endian unsigned integer without its leading zero octets (tokens and DER differ in
/// whether they keep one).
fn magnitude(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|b| **b == 0).count();
    &bytes[zeros..]
}

fn protection(session: &Session, handle: ObjectHandle) -> Result<KeyProtection, CkError> {
    let attributes = session.get_attributes(
        handle,
        &[
            AttributeType::Sensitive,
            AttributeType::Extractable,
            AttributeType::AlwaysSensitive,
            AttributeType::NeverExtractable,
        ],
    )?;
    // An attribute the token does not report counts against the key.
    let mut p = KeyProtection {
        sensitive: false,
        extractable: true,
        always_sensitive: false,
        never_extractable: false,
    };
    for a in attributes {
        match a {
            Attribute::Sensitive(v) => p.sensitive = v,
            Attribute::Extractable(v) => p.extractable = v,
            Attribute::AlwaysSensitive(v) => p.always_sensitive = v,
            Attribute::NeverExtractable(v) => p.never_extractable = v,
            _ => {}
        }
    }
    Ok(p)
}

/// A CA certificate's public key, as what finds its key in a token.
struct CaPublicKey {
    /// The algorithm the key signs with.
    algorithm: CaKeyAlgorithm,
    /// The subjectPublicKey BIT STRING's contents, whose RFC 7093 key identifier is the key's
    /// CKA_ID.
    raw: Vec<u8>,
    /// What the token's public key object holds.
    parts: PublicParts,
}

/// A public key as a token's public key object holds it.
enum PublicParts {
    /// CKA_EC_POINT: the uncompressed point.
    Ec { point: Vec<u8> },
    /// CKA_MODULUS and CKA_PUBLIC_EXPONENT, big-endian without leading zero octets.
    Rsa { modulus: Vec<u8>, exponent: Vec<u8> },
}

/// The public key of a CA certificate, `spki_der`: ECDSA P-256 or P-384, or RSA of 2048 to
/// 4096 bits.
fn ca_public_key(spki_der: &[u8]) -> Result<CaPublicKey, PkiError> {
    let unsupported = |reason: String| PkiError::UnsupportedPublicKey { reason };
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| unsupported(format!("the CA certificate's key does not parse: {e}")))?;
    let kind = KeyKind::of(&spki).map_err(unsupported)?;
    let algorithm = CaKeyAlgorithm::of_key(&kind)
        .map_err(|reason| unsupported(format!("a CA key in a token: {reason}")))?;
    let raw = spki.subject_public_key.data.to_vec();
    let parts = if algorithm.is_rsa() {
        let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
            return Err(unsupported("the RSA public key does not parse".into()));
        };
        PublicParts::Rsa {
            modulus: magnitude(rsa.modulus).to_vec(),
            exponent: magnitude(rsa.exponent).to_vec(),
        }
    } else {
        PublicParts::Ec { point: raw.clone() }
    };
    Ok(CaPublicKey {
        algorithm,
        raw,
        parts,
    })
}

/// A CA private key in a token. ECDSA keys sign with CKM_ECDSA over a digest computed here
/// (the token's r ‖ s turned into a DER ECDSA-Sig-Value), RSA keys with CKM_SHA256_RSA_PKCS
/// over the message (the token's signature is the signatureValue as it is).
pub struct Pkcs11Key {
    token: Token,
    id: Vec<u8>,
    label: String,
    algorithm: CaKeyAlgorithm,
    public_key_der: Vec<u8>,
    /// The key's object handle and the pool generation it was found in.
    handle: Mutex<Option<(u64, ObjectHandle)>>,
}

impl fmt::Debug for Pkcs11Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Key")
            .field("token", &self.token.label())
            .field("label", &self.label)
            .field("id", &hex(&self.id))
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

impl Pkcs11Key {
    /// The key object's CKA_ID.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// The key object's CKA_LABEL.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The token holding it.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// Its protection attributes, read from the token now.
    pub fn protection(&self) -> Result<KeyProtection, PkiError> {
        let session = self.token.session()?;
        let handle = self.handle(&session)?;
        protection(session.get(), handle)
            .map_err(|e| self.token.token_error("reading a key's attributes", e))
    }

    /// The object handle, found again by CKA_ID when the pool started over since.
    fn handle(&self, session: &Pooled<'_>) -> Result<ObjectHandle, PkiError> {
        let mut cached = self
            .handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((generation, handle)) = *cached
            && generation == session.generation
        {
            return Ok(handle);
        }
        let key_type = if self.algorithm.is_rsa() {
            KeyType::RSA
        } else {
            KeyType::EC
        };
        let found = session
            .get()
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(key_type),
                Attribute::Id(self.id.clone()),
            ])
            .map_err(|e| self.token.token_error("finding the key again", e))?;
        let handle = *found.first().ok_or_else(|| PkiError::TokenKeyNotFound {
            token: self.token.label().to_owned(),
            id_hex: hex(&self.id),
            certificate: format!("the key labelled {:?}", self.label),
        })?;
        *cached = Some((session.generation, handle));
        Ok(handle)
    }

    fn forget_handle(&self) {
        *self
            .handle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// One attempt: a session, the handle, C_Sign of `data` with `mechanism`. A failure the
    /// pool can recover from has already been partly handled here (logged in again, session
    /// dropped); the rest is the caller's ([`Failed::retry`]).
    fn try_sign(&self, mechanism: &Mechanism<'_>, data: &[u8]) -> Result<Vec<u8>, Box<Failed>> {
        let fatal = |error| Box::new(Failed { error, retry: None });
        let session = self.token.session().map_err(fatal)?;
        let handle = self.handle(&session).map_err(fatal)?;
        match session.get().sign(mechanism, handle, data) {
            Ok(raw) => Ok(raw),
            Err(e) => {
                let generation = session.generation;
                let error = self.token.token_error("signing", &e);
                let recovery = recovery(&e);
                match recovery {
                    // A logged-out application sees no private object, and SoftHSM then
                    // answers a signature with CKR_KEY_HANDLE_INVALID rather than
                    // CKR_USER_NOT_LOGGED_IN: log in again (if the session is not) before the
                    // key is looked for again. The session goes back to the pool; a refused
                    // PIN ends here.
                    Recovery::LogIn | Recovery::FindKey => {
                        self.token.log_in(session.get()).map_err(fatal)?;
                    }
                    Recovery::DropSession | Recovery::Reset => session.discard(),
                    Recovery::None => {}
                }
                Err(Box::new(Failed {
                    error,
                    retry: Some((recovery, generation)),
                }))
            }
        }
    }

    /// Signs a test message and verifies it with the certificate's public key.
    fn check_belongs(&self, certificate: &str) -> Result<(), PkiError> {
        let message = b"ferrite: does this key belong to its certificate?";
        let signature = self.sign(message)?;
        let point = crate::signer::raw_public_key(&self.public_key_der)?;
        aws_lc_rs::signature::UnparsedPublicKey::new(self.algorithm.verification(), &point)
            .verify(message, &signature)
            .map_err(|_| PkiError::InvalidCaFile {
                path: certificate.into(),
                reason: format!(
                    "the key with id {} in token {:?} does not belong to this certificate",
                    hex(&self.id),
                    self.token.label()
                ),
            })
    }
}

impl CaSigner for Pkcs11Key {
    fn algorithm(&self) -> CaKeyAlgorithm {
        self.algorithm
    }

    fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// Signs in the token; after a token error, recovers (log in, new session, key found
    /// again, or the whole pool started over) and tries once more.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        // ECDSA: CKM_ECDSA signs a digest computed here; the token returns r ‖ s. RSA:
        // CKM_SHA256_RSA_PKCS hashes and pads in the token and returns the RSASSA-PKCS1-v1_5
        // signature, which is the signatureValue as it is.
        let digest;
        let (mechanism, data) = match self.algorithm.scalar_len() {
            Some(_) => {
                digest = aws_lc_rs::digest::digest(self.algorithm.digest(), message);
                (Mechanism::Ecdsa, digest.as_ref())
            }
            None => (Mechanism::Sha256RsaPkcs, message),
        };
        let mut last = None;
        for attempt in 0..2 {
            let failed = match self.try_sign(&mechanism, data) {
                Ok(raw) => {
                    if attempt > 0 {
                        tracing::info!(token = %self.token.label(), key = %self.label, "signing works again after a token error");
                    }
                    let Some(scalar_len) = self.algorithm.scalar_len() else {
                        return Ok(raw);
                    };
                    return ecdsa_raw_to_der(&raw, scalar_len).ok_or_else(|| {
                        self.token.token_error(
                            "signing",
                            format!("the token returned a {}-byte ECDSA signature", raw.len()),
                        )
                    });
                }
                Err(failed) => *failed,
            };
            let Some((recovery, generation)) = failed.retry else {
                return Err(failed.error);
            };
            if matches!(recovery, Recovery::None) {
                return Err(failed.error);
            }
            tracing::warn!(token = %self.token.label(), key = %self.label, error = %failed.error, "a signature failed in the token; recovering");
            match recovery {
                Recovery::Reset => {
                    self.forget_handle();
                    self.token.reset(generation)?;
                }
                Recovery::FindKey => self.forget_handle(),
                Recovery::LogIn | Recovery::DropSession => {}
                Recovery::None => return Err(failed.error),
            }
            last = Some(failed.error);
        }
        Err(last.unwrap_or_else(|| self.token.token_error("signing", "no attempt was made")))
    }

    fn location(&self) -> KeyLocation {
        KeyLocation::Token {
            token: self.token.label().to_owned(),
            label: self.label.clone(),
            id_hex: hex(&self.id),
        }
    }

    fn may_block(&self) -> bool {
        true
    }
}
