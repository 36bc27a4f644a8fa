//! `ferrite customer create NAME | list | set-profiles NAME P1,P2 | set-profiles NAME --all |
//! suspend NAME [--reason TEXT] | resume NAME | set-limit NAME LIMIT VALUE|--default |
//! limits NAME`.

use ferrite_core::eab::{CustomerView, Registry};

use super::{operator_error, print_json, table};
use ferrite_app::Config;

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
        .map(|c| {
            vec![
                c.name.clone(),
                c.id.clone(),
                table::time(c.created_at),
                profiles_text(c.allowed_profiles.as_deref()),
                status_text(c),
            ]
        })
        .collect();
    table::print(&["NAME", "ID", "CREATED", "PROFILES", "STATUS"], &rows);
    Ok(())
}

/// `active`, or `suspended since TIME (REASON)`.
fn status_text(c: &CustomerView) -> String {
    match (c.suspended_at, &c.suspended_reason) {
        (None, _) => c.status.to_owned(),
        (Some(at), None) => format!("{} since {}", c.status, table::time(at)),
        (Some(at), Some(reason)) => {
            format!("{} since {} ({reason})", c.status, table::time(at))
        }
    }
}

pub(super) async fn suspend(
    registry: &Registry,
    config: &Config,
    name: &str,
    reason: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let customer = registry
        .suspend_customer(name, reason)
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&customer);
    }
    let contact = config.customers.suspended_contact.trim();
    println!(
        "Suspended customer {}: its ACME accounts get `unauthorized`, its MAC keys bind no accounts and its API credentials are refused, each told to contact {}. Lift it with `ferrite customer resume {}`.",
        customer.name,
        if contact.is_empty() {
            "the operator (set [customers] suspended_contact to name whom)"
        } else {
            contact
        },
        customer.name
    );
    Ok(())
}

pub(super) async fn resume(registry: &Registry, name: &str, json: bool) -> anyhow::Result<()> {
    let customer = registry
        .resume_customer(name)
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&customer);
    }
    println!(
        "Customer {} is active: its ACME accounts, MAC keys and API credentials work again.",
        customer.name
    );
    Ok(())
}

/// The profiles a customer may order, for a table: `all`, or the names.
fn profiles_text(allowed: Option<&[String]>) -> String {
    match allowed {
        None => "all".to_owned(),
        Some([]) => "none".to_owned(),
        Some(names) => names.join(","),
    }
}

pub(super) async fn set_profiles(
    registry: &Registry,
    config: &Config,
    name: &str,
    profiles: Option<Vec<String>>,
    json: bool,
) -> anyhow::Result<()> {
    let offered = config.offered_profiles()?;
    let customer = registry
        .set_offered_customer_profiles(name, profiles, &offered)
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&customer);
    }
    println!(
        "Customer {} may order profiles: {}",
        customer.name,
        profiles_text(customer.allowed_profiles.as_deref())
    );
    Ok(())
}

pub(super) async fn set_limit(
    registry: &Registry,
    config: &Config,
    name: &str,
    limit: &str,
    value: Option<u32>,
    json: bool,
) -> anyhow::Result<()> {
    let customer = registry
        .set_rate_limit(name, limit, value)
        .await
        .map_err(operator_error)?;
    let limits = registry
        .customer_rate_limits(&customer.name, &config.rate_limits)
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&limits);
    }
    if let Some(shown) = limits.iter().find(|l| l.limit == limit) {
        println!(
            "Customer {}: {} is {} ({}), effective at once on every instance.",
            customer.name,
            shown.limit,
            shown.describe,
            match shown.override_value {
                Some(_) => "its own value; back to the configured one with --default",
                None => "the configured value",
            }
        );
    }
    Ok(())
}

pub(super) async fn limits(
    registry: &Registry,
    config: &Config,
    name: &str,
    json: bool,
) -> anyhow::Result<()> {
    let limits = registry
        .customer_rate_limits(name, &config.rate_limits)
        .await
        .map_err(operator_error)?;
    if json {
        return print_json(&limits);
    }
    let rows: Vec<Vec<String>> = limits
        .iter()
        .map(|l| {
            vec![
                l.limit.to_owned(),
                l.configured.to_string(),
                match (l.per_customer, l.override_value) {
                    (false, _) => "n/a".to_owned(),
                    (true, None) => "-".to_owned(),
                    (true, Some(v)) => v.to_string(),
                },
                l.describe.clone(),
            ]
        })
        .collect();
    table::print(&["LIMIT", "CONFIGURED", "CUSTOMER", "IN FORCE"], &rows);
    Ok(())
}
