//! `HOST:PORT` as users write it (also `df://HOST:PORT`, Ballista's form, and `http://…`).
use std::net::{SocketAddr, ToSocketAddrs};

use crate::error::{Error, Result};

/// A host and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Host name or IP.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl Address {
    /// Parses `value` (from `flag`, named in errors).
    pub fn parse(flag: &'static str, value: &str) -> Result<Self> {
        let bad = |message: &str| Error::Address { flag, value: value.to_owned(), message: message.to_owned() };
        let rest = ["df://", "http://", "grpc://"].iter().find_map(|p| value.strip_prefix(p)).unwrap_or(value);
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("expected HOST:PORT"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("expected HOST:PORT (the host is empty)"));
        }
        let port = port.parse::<u16>().map_err(|_| bad("the port must be a number from 0 to 65535"))?;
        Ok(Address { host: host.to_owned(), port })
    }

    /// The first socket address the host resolves to.
    pub fn resolve(&self, flag: &'static str) -> Result<SocketAddr> {
        let resolved = (self.host.as_str(), self.port).to_socket_addrs().map_err(|e| Error::Address {
            flag,
            value: self.to_string(),
            message: format!("cannot resolve the host: {e}"),
        })?;
        resolved.into_iter().next().ok_or_else(|| Error::Address {
            flag,
            value: self.to_string(),
            message: "the host resolves to no address".into(),
        })
    }

    /// `http://host:port`, as Ballista's gRPC clients want it.
    pub fn url(&self) -> String {
        format!("http://{self}")
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_in_every_spelling_and_bad_ones_say_why() {
        for s in ["127.0.0.1:50050", "df://127.0.0.1:50050", "http://127.0.0.1:50050/"] {
            assert_eq!(Address::parse("--cluster", s).ok(), Some(Address { host: "127.0.0.1".into(), port: 50050 }));
        }
        assert_eq!(Address::parse("--cluster", "[::1]:7").map(|a| a.to_string()).ok(), Some("[::1]:7".into()));
        for (s, why) in [("localhost", "HOST:PORT"), (":50050", "host is empty"), ("h:99999", "0 to 65535")] {
            let e = Address::parse("--cluster", s).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(e.contains("--cluster") && e.contains(s) && e.contains(why), "{s}: {e}");
        }
    }
}
