//! Time-zone names, checked before they reach a container or SQL.

use crate::error::{Error, Result};

/// Checks that `zone` looks like an IANA time-zone name (`Area/City`, `UTC`, `Etc/GMT+5`).
pub fn validate_zone(zone: &str) -> Result<()> {
    let ok = !zone.is_empty()
        && zone.len() <= 64
        && !zone.starts_with('/')
        && !zone.contains("..")
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "time zone",
            detail: format!(
                "`{zone}` is not an IANA time-zone name (like `Europe/Berlin`, `UTC` or `Etc/GMT+5`)"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_pass_and_anything_else_is_refused() {
        for ok in [
            "UTC",
            "Europe/Berlin",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
        ] {
            assert!(validate_zone(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "Europe/Berlin'; DROP", "a b"] {
            assert!(validate_zone(bad).is_err(), "{bad}");
        }
    }
}
