//! nats-server's configuration file format (`-c FILE`), read into a [`Config`].
//!
//! Three steps, one file each: [`lexer`] turns text into tokens with line and column;
//! [`parser`] builds a tree of values, reading `include`s and resolving `$VARIABLE`s;
//! [`mapping`] applies the keys ringmq knows to a [`Config`] (the `leafnodes`, `cluster` and
//! `websocket` blocks in files of their own). Problems come back as
//! [`Diagnostic`]s naming file, line and column: errors stop start-up, warnings do not.
//!
//! Security settings ringmq does not implement yet (`authorization`, `tls`, ...) are
//! errors, never ignored: running without the authentication a file asks for would be a
//! hole. Other unknown keys are warnings.

mod cluster;
mod jetstream;
pub use cluster::{route_url, RouteUrl};
mod leafnodes;
pub mod lexer;
pub mod mapping;
pub mod parser;
mod websocket;

use crate::config::Config;
use std::path::Path;
use std::sync::Arc;

/// Where something was written: file, line and column (1-based, columns in characters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    pub file: Arc<Path>,
    pub line: u32,
    pub column: u32,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem found in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// `None` when there is no position to give (the file itself cannot be read).
    pub pos: Option<Pos>,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.pos {
            Some(pos) => write!(f, "{pos}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Everything reading a config file found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Any error means the file must not be used.
    pub errors: Vec<Diagnostic>,
    /// Ignored keys and discouraged forms; start-up goes on.
    pub warnings: Vec<Diagnostic>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Reads the config file at `path` into `config` (which holds the defaults, or whatever
/// should apply where the file says nothing). `$NAME` falls back to the process
/// environment.
pub fn load(path: &Path, config: &mut Config) -> Report {
    let env = |name: &str| std::env::var(name).ok();
    load_with_env(path, config, &env)
}

/// [`load`] with another environment, for tests.
pub fn load_with_env(path: &Path, config: &mut Config, env: parser::EnvLookup<'_>) -> Report {
    config.config_file = Some(path.to_path_buf());
    match parser::parse_file(path, env) {
        Ok(root) => mapping::apply(&root, config),
        Err(error) => Report {
            errors: vec![error],
            warnings: Vec::new(),
        },
    }
}
