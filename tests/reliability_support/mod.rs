//! Helpers shared by the reliability, race, crash and PostgreSQL tests.
#![allow(dead_code, reason = "each test binary uses a different subset")]

/// The PostgreSQL URL from `PLANCK_PG_URL`, or `None` after printing a loud SKIPPED line
/// (the tests then return without failing: no server is configured here).
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("PLANCK_PG_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            let line = format!(
                "SKIPPED: PLANCK_PG_URL not set — PostgreSQL tests did not run ({test}); start a server with `eval \"$(bash scripts/ci_postgres.sh start)\"`"
            );
            eprintln!(
                "\n{}\n{line}\n{}\n",
                "!".repeat(line.len().min(120)),
                "!".repeat(line.len().min(120))
            );
            println!("{line}");
            None
        }
    }
}

/// A schema name no other test (in this process or another) uses.
pub fn unique_schema(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    use std::hash::{BuildHasher, Hasher};
    // A random salt (the std hasher is randomly keyed), so reused pids never collide.
    let salt = std::collections::hash_map::RandomState::new().build_hasher().finish() % 1_000_000;
    format!("planck_t_{tag}_{}_{}_{salt}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

#[cfg(feature = "postgres")]
pub mod pg {
    use planck::host::{PostgresOptions, PostgresStore};

    /// A store on a schema of its own, dropped (with everything in it) when the guard goes.
    pub struct Scratch {
        pub url: String,
        pub schema: String,
        pub store: PostgresStore,
    }

    impl Scratch {
        pub fn new(url: &str, tag: &str) -> Scratch {
            let schema = super::unique_schema(tag);
            let store = open(url, &schema);
            Scratch {
                url: url.to_string(),
                schema,
                store,
            }
        }

        /// Another handle (another pool of connections) on the same schema.
        pub fn reopen(&self) -> PostgresStore {
            open(&self.url, &self.schema)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            if let Err(e) = self.store.drop_schema() {
                eprintln!("could not drop schema {}: {e}", self.schema);
            }
        }
    }

    pub fn open(url: &str, schema: &str) -> PostgresStore {
        PostgresStore::connect_with(
            url,
            PostgresOptions {
                schema: schema.to_string(),
                ..PostgresOptions::default()
            },
        )
        .unwrap_or_else(|e| {
            panic!(
                "connecting to {url} (schema {schema}): {e} ({:?})",
                std::error::Error::source(&e)
            )
        })
    }
}
