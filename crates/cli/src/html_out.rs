//! `--html FILE`: writing a command's HTML report (built with `fabricsim::html`).
//!
//! A command builds a [`Page`] from its typed result and calls [`write`]; the page's layout,
//! charts and script are the library's (`crates/fabricsim/src/html/`).

use crate::UserError;
use fabricsim::html::Page;

/// Write `page` to `path`, the value of the command's `--html` flag. An unwritable path is a
/// user error (exit 2) naming the flag and the file.
pub fn write(path: &str, page: &Page) -> Result<(), UserError> {
    std::fs::write(path, page.render()).map_err(|e| UserError(format!("--html: cannot write `{path}`: {e}")))
}
