//! What a customer needs to register: the kid and HMAC key lines (stable: tests and scripts
//! parse `EAB key id:` and `EAB HMAC key:`), and client command lines that work when pasted.

use std::path::Path;

/// Prints the EAB lines and certbot, lego and acme.sh command lines to stdout (never to the
/// log: the HMAC key is a secret shown once).
pub(crate) fn print_eab(directory_url: &str, kid: &str, hmac_key: &str, trust: Option<&Path>) {
    print!("{}", eab_lines(directory_url, kid, hmac_key, trust));
}

/// The EAB lines and the client command lines, each ending in a newline.
///
/// `trust` is the root certificate the ACME listener's certificate chains to when clients do
/// not already trust it (Ferrite issued the listener certificate itself): each command names it
/// the way its client takes it, certbot through `REQUESTS_CA_BUNDLE`, lego through
/// `LEGO_CA_CERTIFICATES` and acme.sh through `--ca-bundle`. `None` when the operator's own
/// certificate is served, which clients are expected to trust already.
pub(crate) fn eab_lines(
    directory_url: &str,
    kid: &str,
    hmac_key: &str,
    trust: Option<&Path>,
) -> String {
    let (certbot_env, lego_env, acme_sh_flag) = match trust {
        Some(root) => {
            let root = shell_word(&root.to_string_lossy());
            (
                format!("REQUESTS_CA_BUNDLE={root} "),
                format!("LEGO_CA_CERTIFICATES={root} "),
                format!(" --ca-bundle {root}"),
            )
        }
        None => Default::default(),
    };
    format!(
        "EAB key id: {kid}\n\
         EAB HMAC key: {hmac_key}\n\
         Register an ACME client with it (shown once; the key is base64url):\n  \
         {certbot_env}certbot register --server {directory_url} --eab-kid {kid} --eab-hmac-key {hmac_key} --agree-tos --no-eff-email -m you@example.com\n  \
         {lego_env}lego --server {directory_url} --eab --kid {kid} --hmac {hmac_key} --email you@example.com --accept-tos --domains example.com --http run\n  \
         acme.sh --register-account --server {directory_url} --eab-kid {kid} --eab-hmac-key {hmac_key}{acme_sh_flag}\n"
    )
}

/// `text` as one POSIX shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a quote inside written as `'\''`).
fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%=".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
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

    #[test]
    fn a_path_with_spaces_or_quotes_stays_one_shell_word() {
        assert_eq!(shell_word("/srv/ca/root.pem"), "/srv/ca/root.pem");
        assert_eq!(shell_word("/srv/my ca/root.pem"), "'/srv/my ca/root.pem'");
        assert_eq!(shell_word("/srv/it's/root.pem"), r"'/srv/it'\''s/root.pem'");
    }
}
