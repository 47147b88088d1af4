//! Binding the broker's optional HTTP listeners (`--metrics-listen`, `--console-listen`,
//! `--schema-registry-listen`, `--rest-proxy-listen`): `off` binds nothing; an address given
//! explicitly must be free (else the start fails with a clear error); the default address may
//! be taken (another broker on the machine, a dev server on 8080): the listener is skipped
//! with a warning that names the flag, and the broker starts all the same.

use tokio::net::TcpListener;

/// One optional listener's setting.
#[derive(Debug, Clone)]
pub struct ListenSpec {
    /// The command-line flag, for messages (`--console-listen`).
    pub flag: &'static str,
    /// What it serves, for messages (`the console`).
    pub what: &'static str,
    /// The value given on the command line, if any.
    pub given: Option<String>,
    /// The default address.
    pub default: &'static str,
}

impl ListenSpec {
    /// Bind per the rules above: Ok(None) when off or when the default address is taken.
    pub async fn bind(&self) -> anyhow::Result<Option<TcpListener>> {
        let (addr, explicit) = match &self.given {
            Some(v) if v.trim().eq_ignore_ascii_case("off") => return Ok(None),
            Some(v) => (v.trim().to_string(), true),
            None => (self.default.to_string(), false),
        };
        match TcpListener::bind(&addr).await {
            Ok(l) => Ok(Some(l)),
            Err(e) if explicit => Err(anyhow::anyhow!(
                "cannot listen for {} on {addr}: {e}",
                self.what
            )),
            Err(e) => {
                tracing::warn!(
                    "{} not served: cannot listen on {addr}: {e} (choose a port with {} HOST:PORT, or {} off)",
                    self.what,
                    self.flag,
                    self.flag
                );
                Ok(None)
            }
        }
    }
}
