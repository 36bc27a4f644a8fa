//! The flattened JWS JSON serialization (RFC 7515 §7.2.2) as both the request body and the
//! EAB inner JWS use it: three base64url members, decoded, and the protected header as a
//! JSON object. Algorithm and key rules are left to the callers.

use serde_json::{Map, Value};

use crate::{JoseError, base64url};

/// A flattened JWS with its parts decoded but nothing verified.
pub(crate) struct Envelope {
    /// The decoded protected header.
    pub(crate) header: Map<String, Value>,
    /// The `alg` member, as sent.
    pub(crate) alg: String,
    /// The decoded payload; empty for POST-as-GET.
    pub(crate) payload: Vec<u8>,
    /// RFC 7515 §5.1 step 6: `BASE64URL(protected) || '.' || BASE64URL(payload)`, exactly as
    /// received: the signature covers the encoded text, not the decoded JSON.
    pub(crate) signing_input: Vec<u8>,
    /// The decoded signature or MAC.
    pub(crate) signature: Vec<u8>,
}

impl Envelope {
    /// Parses a flattened JWS object.
    pub(crate) fn from_value(v: &Value) -> Result<Envelope, JoseError> {
        let obj = v
            .as_object()
            .ok_or_else(|| JoseError::malformed("JWS is not a JSON object"))?;
        // RFC 8555 §6.2: "The JWS MUST NOT have multiple signatures" and "The JWS Unprotected
        // Header [RFC7515] MUST NOT be used".
        if obj.contains_key("header") {
            return Err(JoseError::malformed(
                "JWS must not have an unprotected \"header\" member (RFC 8555 §6.2); put every header in \"protected\"",
            ));
        }
        if obj.contains_key("signatures") {
            return Err(JoseError::malformed(
                "JWS must use the flattened JSON serialization with a single signature (RFC 8555 §6.2)",
            ));
        }
        if let Some(extra) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "protected" | "payload" | "signature"))
        {
            return Err(JoseError::malformed(format!(
                "JWS has an unexpected member {extra:?}; only \"protected\", \"payload\" and \"signature\" are allowed"
            )));
        }
        let protected_b64 = string_member(obj, "protected")?;
        let payload_b64 = string_member(obj, "payload")?;
        let signature_b64 = string_member(obj, "signature")?;

        let protected = base64url::decode(protected_b64, "\"protected\"")?;
        let header = match serde_json::from_slice::<Value>(&protected) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(JoseError::malformed(
                    "protected header is not a JSON object",
                ));
            }
            Err(e) => {
                return Err(JoseError::malformed(format!(
                    "protected header is not valid JSON: {e}"
                )));
            }
        };
        // RFC 7515 §4.1.11: a recipient that does not understand a listed extension MUST
        // reject the JWS; this implementation understands none.
        if header.contains_key("crit") {
            return Err(JoseError::malformed(
                "protected header has \"crit\"; no JWS extensions are supported",
            ));
        }
        let alg = match header.get("alg") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(JoseError::malformed("\"alg\" must be a string")),
            None => return Err(JoseError::malformed("protected header has no \"alg\"")),
        };
        let payload = base64url::decode(payload_b64, "\"payload\"")?;
        let signature = base64url::decode(signature_b64, "\"signature\"")?;
        let signing_input = format!("{protected_b64}.{payload_b64}").into_bytes();
        Ok(Envelope {
            header,
            alg,
            payload,
            signing_input,
            signature,
        })
    }
}

fn string_member<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, JoseError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JoseError::malformed(format!(
            "JWS {name:?} must be a string"
        ))),
        None => Err(JoseError::malformed(format!("JWS has no {name:?} member"))),
    }
}

/// An optional string header member; present with another type is an error.
pub(crate) fn optional_string(
    header: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, JoseError> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JoseError::malformed(format!(
            "protected header {name:?} must be a string"
        ))),
    }
}
