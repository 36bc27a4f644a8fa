//! The primary's corroboration settings (`[mpic]` in `ferrite.toml`) and their checks.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Whether validations are corroborated, and whether the quorum decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MpicMode {
    /// Validate from the primary only.
    #[default]
    Off,
    /// Ask every perspective and log what each saw, but decide by the primary's result alone:
    /// the rollout step before `enforce`.
    Log,
    /// Issue only when the primary passes and the BR §3.2.2.9 quorum of remote perspectives
    /// corroborates it.
    Enforce,
}

/// One remote perspective as the primary knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerspectiveConfig {
    /// The id it was enrolled with (`ferrite va-agent enroll --id`).
    pub id: String,
    /// Its region (a distinct one per perspective).
    pub region: String,
    /// Its base URL, `https://HOST:PORT`.
    pub url: String,
}

/// Checks the perspectives: ids made of letters, digits, `.`, `_`, `-`; ids and regions
/// distinct (BR §3.2.2.9: the perspectives must not share a region); `https://` URLs.
/// `mode` other than off needs at least one perspective.
pub fn check_perspectives(
    mode: MpicMode,
    perspectives: &[PerspectiveConfig],
    timeout: Duration,
) -> Result<(), String> {
    if mode != MpicMode::Off && perspectives.is_empty() {
        return Err(format!(
            "mpic.mode = \"{}\" needs remote perspectives: add [[mpic.perspectives]] entries {{ id, region, url }} (enroll each with `ferrite va-agent enroll`), or set mpic.mode = \"off\"",
            mode.as_str()
        ));
    }
    if timeout.is_zero() || timeout > Duration::from_secs(60) {
        return Err(
            "mpic.timeout_ms must be between 1 and 60000 (the whole of one corroboration)"
                .to_owned(),
        );
    }
    for (i, p) in perspectives.iter().enumerate() {
        if !is_perspective_id(&p.id) {
            return Err(format!(
                "mpic.perspectives: id {:?} must be 1 to 64 letters, digits, '.', '_' or '-'",
                p.id
            ));
        }
        if p.region.trim().is_empty() {
            return Err(format!(
                "mpic.perspectives: {} has no region; name the region it runs in (e.g. \"eu-west\")",
                p.id
            ));
        }
        let url = url::Url::parse(&p.url).ok();
        if !url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https" && u.host().is_some())
        {
            return Err(format!(
                "mpic.perspectives: {} url {:?} must be an https://HOST:PORT URL (agents serve mutual TLS only)",
                p.id, p.url
            ));
        }
        for q in &perspectives[..i] {
            if q.id == p.id {
                return Err(format!(
                    "mpic.perspectives: id {:?} appears twice; every perspective has its own id",
                    p.id
                ));
            }
            if q.region.trim().eq_ignore_ascii_case(p.region.trim()) {
                return Err(format!(
                    "mpic.perspectives: {} and {} are both in region {:?}; the Baseline Requirements (§3.2.2.9) count perspectives in distinct regions only: run each in another region",
                    q.id, p.id, p.region
                ));
            }
        }
    }
    Ok(())
}

/// A perspective id: 1 to 64 of letters, digits, `.`, `_`, `-` (it names a file).
pub fn is_perspective_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl MpicMode {
    /// As written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            MpicMode::Off => "off",
            MpicMode::Log => "log",
            MpicMode::Enforce => "enforce",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, region: &str) -> PerspectiveConfig {
        PerspectiveConfig {
            id: id.into(),
            region: region.into(),
            url: "https://127.0.0.1:9443".into(),
        }
    }

    const T: Duration = Duration::from_secs(5);

    #[test]
    fn distinct_regions_are_required() {
        assert!(check_perspectives(MpicMode::Enforce, &[p("a", "eu"), p("b", "us")], T).is_ok());
        let err =
            check_perspectives(MpicMode::Enforce, &[p("a", "eu"), p("b", "EU")], T).unwrap_err();
        assert!(err.contains("both in region"), "{err}");
    }

    #[test]
    fn ids_are_distinct_and_file_safe() {
        let err = check_perspectives(MpicMode::Log, &[p("a", "eu"), p("a", "us")], T).unwrap_err();
        assert!(err.contains("appears twice"), "{err}");
        for bad in ["", "../x", ".hidden", "a b"] {
            assert!(
                check_perspectives(MpicMode::Log, &[p(bad, "eu")], T).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn urls_must_be_https_and_modes_need_perspectives() {
        let mut http = p("a", "eu");
        http.url = "http://127.0.0.1:1".into();
        assert!(check_perspectives(MpicMode::Enforce, &[http], T).is_err());
        assert!(check_perspectives(MpicMode::Enforce, &[], T).is_err());
        assert!(check_perspectives(MpicMode::Off, &[], T).is_ok());
        assert!(check_perspectives(MpicMode::Off, &[], Duration::ZERO).is_err());
    }
}
