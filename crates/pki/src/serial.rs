//! Certificate serial numbers: random generation and the hex form the rest of Ferrite stores.

use crate::PkiError;

/// Baseline Requirements §7.1: serial numbers are non-sequential, greater than zero, with at
/// least 64 bits of CSPRNG output. We use 128 random bits (RFC 5280 §4.1.2.2 allows up to 20
/// octets). The first octet is forced non-zero so every serial has 16 significant octets.
pub(crate) fn random_serial() -> Result<[u8; 16], PkiError> {
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| PkiError::Signing {
        action: "generating a serial number",
        detail: "the random number generator failed".into(),
    })?;
    if serial[0] == 0 {
        serial[0] = 1;
    }
    Ok(serial)
}

/// The lowercase hex of a positive integer's big-endian magnitude, without leading zero
/// octets (so a DER INTEGER's sign octet is dropped).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut b = bytes;
    while let [0, rest @ ..] = b {
        b = rest;
    }
    if b.is_empty() {
        return "00".to_owned();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parses the hex form back into magnitude octets (1 to 20 of them, RFC 5280 §4.1.2.2).
pub fn from_hex(serial_hex: &str) -> Result<Vec<u8>, PkiError> {
    let invalid = || PkiError::InvalidSerial {
        serial_hex: serial_hex.to_owned(),
    };
    if serial_hex.is_empty()
        || serial_hex.len() > 40
        || !serial_hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(invalid());
    }
    let padded = if serial_hex.len() % 2 == 1 {
        format!("0{serial_hex}")
    } else {
        serial_hex.to_owned()
    };
    padded
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| invalid())?;
            u8::from_str_radix(s, 16).map_err(|_| invalid())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_sign_octet() {
        assert_eq!(to_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(from_hex("8f01").unwrap(), vec![0x8f, 0x01]);
        assert_eq!(from_hex("f01").unwrap(), vec![0x0f, 0x01]);
        assert!(from_hex("").is_err());
        assert!(from_hex("zz").is_err());
        assert!(from_hex("+1").is_err());
        assert!(from_hex(&"1".repeat(41)).is_err());
    }

    #[test]
    fn random_serials_differ() {
        let a = random_serial().unwrap();
        let b = random_serial().unwrap();
        assert_ne!(a, b);
        assert_eq!(to_hex(&a).len(), 32);
    }
}
