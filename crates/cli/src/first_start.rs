//! The first start of `ferrite serve` on an empty database: a `default` customer with one API
//! credential and one MAC key, printed once so the quick start needs no other command.

use ferrite_core::CoreError;
use ferrite_core::eab::Registry;

use crate::commands::instructions;

/// Creates and prints the default customer's credentials if there is no customer yet (or
/// only a `default` customer left without credentials by an interrupted first start). Printed
/// to stdout only, never logged. A second instance racing on the same database loses on the
/// unique customer name and prints nothing.
pub(crate) async fn bootstrap(registry: &Registry, directory_url: &str) -> anyhow::Result<()> {
    let customers = registry.customers().await.map_err(anyhow_core)?;
    let customer = match customers.as_slice() {
        [] => match registry.create_customer("default").await {
            Ok(c) => c,
            Err(CoreError::Problem(p)) if p.status == Some(409) => return Ok(()),
            Err(e) => return Err(anyhow_core(e)),
        },
        // A first start that stopped after creating the customer (crash, full disk) is
        // finished now rather than leaving `default` without a usable credential.
        [only]
            if only.name == "default"
                && registry
                    .credentials(Some(&only.id))
                    .await
                    .map_err(anyhow_core)?
                    .is_empty() =>
        {
            only.clone()
        }
        _ => return Ok(()),
    };
    let credential = registry
        .create_credential(&customer.id)
        .await
        .map_err(anyhow_core)?;
    let key = registry
        .create_mac_key(&credential.credential.id, None)
        .await
        .map_err(anyhow_core)?;
    println!(
        "First start: created customer \"default\" with an API credential and an EAB MAC key (shown once)."
    );
    println!("API credential id: {}", credential.credential.id);
    println!("API credential secret: {}", credential.secret.expose());
    instructions::print_eab(directory_url, &key.key.kid, key.hmac_key.expose());
    Ok(())
}

fn anyhow_core(e: CoreError) -> anyhow::Error {
    anyhow::anyhow!("cannot create the default customer: {e}")
}
