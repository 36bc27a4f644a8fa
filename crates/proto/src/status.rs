//! Status values (RFC 8555 §7.1.6) and challenge types (§8).

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $v),+ }
        impl $name {
            /// The value as written on the wire and in the store.
            pub fn as_str(&self) -> &'static str { match self { $(Self::$v => $s),+ } }
            /// Parses the wire value.
            pub fn parse(s: &str) -> Option<Self> { match s { $($s => Some(Self::$v),)+ _ => None } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

wire_enum!(
    /// Account status (§7.1.6).
    AccountStatus {
        /// Usable.
        Valid = "valid",
        /// Deactivated by the client (§7.3.6); final.
        Deactivated = "deactivated",
        /// Revoked by the server; final.
        Revoked = "revoked",
    }
);

wire_enum!(
    /// Order status (§7.1.6).
    OrderStatus {
        /// Authorizations still outstanding.
        Pending = "pending",
        /// All authorizations valid; waiting for finalize.
        Ready = "ready",
        /// Finalize accepted; certificate being issued.
        Processing = "processing",
        /// Certificate issued.
        Valid = "valid",
        /// Failed, expired or an authorization failed; final.
        Invalid = "invalid",
    }
);

wire_enum!(
    /// Authorization status (§7.1.6).
    AuthorizationStatus {
        /// Awaiting a challenge response.
        Pending = "pending",
        /// A challenge succeeded.
        Valid = "valid",
        /// A challenge failed.
        Invalid = "invalid",
        /// Deactivated by the client (§7.5.2).
        Deactivated = "deactivated",
        /// Past its expiry.
        Expired = "expired",
        /// Revoked by the server.
        Revoked = "revoked",
    }
);

wire_enum!(
    /// Challenge status (§7.1.6).
    ChallengeStatus {
        /// Not yet attempted.
        Pending = "pending",
        /// Validation under way.
        Processing = "processing",
        /// Validation succeeded.
        Valid = "valid",
        /// Validation failed.
        Invalid = "invalid",
    }
);

wire_enum!(
    /// Challenge types offered by this CA.
    ChallengeType {
        /// RFC 8555 §8.3.
        Http01 = "http-01",
        /// RFC 8555 §8.4.
        Dns01 = "dns-01",
        /// RFC 8737.
        TlsAlpn01 = "tls-alpn-01",
    }
);
