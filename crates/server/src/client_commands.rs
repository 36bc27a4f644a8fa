//! The commands that register an ACME client with an EAB MAC key, ready to paste: printed by
//! `ferrite mac-key create` and the first start, and shown by the customer portal when it
//! makes a key. Each names the root certificate to trust when clients do not trust the ACME
//! listener's certificate already, the way its client takes it.

/// One client's command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCommand {
    /// The client, as its users name it (`certbot`, `lego`, `acme.sh`, `win-acme`).
    pub client: &'static str,
    /// Whether the command is for Windows PowerShell (win-acme) rather than a POSIX shell.
    pub windows: bool,
    /// The command line.
    pub command: String,
}

/// The one-line commands of certbot, lego, acme.sh and win-acme for `directory_url`, `kid` and
/// `hmac_key`. `trust`: the root certificate file clients must trust (a path, or the name the
/// portal's download saves it under): certbot takes it through `REQUESTS_CA_BUNDLE`, lego
/// through `LEGO_CA_CERTIFICATES`, acme.sh through `--ca-bundle`, and win-acme from the
/// Windows certificate store, where PowerShell's `Import-Certificate` puts it first (the
/// win-acme line is PowerShell, run in win-acme's folder: quoted for it, `;` between its two
/// commands, `.\wacs.exe`). `None` when the
/// listener's certificate is one clients already trust.
pub fn client_commands(
    directory_url: &str,
    kid: &str,
    hmac_key: &str,
    trust: Option<&str>,
) -> Vec<ClientCommand> {
    let (certbot_env, lego_env, acme_sh_flag, windows_store) = match trust {
        Some(root) => {
            let posix = shell_word(root);
            (
                format!("REQUESTS_CA_BUNDLE={posix} "),
                format!("LEGO_CA_CERTIFICATES={posix} "),
                format!(" --ca-bundle {posix}"),
                format!(
                    "Import-Certificate -FilePath {} -CertStoreLocation Cert:\\LocalMachine\\Root; ",
                    powershell_word(root)
                ),
            )
        }
        None => Default::default(),
    };
    vec![
        ClientCommand {
            client: "certbot",
            windows: false,
            command: format!(
                "{certbot_env}certbot register --server {directory_url} --eab-kid {kid} --eab-hmac-key {hmac_key} --agree-tos --no-eff-email -m you@example.com"
            ),
        },
        ClientCommand {
            client: "lego",
            windows: false,
            command: format!(
                "{lego_env}lego --server {directory_url} --eab --kid {kid} --hmac {hmac_key} --email you@example.com --accept-tos --domains example.com --http run"
            ),
        },
        ClientCommand {
            client: "acme.sh",
            windows: false,
            command: format!(
                "acme.sh --register-account --server {directory_url} --eab-kid {kid} --eab-hmac-key {hmac_key}{acme_sh_flag}"
            ),
        },
        ClientCommand {
            client: "win-acme",
            windows: true,
            command: format!(
                "{windows_store}.\\wacs.exe --baseuri {directory_url} --eab-key-identifier {kid} --eab-key {hmac_key} --accepttos --emailaddress you@example.com --source manual --host example.com"
            ),
        },
    ]
}

/// A cert-manager `ClusterIssuer` for `directory_url` with the EAB key `kid` / `hmac_key`,
/// after the `kubectl` command that keeps the HMAC key in the Secret it names. `root_pem`: the
/// root certificate cert-manager must trust (`caBundle`), when clients do not trust the ACME
/// listener's certificate already.
pub fn cert_manager_issuer(
    directory_url: &str,
    kid: &str,
    hmac_key: &str,
    root_pem: Option<&str>,
) -> String {
    use base64::Engine;
    let ca_bundle = root_pem
        .map(|pem| {
            format!(
                "    caBundle: {}\n",
                base64::engine::general_purpose::STANDARD.encode(pem)
            )
        })
        .unwrap_or_default();
    format!(
        "kubectl -n cert-manager create secret generic ferrite-eab --from-literal=secret={hmac_key}\n\
         kubectl apply -f - <<'EOF'\n\
         apiVersion: cert-manager.io/v1\n\
         kind: ClusterIssuer\n\
         metadata:\n  name: ferrite\n\
         spec:\n  acme:\n    server: {directory_url}\n{ca_bundle}\
         \x20   externalAccountBinding:\n      keyID: {kid}\n      keySecretRef:\n        name: ferrite-eab\n        key: secret\n\
         \x20   privateKeySecretRef:\n      name: ferrite-acme-account\n\
         \x20   solvers:\n      - http01:\n          ingress: {{}}\n\
         EOF\n"
    )
}

/// `text` as one PowerShell word: in single quotes (a quote inside doubled).
fn powershell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `text` as one POSIX shell word: as it is when it holds only characters no shell treats
/// specially, else in single quotes (a quote inside written as `'\''`).
pub fn shell_word(text: &str) -> String {
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
        let commands = client_commands(
            "https://ca.test/directory",
            "kid1",
            "hmac1",
            Some("/var/lib/ferrite/ca/root.pem"),
        );
        let by = |client: &str| {
            commands
                .iter()
                .find(|c| c.client == client)
                .map(|c| c.command.clone())
                .unwrap_or_default()
        };
        assert!(by("certbot").starts_with(
            "REQUESTS_CA_BUNDLE=/var/lib/ferrite/ca/root.pem certbot register --server https://ca.test/directory"
        ));
        assert!(
            by("lego")
                .starts_with("LEGO_CA_CERTIFICATES=/var/lib/ferrite/ca/root.pem lego --server")
        );
        assert!(
            by("acme.sh")
                .ends_with("--eab-hmac-key hmac1 --ca-bundle /var/lib/ferrite/ca/root.pem")
        );
        assert!(by("win-acme").starts_with(
            "Import-Certificate -FilePath '/var/lib/ferrite/ca/root.pem' -CertStoreLocation Cert:\\LocalMachine\\Root; .\\wacs.exe --baseuri https://ca.test/directory --eab-key-identifier kid1 --eab-key hmac1"
        ));

        let plain = client_commands("https://ca.test/directory", "kid1", "hmac1", None);
        assert!(
            plain
                .iter()
                .all(|c| !c.command.contains("REQUESTS_CA_BUNDLE")
                    && !c.command.contains("--ca-bundle")
                    && !c.command.contains("certutil"))
        );
    }

    #[test]
    fn the_cert_manager_issuer_carries_the_key_and_the_root() {
        let yaml = cert_manager_issuer("https://ca.test/directory", "kid1", "hmac1", Some("PEM"));
        assert!(yaml.contains("--from-literal=secret=hmac1\n"));
        assert!(yaml.contains("    server: https://ca.test/directory\n    caBundle: UEVN\n"));
        assert!(yaml.contains("      keyID: kid1\n"));
        assert!(!cert_manager_issuer("https://d", "k", "h", None).contains("caBundle"));
    }

    #[test]
    fn a_path_with_spaces_or_quotes_stays_one_shell_word() {
        assert_eq!(shell_word("/srv/ca/root.pem"), "/srv/ca/root.pem");
        assert_eq!(shell_word("/srv/my ca/root.pem"), "'/srv/my ca/root.pem'");
        assert_eq!(shell_word("/srv/it's/root.pem"), r"'/srv/it'\''s/root.pem'");
    }
}
