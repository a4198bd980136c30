//! Nothing but tests: `tests/pages.rs` drives each server's index page in headless Chromium
//! (Debian's `chromium` and `chromium-driver`, installed by `scripts/setup`).
