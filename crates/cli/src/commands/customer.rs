//! `ferrite customer create NAME | list`.

use ferrite_core::eab::Registry;

use super::{operator_error, print_json, table};

pub(super) async fn create(registry: &Registry, name: &str, json: bool) -> anyhow::Result<()> {
    let customer = registry
        .create_customer(name)
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&customer);
    }
    println!("Created customer {} (id {})", customer.name, customer.id);
    println!(
        "Next: ferrite credential create --customer {}",
        customer.name
    );
    Ok(())
}

pub(super) async fn list(registry: &Registry, json: bool) -> anyhow::Result<()> {
    let customers = registry.customers().await.map_err(operator_error)?;
    if json {
        return print_json(&customers);
    }
    let rows: Vec<Vec<String>> = customers
        .iter()
        .map(|c| vec![c.name.clone(), c.id.clone(), table::time(c.created_at)])
        .collect();
    table::print(&["NAME", "ID", "CREATED"], &rows);
    Ok(())
}
