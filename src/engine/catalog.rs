//! The registry as the spine's [`Catalog`]: how `decide` finds surfaces through the engine.
//!
//! The registry keeps surfaces ordered by `(slug, version)`; these lookups walk that order and
//! hand out borrowed surfaces. Nothing here changes the registry or does I/O.

use crate::spine::Catalog;
use crate::surface::Surface;
use crate::surface::ast::Status;
use crate::surface::registry::Registry;

impl Catalog for Registry {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        self.iter()
            .filter(|s| s.slug() == slug)
            .last()
            .map(AsRef::as_ref)
    }

    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        self.iter()
            .filter(|s| s.slug() == slug && s.status() == Status::Active)
            .last()
            .map(AsRef::as_ref)
    }

    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        self.iter()
            .find(|s| s.slug() == slug && s.version() == version)
            .map(AsRef::as_ref)
    }
}

/// The surface a case is pinned to, only if it is registered with the pinned fingerprint.
pub(crate) fn pinned<'a>(
    registry: &'a Registry,
    pin: &crate::spine::SurfacePin,
) -> Option<&'a Surface> {
    registry
        .exact(&pin.slug, pin.version)
        .filter(|s| s.fingerprint_matches(&pin.fingerprint))
}
