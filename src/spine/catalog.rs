//! Where `decide` finds surfaces: a read-only, in-memory lookup (no I/O).

use crate::surface::Surface;
use crate::surface::ast::Status;

/// A read-only set of compiled surfaces. The registry implements it; so does a single
/// [`Surface`] (handy in tests and benches).
pub trait Catalog {
    /// The highest version of `slug`, whatever its status.
    fn latest(&self, slug: &str) -> Option<&Surface>;
    /// The highest `active` version of `slug`: what new requests are submitted under.
    fn latest_active(&self, slug: &str) -> Option<&Surface>;
    /// Exactly `slug@version`: what a pinned case is judged by.
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface>;
}

impl Catalog for Surface {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        (self.slug() == slug).then_some(self)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        (self.slug() == slug && self.status() == Status::Active).then_some(self)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        (self.slug() == slug && self.version() == version).then_some(self)
    }
}

impl<T: Catalog + ?Sized> Catalog for &T {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        (**self).latest(slug)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        (**self).latest_active(slug)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        (**self).exact(slug, version)
    }
}

impl<T: Catalog + ?Sized> Catalog for std::sync::Arc<T> {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        (**self).latest(slug)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        (**self).latest_active(slug)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        (**self).exact(slug, version)
    }
}

/// A plain list of surfaces is a catalog too (what tests and small hosts use).
impl Catalog for [Surface] {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        self.iter()
            .filter(|s| s.slug() == slug)
            .max_by_key(|s| s.version())
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        self.iter()
            .filter(|s| s.slug() == slug && s.status() == Status::Active)
            .max_by_key(|s| s.version())
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        self.iter()
            .find(|s| s.slug() == slug && s.version() == version)
    }
}

impl Catalog for Vec<Surface> {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        self.as_slice().latest(slug)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        self.as_slice().latest_active(slug)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        self.as_slice().exact(slug, version)
    }
}
