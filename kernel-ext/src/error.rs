//! The one error type of the notebook API.
//!
//! Its text is the library's whole message — what was being done, then each cause on its own line — because
//! evcxr prints a `?` failure with `{}`. Every message starts with `esmdb error:`, which also lets the headless
//! notebook test find failures that evcxr reports as ordinary stderr output.
use std::fmt;

/// An error of the notebook API.
pub struct Error(String);

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

const PREFIX: &str = "esmdb error: ";

impl Error {
    /// An error with `message` (prefixed with `esmdb error:` unless it already is).
    pub fn msg(message: impl Into<String>) -> Self {
        let message = message.into();
        if message.starts_with(PREFIX) { Error(message) } else { Error(format!("{PREFIX}{message}")) }
    }

    /// The message without the `esmdb error:` prefix.
    pub fn message(&self) -> &str {
        self.0.strip_prefix(PREFIX).unwrap_or(&self.0)
    }
}

impl From<crate::wire::WireError> for Error {
    fn from(e: crate::wire::WireError) -> Self {
        Error::msg(e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_once() {
        assert_eq!(Error::msg("x").to_string(), "esmdb error: x");
        assert_eq!(Error::msg("esmdb error: y").to_string(), "esmdb error: y");
        assert_eq!(Error::msg("z").message(), "z");
    }
}
