//! Suspended customers: what their clients and credentials are told.
//!
//! A customer the operator suspended (`ferrite customer suspend`) keeps its accounts, keys and
//! certificates, but every ACME request signed by one of its accounts, every new binding
//! through its MAC keys and every admin API request with its credentials is refused with
//! `unauthorized` (403) until it is resumed. The detail names the customer and whom to
//! contact ([`EabSettings::suspended_contact`]); the operator's reason stays with the
//! operator.

use ferrite_proto::{Problem, ProblemType};

use super::EabSettings;
use crate::CoreError;
use crate::model::Customer;

/// Whom the detail names when no contact is configured.
const DEFAULT_CONTACT: &str = "the operator of this certificate authority";

/// The `unauthorized` (403) refusal for anything done on behalf of suspended customer `name`.
pub(crate) fn suspended_problem(name: &str, settings: &EabSettings) -> CoreError {
    let contact = settings
        .suspended_contact
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or(DEFAULT_CONTACT);
    let mut problem = Problem::new(
        ProblemType::Unauthorized,
        format!(
            "customer {name:?} is suspended: its ACME accounts, MAC keys and API credentials cannot be used until the suspension is lifted; contact {contact}"
        ),
    );
    problem.status = Some(403);
    CoreError::from(problem)
}

/// `Ok` unless `customer` is suspended.
pub(crate) fn check_in_service(
    customer: &Customer,
    settings: &EabSettings,
) -> Result<(), CoreError> {
    match customer.suspension {
        Some(_) => Err(suspended_problem(&customer.name, settings)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Suspension;

    fn customer(suspended: bool) -> Customer {
        Customer {
            id: "c1".into(),
            name: "acme-corp".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            allowed_profiles: None,
            suspension: suspended.then(|| Suspension {
                at: time::OffsetDateTime::UNIX_EPOCH,
                reason: Some("internal note: invoice 42".into()),
            }),
        }
    }

    #[test]
    fn a_suspended_customer_is_refused_naming_the_contact_and_not_the_reason() {
        let mut settings = EabSettings::default();
        assert!(check_in_service(&customer(false), &settings).is_ok());

        let p = check_in_service(&customer(true), &settings)
            .unwrap_err()
            .to_problem();
        assert_eq!(p.kind, ProblemType::Unauthorized);
        assert_eq!(p.status, Some(403));
        assert!(
            p.detail.contains("\"acme-corp\" is suspended"),
            "{}",
            p.detail
        );
        assert!(p.detail.ends_with(DEFAULT_CONTACT), "{}", p.detail);
        assert!(!p.detail.contains("invoice"), "{}", p.detail);

        settings.suspended_contact = Some(" billing@ca.example ".into());
        let p = check_in_service(&customer(true), &settings)
            .unwrap_err()
            .to_problem();
        assert!(
            p.detail.ends_with("contact billing@ca.example"),
            "{}",
            p.detail
        );
        // Blank: the default.
        settings.suspended_contact = Some("  ".into());
        let p = suspended_problem("x", &settings).to_problem();
        assert!(p.detail.ends_with(DEFAULT_CONTACT), "{}", p.detail);
    }
}
