//! [`Policy`]: how the two reference services share their database — roles, schemas, timeouts,
//! connection limits and how the migration waits for its lock. `naive` and `hardened` are two
//! policies; the suite's tests run other, plausibly buggy ones.

use std::time::Duration;

/// Where a `lock_timeout` for the migration is set, if anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockTimeout {
    /// None: the migration waits for its lock as long as it takes (PostgreSQL's default).
    Never,
    /// The migration's own session sets it (`SET lock_timeout`) before its DDL.
    InMigration(Duration),
    /// Set on the app role (`ALTER ROLE … SET lock_timeout`), while the migration runs as the
    /// owner role: it never applies to the DDL.
    OnAppRole(Duration),
}

/// How the reference services share one PostgreSQL database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A role and a schema per service (`orders_owner` owns schema `orders` and migrates it,
    /// `orders_app` writes, `reporting` reads); otherwise one role `app` for everything, in
    /// `public`.
    pub roles_per_service: bool,
    /// `statement_timeout` on the roles the services' queries run as (not the owner's).
    pub statement_timeout: Option<Duration>,
    /// The migration's `lock_timeout`.
    pub lock_timeout: LockTimeout,
    /// Whether the migration retries, with backoff, after its lock wait timed out (for up to
    /// [`Policy::RETRY_FOR`]); without, it gives up at the first timeout.
    pub retry_migration: bool,
    /// `CONNECTION LIMIT` of the role that writes orders (`None`: only `max_connections`).
    pub orders_connection_limit: Option<u32>,
    /// The migration's index built with `CREATE INDEX CONCURRENTLY` (no lock that blocks
    /// writes), else with a plain `CREATE INDEX`.
    pub concurrent_index: bool,
    /// `reporting` keeps this many connections open from its start and reads on them (a pool
    /// of its own, reserved before anyone floods the server); `None`: it opens a connection per
    /// report, as a pool that grows under load does.
    pub reporting_pool: Option<usize>,
}

impl Policy {
    /// How long a retrying migration keeps trying.
    pub const RETRY_FOR: Duration = Duration::from_secs(20);

    /// One role for everyone, one schema, no timeouts, no connection limits.
    pub fn naive() -> Self {
        Policy {
            roles_per_service: false,
            statement_timeout: None,
            lock_timeout: LockTimeout::Never,
            retry_migration: false,
            orders_connection_limit: None,
            concurrent_index: false,
            reporting_pool: None,
        }
    }

    /// A role and schema per service, `statement_timeout` of 1 s on the services' roles, the
    /// migration's session with a `lock_timeout` of 200 ms and retries with backoff, `orders`
    /// limited to 10 connections, the index built concurrently.
    pub fn hardened() -> Self {
        Policy {
            roles_per_service: true,
            statement_timeout: Some(Duration::from_secs(1)),
            lock_timeout: LockTimeout::InMigration(Duration::from_millis(200)),
            retry_migration: true,
            orders_connection_limit: Some(10),
            concurrent_index: true,
            reporting_pool: None,
        }
    }

    /// The orders table, schema-qualified.
    pub fn table(&self) -> &'static str {
        if self.roles_per_service {
            "orders.orders"
        } else {
            "public.orders"
        }
    }

    /// The role `orders` writes as (the one its events run as).
    pub fn orders_role(&self) -> &'static str {
        if self.roles_per_service {
            "orders_app"
        } else {
            "app"
        }
    }

    /// The role the migration runs as.
    pub fn migration_role(&self) -> &'static str {
        if self.roles_per_service {
            "orders_owner"
        } else {
            "app"
        }
    }

    /// The role `reporting` reads as.
    pub fn reporting_role(&self) -> &'static str {
        if self.roles_per_service {
            "reporting"
        } else {
            "app"
        }
    }

    /// The migration's `lock_timeout` in its own session, if any.
    pub fn migration_lock_timeout(&self) -> Option<Duration> {
        match self.lock_timeout {
            LockTimeout::InMigration(d) => Some(d),
            LockTimeout::Never | LockTimeout::OnAppRole(_) => None,
        }
    }

    /// The SQL, run as the superuser on a fresh database, that sets up roles, schemas, the
    /// orders table (with `rows` orders of its past, for the scans) and the role settings.
    pub fn setup_sql(&self, rows: u64) -> String {
        let table = self.table();
        let mut sql = String::new();
        let role = |name: &str, limit: Option<u32>| {
            let limit = limit.map_or(String::new(), |n| format!(" CONNECTION LIMIT {n}"));
            format!("CREATE ROLE {name} LOGIN{limit};\n")
        };
        if self.roles_per_service {
            sql += &role("orders_owner", None);
            sql += &role("orders_app", self.orders_connection_limit);
            sql += &role("reporting", None);
            sql += "CREATE SCHEMA orders AUTHORIZATION orders_owner;\n";
            sql += "CREATE SCHEMA reporting AUTHORIZATION reporting;\n";
        } else {
            sql += &role("app", self.orders_connection_limit);
            sql += "GRANT ALL ON SCHEMA public TO app;\n";
        }
        sql += &format!(
            "CREATE TABLE {table} (id text PRIMARY KEY, customer text NOT NULL, \
             amount_cents bigint NOT NULL);\n\
             INSERT INTO {table} SELECT 'past-' || n, 'past-customer-' || (n % 500), n % 10000 \
             FROM generate_series(1, {rows}) AS n;\n\
             ALTER TABLE {table} OWNER TO {};\n",
            self.migration_role()
        );
        if self.roles_per_service {
            sql += &format!(
                "GRANT USAGE ON SCHEMA orders TO orders_app, reporting;\n\
                 GRANT SELECT, INSERT ON {table} TO orders_app;\n\
                 GRANT SELECT ON {table} TO reporting;\n"
            );
        }
        let mut settings: Vec<(&str, String)> = Vec::new();
        if let Some(t) = self.statement_timeout {
            let ms = t.as_millis();
            settings.push((self.orders_role(), format!("statement_timeout = '{ms}ms'")));
            if self.reporting_role() != self.orders_role() {
                settings.push((
                    self.reporting_role(),
                    format!("statement_timeout = '{ms}ms'"),
                ));
            }
        }
        if let LockTimeout::OnAppRole(t) = self.lock_timeout {
            let ms = t.as_millis();
            settings.push((self.orders_role(), format!("lock_timeout = '{ms}ms'")));
        }
        for (role, setting) in settings {
            sql += &format!("ALTER ROLE {role} SET {setting};\n");
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_shares_one_role_and_hardened_sets_roles_limits_and_timeouts() {
        let naive = Policy::naive().setup_sql(10);
        assert!(naive.contains("CREATE ROLE app LOGIN;"), "{naive}");
        assert!(naive.contains("CREATE TABLE public.orders"), "{naive}");
        assert!(!naive.contains("ALTER ROLE"), "{naive}");
        let hardened = Policy::hardened().setup_sql(10);
        for part in [
            "CREATE ROLE orders_app LOGIN CONNECTION LIMIT 10;",
            "CREATE SCHEMA orders AUTHORIZATION orders_owner;",
            "ALTER TABLE orders.orders OWNER TO orders_owner;",
            "GRANT SELECT ON orders.orders TO reporting;",
            "ALTER ROLE orders_app SET statement_timeout = '1000ms';",
            "ALTER ROLE reporting SET statement_timeout = '1000ms';",
        ] {
            assert!(hardened.contains(part), "{part} missing from {hardened}");
        }
        assert!(
            !hardened.contains("lock_timeout"),
            "set in the migration's session"
        );
        let on_role = Policy {
            lock_timeout: LockTimeout::OnAppRole(Duration::from_millis(200)),
            ..Policy::hardened()
        };
        assert!(on_role
            .setup_sql(10)
            .contains("ALTER ROLE orders_app SET lock_timeout = '200ms';"));
        assert_eq!(on_role.migration_lock_timeout(), None);
        assert_eq!(
            Policy::hardened().migration_lock_timeout(),
            Some(Duration::from_millis(200))
        );
    }
}
