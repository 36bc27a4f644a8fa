//! The few DER (X.690) pieces a SubjectPublicKeyInfo needs: a strict reader and a writer.
//!
//! Only definite, minimal lengths are accepted, so every key has exactly one encoding and
//! byte-comparing two SPKIs means comparing two keys.

/// DER tag of INTEGER.
pub(crate) const INTEGER: u8 = 0x02;
/// DER tag of BIT STRING.
pub(crate) const BIT_STRING: u8 = 0x03;
/// DER tag of NULL.
pub(crate) const NULL: u8 = 0x05;
/// DER tag of OBJECT IDENTIFIER.
pub(crate) const OID: u8 = 0x06;
/// DER tag of SEQUENCE (constructed).
pub(crate) const SEQUENCE: u8 = 0x30;

/// Reads consecutive TLVs from a byte slice.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { rest: data }
    }

    /// True when every byte has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next TLV, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Reads one TLV with tag `tag` and returns its contents.
    pub(crate) fn read(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&t, rest) = self.rest.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is BER's indefinite length; more than 4 length octets is never needed here.
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (len_bytes, after) = rest.split_at(n);
            rest = after;
            if len_bytes[0] == 0 {
                return None; // non-minimal
            }
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if len < 0x80 {
                return None; // should have used the short form
            }
            len
        };
        if rest.len() < len {
            return None;
        }
        let (content, after) = rest.split_at(len);
        self.rest = after;
        Some(content)
    }

    /// Reads a non-negative INTEGER and returns its magnitude without leading zero bytes.
    pub(crate) fn read_unsigned(&mut self) -> Option<&'a [u8]> {
        let content = self.read(INTEGER)?;
        match content {
            [] => None,
            [b, ..] if b & 0x80 != 0 => None,          // negative
            [0, next, ..] if next & 0x80 == 0 => None, // non-minimal
            [0, rest @ ..] => Some(rest),
            _ => Some(content),
        }
    }

    /// Reads a BIT STRING with no unused bits and returns its octets.
    pub(crate) fn read_bit_string(&mut self) -> Option<&'a [u8]> {
        match self.read(BIT_STRING)? {
            [0, rest @ ..] => Some(rest),
            _ => None,
        }
    }
}

/// Encodes one TLV.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let used = &bytes[skip..];
        out.push(0x80 | used.len() as u8);
        out.extend_from_slice(used);
    }
    out.extend_from_slice(content);
    out
}

/// Encodes a non-negative INTEGER from a big-endian magnitude without leading zeros.
pub(crate) fn unsigned(magnitude: &[u8]) -> Vec<u8> {
    match magnitude.first() {
        Some(b) if b & 0x80 != 0 => {
            let mut c = Vec::with_capacity(magnitude.len() + 1);
            c.push(0);
            c.extend_from_slice(magnitude);
            tlv(INTEGER, &c)
        }
        Some(_) => tlv(INTEGER, magnitude),
        None => tlv(INTEGER, &[0]),
    }
}

/// Encodes a BIT STRING with no unused bits.
pub(crate) fn bit_string(octets: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(octets.len() + 1);
    c.push(0);
    c.extend_from_slice(octets);
    tlv(BIT_STRING, &c)
}

/// Encodes a SEQUENCE of already-encoded elements.
pub(crate) fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_and_reject_non_minimal() {
        for n in [0usize, 1, 127, 128, 255, 256, 1000, 70000] {
            let v = vec![7u8; n];
            let enc = tlv(OID, &v);
            let mut r = Reader::new(&enc);
            assert_eq!(r.read(OID), Some(&v[..]));
            assert!(r.is_empty());
        }
        assert!(
            Reader::new(&[OID, 0x81, 0x05, 1, 2, 3, 4, 5])
                .read(OID)
                .is_none()
        );
        assert!(Reader::new(&[OID, 0x80, 0, 0]).read(OID).is_none());
        assert!(Reader::new(&[OID, 0x82, 0x00, 0x90]).read(OID).is_none());
        assert!(Reader::new(&[OID, 0x05, 1]).read(OID).is_none());
        assert!(Reader::new(&[NULL, 0x00]).read(OID).is_none());
    }

    #[test]
    fn integers() {
        let enc = unsigned(&[0x80, 1]);
        assert_eq!(enc, [INTEGER, 3, 0, 0x80, 1]);
        assert_eq!(Reader::new(&enc).read_unsigned(), Some(&[0x80, 1][..]));
        assert_eq!(Reader::new(&unsigned(&[1])).read_unsigned(), Some(&[1][..]));
        assert!(Reader::new(&[INTEGER, 1, 0x80]).read_unsigned().is_none());
        assert!(Reader::new(&[INTEGER, 2, 0, 1]).read_unsigned().is_none());
        assert!(Reader::new(&[INTEGER, 0]).read_unsigned().is_none());
    }
}
