//! What a customer needs to register: the kid and HMAC key lines (stable: tests and scripts
//! parse `EAB key id:` and `EAB HMAC key:`), and client command lines that work when pasted.

use std::path::Path;

use ferrite_server::client_commands::client_commands;

/// Prints the EAB lines and the certbot, lego and acme.sh command lines to stdout (never to the
/// log: the HMAC key is a secret shown once).
pub(crate) fn print_eab(directory_url: &str, kid: &str, hmac_key: &str, trust: Option<&Path>) {
    print!("{}", eab_lines(directory_url, kid, hmac_key, trust));
}

/// The EAB lines and the client command lines
/// ([`ferrite_server::client_commands::client_commands`]), each ending in a newline.
///
/// `trust` is the root certificate the ACME listener's certificate chains to when clients do
/// not already trust it (Ferrite issued the listener certificate itself); `None` when the
/// operator's own certificate is served, which clients are expected to trust already.
pub(crate) fn eab_lines(
    directory_url: &str,
    kid: &str,
    hmac_key: &str,
    trust: Option<&Path>,
) -> String {
    let trust = trust.map(|root| root.to_string_lossy().into_owned());
    let mut lines = format!(
        "EAB key id: {kid}\n\
         EAB HMAC key: {hmac_key}\n\
         Register an ACME client with it (shown once; the key is base64url):\n"
    );
    // The server's root path means nothing on a Windows client: the POSIX clients only.
    for c in client_commands(directory_url, kid, hmac_key, trust.as_deref())
        .into_iter()
        .filter(|c| !c.windows)
    {
        lines.push_str("  ");
        lines.push_str(&c.command);
        lines.push('\n');
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_name_the_root_to_trust_when_there_is_one() {
        let lines = eab_lines(
            "https://ca.test/directory",
            "kid1",
            "hmac1",
            Some(Path::new("/var/lib/ferrite/ca/root.pem")),
        );
        assert!(lines.contains(
            "REQUESTS_CA_BUNDLE=/var/lib/ferrite/ca/root.pem certbot register --server https://ca.test/directory"
        ));
        assert!(lines.contains("LEGO_CA_CERTIFICATES=/var/lib/ferrite/ca/root.pem lego --server"));
        assert!(lines.contains("--eab-hmac-key hmac1 --ca-bundle /var/lib/ferrite/ca/root.pem\n"));

        let lines = eab_lines("https://ca.test/directory", "kid1", "hmac1", None);
        assert!(!lines.contains("REQUESTS_CA_BUNDLE") && !lines.contains("--ca-bundle"));
        assert!(lines.contains("\n  certbot register --server"));
    }
}
