//! DNSSEC for [`MockDns`](crate::dns::MockDns): the whole namespace served
//! as one signed root zone `.` under a fresh ECDSA P-256 key (algorithm 13),
//! with unsigned zones delegated from it and faults a test can inject.
//!
//! What a validator sees (RFC 4033–4035):
//! - `. DNSKEY` is the key, signed by itself; the test's trust anchor is that
//!   key ([`Signing::trust_anchor`]), so every signed answer chains to it;
//! - every RRset outside an unsigned zone carries an RRSIG by that key;
//! - "no such record" is NOERROR with an NSEC at the query name listing the
//!   types that do exist there (a minimal "black lie" denial, RFC 4470
//!   style), signed;
//! - an unsigned zone is delegated: `zone NS` exists, and `zone DS` is denied
//!   by a signed NSEC whose type map has NS but not DS (RFC 4035 §5.2), which
//!   proves the zone insecure; names at and below it are answered unsigned.

use std::collections::BTreeSet;
use std::fmt;

use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, NSEC, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, DnssecSigner, SigningKey};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordSet, RecordType};
use time::{Duration, OffsetDateTime};

/// A way to break the signatures of one name, to test bogus answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnssecFault {
    /// The RRSIG is served with one byte of its signature flipped.
    BadSignature,
    /// The RRSIG expired a day ago (inception two days ago).
    ExpiredSignature,
    /// No RRSIG is served although the zone is signed.
    MissingSignature,
}

/// The signing key of the root zone and how long its signatures last.
pub(crate) struct Signing {
    signer: DnssecSigner,
}

impl fmt::Debug for Signing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signing").finish_non_exhaustive()
    }
}

/// How long a good signature lasts: one day, from an hour ago.
const SIGNATURE_LIFETIME: Duration = Duration::days(1);

impl Signing {
    /// A fresh P-256 key for the root zone.
    pub(crate) fn generate() -> Signing {
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256)
            .expect("generate a P-256 key");
        let key = EcdsaSigningKey::from_pkcs8(&pkcs8, Algorithm::ECDSAP256SHA256)
            .expect("load the P-256 key");
        let public = key.to_public_key().expect("public key");
        // Flags 257: zone key + secure entry point (a combined signing key).
        let dnskey = DNSKEY::from_key(&public);
        let signer = DnssecSigner::new(
            dnskey,
            Box::new(key),
            Name::root(),
            SIGNATURE_LIFETIME.unsigned_abs(),
        );
        Signing { signer }
    }

    /// The DNSKEY record in zone-file form: a trust anchor file's line.
    pub(crate) fn trust_anchor(&self) -> String {
        format!(". 0 IN DNSKEY {}\n", self.signer.dnskey())
    }

    /// The SHA-256 DS record of the key in zone-file form (RFC 4034 §5.3):
    /// the other kind of trust anchor line.
    pub(crate) fn trust_anchor_ds(&self) -> String {
        let dnskey = self.signer.dnskey();
        let ds = DS::from_key(dnskey.public_key(), &Name::root(), DigestType::SHA256)
            .expect("DS of the root key");
        let digest: String = ds.digest().iter().map(|b| format!("{b:02X}")).collect();
        format!(
            ". 0 IN DS {} {} {} {digest}\n",
            ds.key_tag(),
            u8::from(ds.algorithm()),
            u8::from(ds.digest_type())
        )
    }

    /// The `. DNSKEY` RRset, with `ttl`.
    pub(crate) fn dnskey_record(&self, ttl: u32) -> Record {
        Record::from_rdata(
            Name::root(),
            ttl,
            RData::DNSSEC(DNSSECRData::DNSKEY(self.signer.to_dnskey())),
        )
    }

    /// `records` (one RRset: same name, type and TTL) followed by their RRSIG,
    /// broken as `fault` says.
    pub(crate) fn signed(&self, records: Vec<Record>, fault: Option<DnssecFault>) -> Vec<Record> {
        let Some(first) = records.first() else {
            return records;
        };
        if fault == Some(DnssecFault::MissingSignature) {
            return records;
        }
        let (name, record_type, ttl) = (first.name.clone(), first.record_type(), first.ttl);
        let mut rrset = RecordSet::with_ttl(name.clone(), record_type, ttl);
        for record in &records {
            rrset.insert(record.clone(), 0);
        }
        let now = OffsetDateTime::now_utc();
        let inception = match fault {
            Some(DnssecFault::ExpiredSignature) => now - Duration::days(2),
            _ => now - Duration::hours(1),
        };
        let mut rrsig = RRSIG::from_rrset(&rrset, DNSClass::IN, inception, &self.signer)
            .expect("sign the RRset");
        if fault == Some(DnssecFault::BadSignature) {
            let mut sig = rrsig.sig().to_vec();
            if let Some(byte) = sig.get_mut(10) {
                *byte ^= 0xff;
            }
            rrsig = RRSIG::from_sig(rrsig.input().clone(), sig);
        }
        let mut out = records;
        out.push(Record::from_rdata(
            name,
            ttl,
            RData::DNSSEC(DNSSECRData::RRSIG(rrsig)),
        ));
        out
    }

    /// The signed denial that `name` has any type but `present` (plus NSEC
    /// and RRSIG): an NSEC at `name` whose next name is `\000.name`, the
    /// closest possible successor, so it covers nothing else; with `ttl`.
    pub(crate) fn denial(
        &self,
        name: &Name,
        present: BTreeSet<RecordType>,
        fault: Option<DnssecFault>,
        ttl: u32,
    ) -> Vec<Record> {
        let mut next = name
            .prepend_label(&[0u8][..])
            .unwrap_or_else(|_| name.clone());
        next.set_fqdn(true);
        let nsec = NSEC::new_cover_self(next, present);
        self.signed(
            vec![Record::from_rdata(
                name.clone(),
                ttl,
                RData::DNSSEC(DNSSECRData::NSEC(nsec)),
            )],
            fault,
        )
    }
}
