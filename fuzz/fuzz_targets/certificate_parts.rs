//! The DER reader that splits a signed certificate into its three parts (to-be-signed,
//! signature algorithm, signature) before the issuer checks a signer's work: the parts it
//! returns are the input's own bytes, in order, with nothing left over.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Whether `part` is a sub-slice of `whole`, and where it starts.
fn offset(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    (start + part.len() <= whole.len()).then_some(start)
}

fuzz_target!(|data: &[u8]| {
    let Some((tbs, algorithm, signature)) = ferrite_pki::fuzzing::certificate_parts(data) else {
        return;
    };
    assert_eq!(data.first(), Some(&0x30), "a certificate is a SEQUENCE");
    let tbs_at = offset(data, tbs).expect("tbs inside the input");
    let algorithm_at = offset(data, algorithm).expect("algorithm inside the input");
    let signature_at = offset(data, signature).expect("signature inside the input");
    assert!(tbs_at + tbs.len() == algorithm_at, "algorithm follows tbs");
    assert!(
        algorithm_at + algorithm.len() < signature_at,
        "signature follows algorithm"
    );
    assert_eq!(
        signature_at + signature.len(),
        data.len(),
        "nothing after the signature"
    );
    assert_eq!(tbs.first(), Some(&0x30), "tbs is a SEQUENCE");
    assert_eq!(algorithm.first(), Some(&0x30), "algorithm is a SEQUENCE");
});
