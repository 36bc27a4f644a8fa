//! What a customer needs to register: the kid and HMAC key lines (stable: tests and scripts
//! parse `EAB key id:` and `EAB HMAC key:`), and ready-to-paste client command lines.

/// Prints the EAB lines and certbot, lego and acme.sh command lines to stdout (never to the
/// log: the HMAC key is a secret shown once).
pub(crate) fn print_eab(directory_url: &str, kid: &str, hmac_key: &str) {
    print!("{}", eab_lines(directory_url, kid, hmac_key));
}

/// The EAB lines and the client command lines, each ending in a newline.
pub(crate) fn eab_lines(directory_url: &str, kid: &str, hmac_key: &str) -> String {
    format!(
        "EAB key id: {kid}\n\
         EAB HMAC key: {hmac_key}\n\
         Register an ACME client with it (shown once; the key is base64url):\n  \
         certbot register --server {directory_url} --eab-kid {kid} --eab-hmac-key {hmac_key} --agree-tos -m you@example.com\n  \
         lego --server {directory_url} --eab --kid {kid} --hmac {hmac_key} --email you@example.com --accept-tos --domains example.com --http run\n  \
         acme.sh --register-account --server {directory_url} --eab-kid {kid} --eab-hmac-key {hmac_key}\n"
    )
}
